package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	url := newServer(t)
	tests := []struct {
		name string
		args []string
		code int
		err  string // a fragment of stderr
	}{
		{name: "nothing", args: nil, code: 2, err: "usage:"},
		{name: "unknown command", args: []string{"clusters"}, code: 2, err: `unknown command "clusters"`},
		{name: "missing subcommand", args: []string{"user"}, code: 2, err: "missing subcommand"},
		{name: "unknown subcommand", args: []string{"cluster", "delete", "A"}, code: 2, err: `unknown subcommand "delete"`},
		{name: "missing argument", args: []string{"cluster", "get"}, code: 2, err: "takes CODE"},
		{name: "extra argument", args: []string{"user", "bind", "A", "alice", "bob"}, code: 2, err: "takes CODE USER"},
		{name: "unknown flag", args: []string{"cluster", "list", "--verbose"}, code: 2, err: "verbose"},
		// --manager means nothing for clusters; accepting it silently would mislead.
		{name: "manager on a cluster command", args: []string{"cluster", "list", "--manager"}, code: 2, err: "manager"},
		{name: "put without required flags", args: []string{"cluster", "put", "A", "--name", "x"}, code: 2, err: "--sso-url"},
		{name: "bad admin url", args: []string{"cluster", "list", "--admin-url", "localhost:9001"}, code: 2, err: "--admin-url"},
		{name: "flag without value", args: []string{"cluster", "list", "--admin-url"}, code: 2, err: "admin-url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run(t, url, tc.args...).exit(t, tc.code).hasErr(t, tc.err)
		})
	}
	run(t, url, "help").ok(t).has(t, "ssogate user import CODE FILE")
	run(t, url, "user", "bind", "-h").ok(t).has(t, "usage:")
}

func TestClusterCommands(t *testing.T) {
	url := newServer(t)
	run(t, url, "cluster", "list").ok(t).has(t, "no clusters")

	// Flags before and after the positional argument.
	run(t, url, "cluster", "put", "--name", "测试用", "test0525",
		"--sso-url", "http://sso.test/sso", "--server-url=http://api.test/server").
		ok(t).has(t, "created cluster TEST0525", "测试用", "enabled:    yes")
	run(t, url, "cluster", "put", "TEST0525", "--name", "renamed", "--sso-url", "http://sso.test/sso",
		"--server-url", "http://api.test/server", "--token-url", "http://sso.test/t", "--disabled").
		ok(t).has(t, "updated cluster TEST0525", "enabled:    no", "token_url:  http://sso.test/t")
	putCluster(t, url, "BJEDU")

	run(t, url, "cluster", "get", "test0525").ok(t).
		has(t, "code:       TEST0525", "name:       renamed", "sso_url:    http://sso.test/sso",
			"server_url: http://api.test/server", "enabled:    no")
	list := run(t, url, "cluster", "list").ok(t).has(t, "CODE", "BJEDU", "TEST0525", "http://sso.test/t")
	if lines := strings.Split(strings.TrimSpace(list.stdout), "\n"); len(lines) != 3 {
		t.Errorf("list has %d lines, want header + 2:\n%s", len(lines), list.stdout)
	}

	// Validation errors come back from the API with its message.
	run(t, url, "cluster", "put", "X", "--name", "x", "--sso-url", "ftp://nope", "--server-url", "http://a").
		exit(t, 1).hasErr(t, "sso_url", "HTTP 400")
	run(t, url, "cluster", "get", "bad!code").exit(t, 1).hasErr(t, "HTTP 400")

	run(t, url, "cluster", "rm", "TEST0525").ok(t).has(t, "removed cluster TEST0525")
	run(t, url, "cluster", "get", "TEST0525").exit(t, 1).hasErr(t, "unknown cluster TEST0525", "HTTP 404")
	run(t, url, "cluster", "rm", "TEST0525").exit(t, 1).hasErr(t, "HTTP 404")
}

func TestGlobalFlagsAndAuth(t *testing.T) {
	url := newServer(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		err  string
	}{
		{name: "token and url from the environment", env: map[string]string{EnvAdminURL: url, EnvAdminToken: testToken},
			args: []string{"cluster", "list"}, code: 0},
		{name: "flags instead of the environment", env: nil,
			args: []string{"cluster", "list", "--admin-url", url + "/", "--admin-token", testToken}, code: 0},
		{name: "flag wins over the environment", env: map[string]string{EnvAdminURL: url, EnvAdminToken: "wrong"},
			args: []string{"cluster", "list", "--admin-token=" + testToken}, code: 0},
		{name: "wrong token", env: map[string]string{EnvAdminURL: url, EnvAdminToken: "wrong"},
			args: []string{"cluster", "list"}, code: 1, err: "invalid admin token"},
		{name: "no token", env: map[string]string{EnvAdminURL: url},
			args: []string{"cluster", "list"}, code: 1, err: EnvAdminToken},
		{name: "unreachable API", env: map[string]string{EnvAdminURL: "http://127.0.0.1:1", EnvAdminToken: testToken},
			args: []string{"cluster", "list"}, code: 1, err: "calling the admin API"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runEnv(t, tc.env, tc.args...).exit(t, tc.code).hasErr(t, tc.err)
			if strings.Contains(r.stderr+r.stdout, testToken) {
				t.Errorf("the token is printed:\n%s%s", r.stdout, r.stderr)
			}
		})
	}
}

