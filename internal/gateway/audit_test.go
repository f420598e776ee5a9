package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/ssogate/ssogate/internal/audit"
	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/gateway"
)

// SPEC section 9: the configuration's clusters are audited with the actor "config", at start
// and on reload; re-applying an unchanged list records nothing (it is no change).
func TestConfigClustersAuditedAsConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ssogate.yaml")
	write := func(name string) {
		t.Helper()
		yaml := fmt.Sprintf(`listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
admin_token: t
store:
  path: %s
clusters:
  - {code: ONE, name: %s, sso_url: "http://127.0.0.1:1/sso", server_url: "http://127.0.0.1:1"}
`, filepath.Join(dir, "d.db"), name)
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("first")
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(context.Background(), cfg, gateway.Options{ConfigPath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx := context.Background()
	if err := g.Reload(ctx); err != nil { // unchanged
		t.Fatal(err)
	}
	write("second")
	if err := g.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	entries, _, err := g.Directory().AuditLog(ctx, audit.Query{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("audit = %+v, want the creation at start and the rename on reload", entries)
	}
	rename, create := entries[0], entries[1]
	for _, e := range entries {
		if e.Actor != "config" || e.Action != audit.ActionClusterPut || e.Cluster != "ONE" {
			t.Fatalf("entry %+v: want actor config, cluster.put of ONE", e)
		}
	}
	if create.Before != nil || create.After.Name != "first" || rename.Before.Name != "first" || rename.After.Name != "second" {
		t.Fatalf("before/after wrong: create %+v, rename %+v → %+v", create, rename.Before, rename.After)
	}
}

// SPEC section 9: clearing a lockout is audited, for a username and for an address.
func TestLockoutClearIsAudited(t *testing.T) {
	e := startGateway(t, &syncBuffer{}, nil, nil)
	for _, q := range []string{"username=Alice&client=manager", "ip=127.0.0.1"} {
		req, _ := http.NewRequest(http.MethodDelete, e.adminBase+"/admin/lockouts?"+q, nil)
		req.Header.Set("Authorization", "Bearer "+e.adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("DELETE /admin/lockouts?%s: %d", q, resp.StatusCode)
		}
	}
	entries, _, err := e.g.Directory().AuditLog(context.Background(), audit.Query{Filter: audit.Filter{Action: audit.ActionLockoutClear}, Limit: 10})
	if err != nil || len(entries) != 2 {
		t.Fatalf("lockout entries = %+v, %v", entries, err)
	}
	if ip, user := entries[0], entries[1]; ip.Target != "ip:127.0.0.1" || user.Target != "user:Alice" || user.Namespace != "manager" || user.Actor != "admin" {
		t.Fatalf("entries = %+v, %+v", user, ip)
	}
}
