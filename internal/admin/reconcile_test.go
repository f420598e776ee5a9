package admin_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func (e *env) users(t *testing.T, code, query string) []string {
	t.Helper()
	r := e.do(t, "GET", "/admin/clusters/"+code+"/users?limit=1000"+query, nil).want(t, 200)
	var out []string
	for _, u := range r.body["usernames"].([]any) {
		out = append(out, u.(string))
	}
	slices.Sort(out)
	return out
}

func num(r result, key string) int {
	f, _ := r.body[key].(float64)
	return int(f)
}

func TestReconcileAPI(t *testing.T) {
	e := newEnv(t)
	e.putCluster(t, "A", "Cluster A")
	e.do(t, "POST", "/admin/clusters/A/users", "old1\nold2\nkeep\n").want(t, 200)
	e.do(t, "POST", "/admin/clusters/A/users?client=manager", "boss\n").want(t, 200)

	// Bad lines are rejected with their numbers; the rest is applied (SPEC section 8).
	body := "\uFEFFkeep\n\nnew1\r\n" + strings.Repeat("x", 5000) + "\nbad\x01name\n" + strings.Repeat("y", 300) + "\nnew2"
	dry := e.do(t, "PUT", "/admin/clusters/A/users?dry_run=true", body).want(t, 200)
	if !dry.body["dry_run"].(bool) || num(dry, "added") != 2 || num(dry, "removed") != 2 || num(dry, "unchanged") != 1 {
		t.Fatalf("dry run = %s", dry.raw)
	}
	if got := e.users(t, "A", ""); !slices.Equal(got, []string{"keep", "old1", "old2"}) {
		t.Fatalf("a dry run changed the bindings: %q", got)
	}
	r := e.do(t, "PUT", "/admin/clusters/A/users", body).want(t, 200)
	if num(r, "added") != 2 || num(r, "removed") != 2 || num(r, "unchanged") != 1 || r.body["dry_run"].(bool) {
		t.Fatalf("reconcile = %s", r.raw)
	}
	if num(r, "rejected_count") != 3 {
		t.Fatalf("rejected_count = %d, want 3: %s", num(r, "rejected_count"), r.raw)
	}
	var lines []int
	for _, x := range r.body["rejected"].([]any) {
		lines = append(lines, int(x.(map[string]any)["line"].(float64)))
	}
	if !slices.Equal(lines, []int{4, 5, 6}) {
		t.Fatalf("rejected lines = %v, want [4 5 6]", lines)
	}
	if fmt.Sprint(r.body["sample_added"]) != "[new1 new2]" || fmt.Sprint(r.body["sample_removed"]) != "[old1 old2]" {
		t.Fatalf("samples = %v / %v", r.body["sample_added"], r.body["sample_removed"])
	}
	if got := e.users(t, "A", ""); !slices.Equal(got, []string{"keep", "new1", "new2"}) {
		t.Fatalf("after reconcile: %q", got)
	}
	if got := e.users(t, "A", "&client=manager"); !slices.Equal(got, []string{"boss"}) {
		t.Fatalf("the manager namespace changed: %q", got)
	}

	// The guard: the default 1000 lets this through, max_removals=1 refuses with counts.
	g := e.do(t, "PUT", "/admin/clusters/A/users?max_removals=1", "keep\n").want(t, http.StatusConflict)
	if g.str("error") != "too_many_removals" || num(g, "removed") != 2 || num(g, "max_removals") != 1 || num(g, "unchanged") != 1 {
		t.Fatalf("guard answer = %s", g.raw)
	}
	if got := e.users(t, "A", ""); !slices.Equal(got, []string{"keep", "new1", "new2"}) {
		t.Fatalf("a refused reconcile changed the bindings: %q", got)
	}
	e.do(t, "PUT", "/admin/clusters/A/users?max_removals=-1", "").want(t, 200)
	if got := e.users(t, "A", ""); len(got) != 0 {
		t.Fatalf("an empty list with no limit left %q", got)
	}

	tests := []struct {
		name, path string
		status     int
	}{
		{"unknown cluster", "/admin/clusters/NOPE/users", 404},
		{"bad code", "/admin/clusters/no%20pe/users", 400},
		{"bad dry_run", "/admin/clusters/A/users?dry_run=maybe", 400},
		{"bad max_removals", "/admin/clusters/A/users?max_removals=-2", 400},
		{"bad client", "/admin/clusters/A/users?client=admin", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { e.do(t, "PUT", tc.path, "x\n").want(t, tc.status) })
	}
}
