package conformance

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/audit"
)

var auditTests = []subtest{
	{"Audit/AppendList", testAuditAppendList},
	{"Audit/Empty", testAuditEmpty},
	{"Audit/Paging", testAuditPaging},
	{"Audit/Filter", testAuditFilter},
	{"Audit/RetentionCount", testAuditRetentionCount},
	{"Audit/RetentionAge", testAuditRetentionAge},
	{"Audit/BadCursor", testAuditBadCursor},
	{"Audit/Concurrent", testAuditConcurrent},
}

var keepAll = audit.DefaultRetention

func appendAudit(t *testing.T, s Backend, keep audit.Retention, entries ...audit.Entry) {
	t.Helper()
	for _, e := range entries {
		if e.Time.IsZero() {
			e.Time = time.Now().UTC()
		}
		if err := s.AppendAudit(ctx(t), e, keep); err != nil {
			t.Fatalf("AppendAudit(%s %s): %v", e.Action, e.Target, err)
		}
	}
}

// listAudit pages through the whole log with limit, checking the paging rules; the result is
// newest first.
func listAudit(t *testing.T, s Backend, f audit.Filter, limit int) []audit.Entry {
	t.Helper()
	var all []audit.Entry
	seen := map[string]bool{}
	cursor := ""
	for calls := 0; calls < 10_000; calls++ {
		page, next, err := s.ListAudit(ctx(t), audit.Query{Filter: f, Cursor: cursor, Limit: limit})
		if err != nil {
			t.Fatalf("ListAudit(cursor %q, limit %d): %v", cursor, limit, err)
		}
		if len(page) > limit {
			t.Fatalf("ListAudit(limit %d) returned %d entries", limit, len(page))
		}
		for _, e := range page {
			if e.ID == "" || seen[e.ID] {
				t.Fatalf("ListAudit returned entry id %q empty or twice", e.ID)
			}
			seen[e.ID] = true
			all = append(all, e)
		}
		if next == "" {
			return all
		}
		if next == cursor {
			t.Fatalf("ListAudit returned its own cursor %q: no progress", cursor)
		}
		cursor = next
	}
	t.Fatal("ListAudit did not end after 10000 calls")
	return nil
}

func targets(entries []audit.Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Target
	}
	return out
}

func testAuditAppendList(t *testing.T, s Backend) {
	before := &audit.ClusterState{Code: "BJ", Name: "北京", SSOURL: "http://sso.example/bj", Enabled: true}
	after := &audit.ClusterState{Code: "BJ", Name: "北京", SSOURL: "http://sso.example/bj", Enabled: false}
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	appendAudit(t, s, keepAll,
		audit.Entry{Time: at, Actor: "ops", Action: audit.ActionClusterPut, Cluster: "BJ", Target: "cluster:BJ", Before: before, After: after},
		audit.Entry{Time: at.Add(time.Second), Actor: "config", Action: audit.ActionUserImport, Cluster: "BJ", Target: "cluster:BJ",
			Namespace: "user", Counts: map[string]int64{"bound": 3, "rejected": 1}},
	)
	got := listAudit(t, s, audit.Filter{}, 10)
	if len(got) != 2 {
		t.Fatalf("ListAudit = %d entries, want 2", len(got))
	}
	// Newest first: the import, then the cluster change, each exactly as written.
	imp, put := got[0], got[1]
	if imp.Action != audit.ActionUserImport || imp.Counts["bound"] != 3 || imp.Counts["rejected"] != 1 || imp.Namespace != "user" {
		t.Fatalf("import entry = %+v", imp)
	}
	if !put.Time.Equal(at) || put.Actor != "ops" || put.Cluster != "BJ" || put.Target != "cluster:BJ" {
		t.Fatalf("cluster entry = %+v", put)
	}
	if put.Before == nil || *put.Before != *before || put.After == nil || *put.After != *after {
		t.Fatalf("cluster entry before/after = %+v / %+v, want %+v / %+v", put.Before, put.After, before, after)
	}
}

func testAuditEmpty(t *testing.T, s Backend) {
	page, next, err := s.ListAudit(ctx(t), audit.Query{Limit: 10})
	if err != nil || len(page) != 0 || next != "" {
		t.Fatalf("ListAudit on an empty log = %v, %q, %v; want nothing", page, next, err)
	}
}

