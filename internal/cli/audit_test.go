package cli

import (
	"strings"
	"testing"
)

// SPEC section 5: ssogate audit [--actor A] [--action X] [--cluster C], over GET /admin/audit.
func TestAuditCommand(t *testing.T) {
	url := newServer(t)
	putCluster(t, url, "BJ")
	putCluster(t, url, "SH")
	run(t, url, "cluster", "put", "BJ", "--name", "Cluster BJ", "--sso-url", "http://sso.example/BJ",
		"--server-url", "http://api.example/BJ", "--disabled").ok(t)
	run(t, url, "user", "bind", "SH", "alice", "--manager").ok(t)

	all := run(t, url, "audit").ok(t).has(t, "TIME", "ACTOR", "cluster.put", "user.bind", "user:alice",
		"enabled: true → false", "namespace=manager", "created")
	if lines := strings.Count(all.stdout, "\n"); lines != 5 {
		t.Fatalf("audit printed %d lines, want a header and 4 entries:\n%s", lines, all.stdout)
	}
	if !strings.Contains(strings.SplitN(all.stdout, "\n", 3)[1], "user.bind") {
		t.Fatalf("newest entry is not first:\n%s", all.stdout)
	}
	cases := []struct {
		name    string
		args    []string
		entries int
		has     string
	}{
		{"by cluster", []string{"--cluster", "BJ"}, 2, "cluster:BJ"},
		{"by action", []string{"--action", "user.bind"}, 1, "user:alice"},
		{"by actor, flags first", []string{"--actor", "admin", "--cluster", "SH"}, 2, "SH"},
		{"limit", []string{"--limit", "1"}, 1, "user.bind"},
		{"nothing", []string{"--actor", "sync"}, 0, "TIME"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, url, append([]string{"audit"}, tc.args...)...).ok(t).has(t, tc.has)
			if got := strings.Count(r.stdout, "\n") - 1; got != tc.entries {
				t.Fatalf("ssogate audit %v: %d entries, want %d:\n%s", tc.args, got, tc.entries, r.stdout)
			}
		})
	}
	run(t, url, "audit", "--limit", "0").exit(t, ExitUsage)
	run(t, url, "audit", "extra").exit(t, ExitUsage)
}
