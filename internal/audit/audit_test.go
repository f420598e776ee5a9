package audit_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ssogate/ssogate/internal/audit"
	"github.com/ssogate/ssogate/internal/store/embedded"
)

func TestRedactURL(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain url kept", "https://sso.example/bj", "https://sso.example/bj"},
		{"user info dropped", "https://ops:pa55@sso.example/bj", "https://redacted@sso.example/bj"},
		{"query dropped", "https://sso.example/users?token=abc&x=1", "https://sso.example/users?redacted"},
		{"fragment dropped", "https://sso.example/#key", "https://sso.example/"},
		{"unparsable replaced", "http://[::1", "(unparsable url)"},
		{"empty stays empty", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := audit.RedactURL(tc.in); got != tc.want {
				t.Fatalf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// The cluster state is a whitelist: a scheduled sync's header value (issue 9) or any field
// added to a cluster later has no field to land in. Pinned so that adding one is a decision.
func TestClusterStateIsAWhitelist(t *testing.T) {
	var fields []string
	for f := range reflect.TypeFor[audit.ClusterState]().Fields() {
		fields = append(fields, f.Name)
	}
	want := "Code Name SSOURL ServerURL TokenURL Enabled SyncURL"
	if got := strings.Join(fields, " "); got != want {
		t.Fatalf("ClusterState fields = %s, want %s", got, want)
	}
}

// The recorder redacts before writing, whoever built the entry.
func TestRecorderRedactsAndStamps(t *testing.T) {
	st, err := embedded.Open(filepath.Join(t.TempDir(), "a.db"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec := audit.NewRecorder(st, audit.DefaultRetention, nil)
	ctx := context.Background()
	const secret = "hdr-S3CRET"
	rec.Record(ctx, audit.Entry{Action: audit.ActionClusterPut, Target: "cluster:X",
		After: &audit.ClusterState{Code: "X", SSOURL: "https://u:" + secret + "@sso.example", SyncURL: "https://hr.example/users?key=" + secret}})
	entries, next, err := rec.List(ctx, audit.Query{})
	if err != nil || len(entries) != 1 || next != "" {
		t.Fatalf("List = %v, %q, %v", entries, next, err)
	}
	raw, _ := json.Marshal(entries)
	if strings.Contains(string(raw), secret) {
		t.Fatalf("entry keeps the secret: %s", raw)
	}
	if e := entries[0]; e.Time.IsZero() || e.Actor != "unknown" || e.After.SyncURL != "https://hr.example/users?redacted" {
		t.Fatalf("entry = %+v: want time set, actor unknown, redacted sync url", e)
	}
	// A recorder without a store records nothing and lists an empty log.
	none := audit.NewRecorder(nil, audit.Retention{}, nil)
	none.Record(ctx, audit.Entry{Action: "x"})
	if got, _, err := none.List(ctx, audit.Query{}); err != nil || len(got) != 0 {
		t.Fatalf("nil-store List = %v, %v", got, err)
	}
}