func testAuditPaging(t *testing.T, s Backend) {
	var want []string
	for i := range 23 {
		target := fmt.Sprintf("user:u%02d", i)
		appendAudit(t, s, keepAll, audit.Entry{Actor: "ops", Action: audit.ActionUserBind, Cluster: "BJ", Target: target})
		want = append(want, target)
	}
	slices.Reverse(want)
	for _, limit := range []int{1, 5, 23, 100} {
		if got := targets(listAudit(t, s, audit.Filter{}, limit)); !slices.Equal(got, want) {
			t.Fatalf("ListAudit(limit %d) = %q, want %q", limit, got, want)
		}
	}
}

func testAuditFilter(t *testing.T, s Backend) {
	appendAudit(t, s, keepAll,
		audit.Entry{Actor: "ops", Action: audit.ActionUserBind, Cluster: "BJ", Target: "user:a"},
		audit.Entry{Actor: "sync", Action: audit.ActionUserReconcile, Cluster: "SH", Target: "cluster:SH"},
		audit.Entry{Actor: "ops", Action: audit.ActionUserUnbind, Cluster: "SH", Target: "user:b"},
		audit.Entry{Actor: "config", Action: audit.ActionClusterPut, Cluster: "BJ", Target: "cluster:BJ"},
	)
	cases := []struct {
		name string
		f    audit.Filter
		want []string
	}{
		{"actor", audit.Filter{Actor: "ops"}, []string{"user:b", "user:a"}},
		{"action", audit.Filter{Action: audit.ActionUserReconcile}, []string{"cluster:SH"}},
		{"cluster", audit.Filter{Cluster: "BJ"}, []string{"cluster:BJ", "user:a"}},
		{"all three", audit.Filter{Actor: "ops", Action: audit.ActionUserUnbind, Cluster: "SH"}, []string{"user:b"}},
		{"no match", audit.Filter{Actor: "nobody"}, nil},
	}
	for _, tc := range cases {
		for _, limit := range []int{1, 10} {
			if got := targets(listAudit(t, s, tc.f, limit)); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("%s (limit %d): ListAudit = %q, want %q", tc.name, limit, got, tc.want)
			}
		}
	}
}

// SPEC section 9: kept 90 days or 100,000 entries, whichever is less. The bound is the
// caller's; a small one shows that the oldest go first.
func testAuditRetentionCount(t *testing.T, s Backend) {
	keep := audit.Retention{MaxEntries: 5, MaxAge: time.Hour}
	for i := range 12 {
		appendAudit(t, s, keep, audit.Entry{Actor: "ops", Action: audit.ActionUserBind, Target: fmt.Sprintf("user:%d", i)})
	}
	got := targets(listAudit(t, s, audit.Filter{}, 100))
	want := []string{"user:11", "user:10", "user:9", "user:8", "user:7"}
	if !slices.Equal(got, want) {
		t.Fatalf("after 12 appends with MaxEntries 5: %q, want %q", got, want)
	}
}

func testAuditRetentionAge(t *testing.T, s Backend) {
	keep := audit.Retention{MaxEntries: 100, MaxAge: shortTTL}
	appendAudit(t, s, keep, audit.Entry{Actor: "ops", Action: audit.ActionUserBind, Target: "user:old"})
	time.Sleep(shortTTL + 200*time.Millisecond)
	appendAudit(t, s, keep, audit.Entry{Actor: "ops", Action: audit.ActionUserBind, Target: "user:new"})
	if got := targets(listAudit(t, s, audit.Filter{}, 100)); !slices.Equal(got, []string{"user:new"}) {
		t.Fatalf("after MaxAge: %q, want only user:new", got)
	}
}

func testAuditBadCursor(t *testing.T, s Backend) {
	appendAudit(t, s, keepAll, audit.Entry{Actor: "ops", Action: audit.ActionUserBind, Target: "user:a"})
	for _, cursor := range []string{"not a cursor", "-1", "{x}"} {
		if _, _, err := s.ListAudit(ctx(t), audit.Query{Cursor: cursor, Limit: 10}); !errors.Is(err, audit.ErrBadCursor) {
			t.Fatalf("ListAudit(cursor %q) error = %v, want ErrBadCursor", cursor, err)
		}
	}
}

// Instances append at once on a shared store; none may be lost.
func testAuditConcurrent(t *testing.T, s Backend) {
	const writers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := audit.Entry{Time: time.Now(), Actor: "ops", Action: audit.ActionUserBind, Target: fmt.Sprintf("user:%d-%d", w, i)}
				if err := s.AppendAudit(ctx(t), e, keepAll); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent AppendAudit: %v", err)
	}
	if got := listAudit(t, s, audit.Filter{}, 7); len(got) != writers*each {
		t.Fatalf("after %d concurrent appends: %d entries", writers*each, len(got))
	}
}
