package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUserSync(t *testing.T) {
	url := newServer(t)
	putCluster(t, url, "A")
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run(t, url, "user", "import", "A", write("old.txt", "old1\nold2\nkeep\n")).ok(t)
	list := write("list.txt", "keep\nnew1\nbad\x01\n")

	run(t, url, "user", "sync", "A", list, "--dry-run").ok(t).
		has(t, "A (user namespace): 1 added, 2 removed, 1 unchanged; 1 line(s) rejected (dry run: nothing changed)",
			"added would be:\n  new1", "removed would be:\n  old1\n  old2", "line 3:")
	run(t, url, "user", "list", "A").ok(t).has(t, "old1", "old2")

	run(t, url, "user", "sync", "A", list, "--max-removals", "1").exit(t, ExitError).
		hasErr(t, "max_removals=1", "nothing was changed", "--dry-run")
	run(t, url, "user", "list", "A").ok(t).has(t, "old1")

	run(t, url, "user", "sync", "A", list).ok(t).has(t, "1 added, 2 removed, 1 unchanged")
	if out := run(t, url, "user", "list", "A").ok(t).stdout; out != "keep\nnew1\n" {
		t.Fatalf("after sync: %q", out)
	}
	// Samples are cut at 20 and say so.
	var b strings.Builder
	for i := range 30 {
		fmt.Fprintf(&b, "u%02d\n", i)
	}
	run(t, url, "user", "sync", "A", write("30.txt", b.String()), "--max-removals", "-1", "--dry-run").ok(t).
		has(t, "added would be (first 20 of 30):")

	// Stdin, manager namespace, and progress on stderr for a big list.
	var big strings.Builder
	for i := range 120_000 {
		fmt.Fprintf(&big, "manager-%06d\n", i)
	}
	old := stdin
	stdin = strings.NewReader(big.String())
	t.Cleanup(func() { stdin = old })
	run(t, url, "user", "sync", "A", "-", "--manager").ok(t).has(t, "A (manager namespace): 120000 added").
		hasErr(t, "sent", "MiB")

	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"bad max-removals", []string{"user", "sync", "A", list, "--max-removals", "-5"}, ExitUsage, "--max-removals"},
		{"unknown cluster", []string{"user", "sync", "NOPE", list}, ExitError, "unknown cluster NOPE"},
		{"missing file", []string{"user", "sync", "A", filepath.Join(dir, "none")}, ExitError, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { run(t, url, tc.args...).exit(t, tc.code).hasErr(t, tc.err) })
	}
}

func TestClusterPutSync(t *testing.T) {
	url := newServer(t)
	run(t, url, "cluster", "put", "S", "--name", "s", "--sso-url", "http://sso.test/sso", "--server-url", "http://api.test",
		"--sync-url", "http://sso.test/sso/users", "--sync-interval", "10m").ok(t).has(t, "sync:", "every 10m0s from http://sso.test/sso/users")
	run(t, url, "cluster", "get", "S").ok(t).has(t, "every 10m0s from http://sso.test/sso/users")
	run(t, url, "cluster", "put", "S", "--name", "s", "--sso-url", "http://sso.test/sso", "--server-url", "http://api.test",
		"--sync-interval", "10m").exit(t, ExitUsage).hasErr(t, "need --sync-url")
	run(t, url, "cluster", "put", "S", "--name", "s", "--sso-url", "http://sso.test/sso", "--server-url", "http://api.test",
		"--sync-url", "http://sso.test/u", "--sync-interval", "soon").exit(t, ExitUsage).hasErr(t, "--sync-interval")
	run(t, url, "cluster", "put", "S", "--name", "s", "--sso-url", "http://sso.test/sso", "--server-url", "http://api.test",
		"--sync-url", "http://sso.test/u", "--sync-interval", "1ms").exit(t, ExitError).hasErr(t, "sync.interval")
}