func TestUserCommands(t *testing.T) {
	url := newServer(t)
	putCluster(t, url, "A")
	putCluster(t, url, "B")

	run(t, url, "user", "bind", "a", "alice").ok(t).has(t, "bound alice to A (user namespace)")
	// Operators put --manager last as often as first.
	run(t, url, "user", "bind", "B", "alice", "--manager").ok(t).has(t, "bound alice to B (manager namespace)")
	run(t, url, "user", "bind", "--manager", "A", "root").ok(t)

	run(t, url, "user", "lookup", "alice").ok(t).has(t, "alice (user namespace) is bound to:", "CLUSTER", "Cluster A")
	r := run(t, url, "user", "lookup", "alice", "--manager").ok(t).has(t, "manager namespace", "Cluster B")
	if strings.Contains(r.stdout, "Cluster A") {
		t.Errorf("manager lookup shows the user namespace's binding:\n%s", r.stdout)
	}
	run(t, url, "user", "lookup", "nobody").ok(t).has(t, "nobody is not bound to any cluster (user namespace)")

	run(t, url, "user", "list", "A").ok(t).has(t, "alice")
	run(t, url, "user", "list", "A", "--manager").ok(t).has(t, "root")

	run(t, url, "user", "unbind", "A", "alice").ok(t).has(t, "unbound alice from A (user namespace)")
	run(t, url, "user", "lookup", "alice").ok(t).has(t, "not bound")
	run(t, url, "user", "unbind", "B", "alice", "--manager").ok(t)
	run(t, url, "user", "lookup", "alice", "--manager").ok(t).has(t, "not bound")

	run(t, url, "user", "bind", "NOPE", "alice").exit(t, 1).hasErr(t, "unknown cluster NOPE")
	run(t, url, "user", "bind", "A", "bad\x01name").exit(t, 1).hasErr(t, "control character", "HTTP 400")

	// Deleting a cluster removes it from lookups.
	run(t, url, "user", "bind", "A", "carol").ok(t)
	run(t, url, "user", "bind", "B", "carol").ok(t)
	run(t, url, "cluster", "rm", "A").ok(t)
	r = run(t, url, "user", "lookup", "carol").ok(t).has(t, "Cluster B")
	if strings.Contains(r.stdout, "Cluster A") {
		t.Errorf("a deleted cluster is still listed:\n%s", r.stdout)
	}
}

// Usernames are escaped into one path segment: '/', spaces and even "." and ".." survive.
func TestUsernamesNeedingEscapes(t *testing.T) {
	url := newServer(t)
	putCluster(t, url, "A")
	for _, name := range []string{"ops/team lead", ".", "..", "a/../b", "100%", "张三", "-dash"} {
		t.Run(name, func(t *testing.T) {
			// "--" ends the flags, so a username may start with '-'.
			run(t, url, "user", "bind", "A", "--", name).ok(t).has(t, "bound "+name+" to A")
			run(t, url, "user", "lookup", "--", name).ok(t).has(t, name+" (user namespace) is bound to:")
			run(t, url, "user", "unbind", "A", "--", name).ok(t)
			run(t, url, "user", "lookup", "--", name).ok(t).has(t, "not bound")
		})
	}
}

func TestUserImportAndList(t *testing.T) {
	url := newServer(t)
	putCluster(t, url, "A")
	dir := t.TempDir()

	mixed := filepath.Join(dir, "mixed.txt")
	writeFile(t, mixed, "alice\n\nbad\x01one\n  bob \r\n"+strings.Repeat("x", 300)+"\ncarol")
	run(t, url, "user", "import", "A", mixed).ok(t).
		has(t, "bound 3 username(s) to A (user namespace); 2 line(s) rejected",
			"line 3: username contains a control character", "line 5: username is longer than 256 bytes")
	run(t, url, "user", "lookup", "bob").ok(t).has(t, "Cluster A")

	// 2,500 usernames: "user list" must follow the cursor over three pages.
	var b strings.Builder
	for i := range 2500 {
		fmt.Fprintf(&b, "user%05d\n", i)
	}
	big := filepath.Join(dir, "big.txt")
	writeFile(t, big, b.String())
	run(t, url, "user", "import", "A", big, "--manager").ok(t).
		has(t, "bound 2500 username(s) to A (manager namespace); 0 line(s) rejected")
	lines := strings.Split(strings.TrimSpace(run(t, url, "user", "list", "--manager", "A").ok(t).stdout), "\n")
	if len(lines) != 2500 || lines[0] != "user00000" || lines[2499] != "user02499" {
		t.Errorf("list --manager printed %d lines (%q … %q), want 2500", len(lines), lines[0], lines[len(lines)-1])
	}
	if n := len(strings.Fields(run(t, url, "user", "list", "A").ok(t).stdout)); n != 3 {
		t.Errorf("user namespace lists %d usernames, want 3", n)
	}

	// "-" reads standard input.
	stdin = strings.NewReader("dave\nerin\n")
	t.Cleanup(func() { stdin = os.Stdin })
	run(t, url, "user", "import", "A", "-").ok(t).has(t, "bound 2 username(s)")
	run(t, url, "user", "lookup", "erin").ok(t).has(t, "Cluster A")

	run(t, url, "user", "import", "A", filepath.Join(dir, "missing.txt")).exit(t, 1).hasErr(t, "missing.txt")
	run(t, url, "user", "import", "NOPE", mixed).exit(t, 1).hasErr(t, "unknown cluster NOPE")
}

// More rejected lines than the API lists are summarised, not lost.
func TestUserImportManyRejected(t *testing.T) {
	url := newServer(t)
	putCluster(t, url, "A")
	f := filepath.Join(t.TempDir(), "bad.txt")
	writeFile(t, f, strings.Repeat("bad\x01\n", 1200))
	run(t, url, "user", "import", "A", f).ok(t).
		has(t, "bound 0 username(s)", "1200 line(s) rejected", "line 1000:", "and 200 more rejected line(s)")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
