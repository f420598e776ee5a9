package syncer_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/audit"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/refsso"
	"github.com/ssogate/ssogate/internal/store/embedded"
	"github.com/ssogate/ssogate/internal/syncer"
)

// SPEC section 9: a scheduled sync's changes are audited with the actor "sync" and its counts;
// neither the sync header's value nor its variable ever reaches the log (issue 11: test it).
func TestSyncIsAuditedWithoutItsSecret(t *testing.T) {
	st, err := embedded.Open(filepath.Join(t.TempDir(), "s.db"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := directory.New(st, directory.Options{Audit: audit.NewRecorder(st, audit.DefaultRetention, nil)})
	ctx := directory.WithActor(context.Background(), "ops")
	sso, err := refsso.New(refsso.Config{Name: "r", Clients: map[string]string{"app": "s"},
		Users: map[string]string{"alice": "a", "bob": "b"}, Prefix: "/sso", UsersToken: "list-S3CRET"})
	if err != nil {
		t.Fatal(err)
	}
	src := serve(t, sso.Handler().ServeHTTP) + "/sso/users?key=query-S3CRET"
	c, err := d.PutCluster(ctx, directory.Cluster{Code: "A", Name: "A", SSOURL: "http://127.0.0.1:1/sso", ServerURL: "http://127.0.0.1:1",
		Enabled: true, Sync: &directory.ClusterSync{URL: src, Interval: directory.Duration(time.Hour),
			HeaderName: "Authorization", HeaderValueEnv: "SYNC_AUTH_VARIABLE"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Bind(ctx, directory.NamespaceUser, "gone", "A"); err != nil {
		t.Fatal(err)
	}
	s := syncer.New(syncer.Options{Directory: d, Store: st, Instance: "i1",
		Getenv: func(k string) string {
			if k == "SYNC_AUTH_VARIABLE" {
				return "Bearer list-S3CRET"
			}
			return ""
		}})
	if res := s.RunOnce(context.Background(), c); res.Error != "" || res.Added != 2 || res.Removed != 1 {
		t.Fatalf("sync = %+v", res)
	}
	entries, _, err := d.AuditLog(context.Background(), audit.Query{Limit: 10})
	if err != nil || len(entries) != 3 {
		t.Fatalf("audit = %+v, %v; want put, bind, reconcile", entries, err)
	}
	rec := entries[0]
	if rec.Actor != directory.ActorSync || rec.Action != audit.ActionUserReconcile || rec.Counts["added"] != 2 || rec.Counts["removed"] != 1 {
		t.Fatalf("sync entry = %+v", rec)
	}
	if put := entries[2]; put.After == nil || !strings.HasPrefix(put.After.SyncURL, strings.SplitN(src, "?", 2)[0]) {
		t.Fatalf("cluster entry lost the sync URL: %+v", put.After)
	}
	raw, _ := json.Marshal(entries)
	for _, secret := range []string{"S3CRET", "SYNC_AUTH_VARIABLE", "Bearer"} {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("audit log holds %q: %s", secret, raw)
		}
	}
}
