package admin_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestBindUnbindLookupNamespaces(t *testing.T) {
	e := newEnv(t)
	e.putCluster(t, "A", "Alpha")
	e.putCluster(t, "B", "Beta")

	r := e.do(t, "PUT", "/admin/clusters/a/users/alice", nil).want(t, 200)
	if r.str("username") != "alice" || r.str("cluster_code") != "A" || r.str("client") != "user" {
		t.Errorf("bind answer = %s", r.raw)
	}
	e.do(t, "PUT", "/admin/clusters/B/users/alice?client=manager", nil).want(t, 200)

	r = e.do(t, "GET", "/admin/users/alice", nil).want(t, 200)
	if r.str("username") != "alice" {
		t.Errorf("username = %q", r.str("username"))
	}
	c := r.body["clusters"].([]any)
	if len(c) != 1 || c[0].(map[string]any)["cluster_code"] != "A" || c[0].(map[string]any)["name"] != "Alpha" {
		t.Errorf("user namespace lookup = %s, want [A Alpha]", r.raw)
	}
	if got := e.lookup(t, "alice", "?client=manager"); !slices.Equal(got, []string{"B"}) {
		t.Errorf("manager namespace lookup = %v, want [B]", got)
	}

	// Unbinding in one namespace leaves the other alone; unbinding twice is not an error.
	e.do(t, "DELETE", "/admin/clusters/A/users/alice", nil).want(t, 204)
	e.do(t, "DELETE", "/admin/clusters/A/users/alice", nil).want(t, 204)
	if got := e.lookup(t, "alice", ""); len(got) != 0 {
		t.Errorf("after unbind, user lookup = %v, want none", got)
	}
	if got := e.lookup(t, "alice", "?client=manager"); !slices.Equal(got, []string{"B"}) {
		t.Errorf("after user unbind, manager lookup = %v, want [B]", got)
	}
	e.do(t, "DELETE", "/admin/clusters/B/users/alice?client=manager", nil).want(t, 204)
	if got := e.lookup(t, "alice", "?client=manager"); len(got) != 0 {
		t.Errorf("after manager unbind, lookup = %v, want none", got)
	}
	// An unknown username answers an empty list, not a 404.
	r = e.do(t, "GET", "/admin/users/nobody", nil).want(t, 200)
	if !strings.Contains(r.raw, `"clusters":[]`) {
		t.Errorf("unknown user = %s, want an empty clusters list", r.raw)
	}
}

func TestBindingErrors(t *testing.T) {
	e := newEnv(t)
	e.putCluster(t, "A", "Alpha")
	tests := []struct {
		name, method, path string
		status             int
	}{
		{name: "bind to unknown cluster", method: "PUT", path: "/admin/clusters/NOPE/users/bob", status: 404},
		{name: "unbind from unknown cluster", method: "DELETE", path: "/admin/clusters/NOPE/users/bob", status: 404},
		{name: "bind with invalid code", method: "PUT", path: "/admin/clusters/no%20pe/users/bob", status: 400},
		{name: "control character in username", method: "PUT", path: "/admin/clusters/A/users/bo%01b", status: 400},
		{name: "blank username", method: "PUT", path: "/admin/clusters/A/users/%20%20", status: 400},
		{name: "username too long", method: "PUT", path: "/admin/clusters/A/users/" + strings.Repeat("x", 257), status: 400},
		{name: "invalid UTF-8 username", method: "GET", path: "/admin/users/%FF", status: 400},
		// A typo in client must not write into the user namespace.
		{name: "unknown client", method: "PUT", path: "/admin/clusters/A/users/bob?client=manger", status: 400},
		{name: "list of unknown cluster", method: "GET", path: "/admin/clusters/NOPE/users", status: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.do(t, tc.method, tc.path, nil).want(t, tc.status)
		})
	}
}

// Usernames are path segments unescaped by the mux: '/', spaces, '%' and non-ASCII survive.
func TestUsernamesNeedingEscapes(t *testing.T) {
	e := newEnv(t)
	e.putCluster(t, "A", "Alpha")
	for _, name := range []string{"ops/team lead", "a//b", "100%", "张三", "x?y#z", "/lead"} {
		t.Run(name, func(t *testing.T) {
			path := "/admin/clusters/A/users/" + url.PathEscape(name)
			if r := e.do(t, "PUT", path, nil).want(t, 200); r.str("username") != name {
				t.Errorf("bound username = %q, want %q", r.str("username"), name)
			}
			if got := e.lookup(t, name, ""); !slices.Equal(got, []string{"A"}) {
				t.Errorf("lookup = %v, want [A]", got)
			}
			e.do(t, "DELETE", path, nil).want(t, 204)
			if got := e.lookup(t, name, ""); len(got) != 0 {
				t.Errorf("after unbind, lookup = %v", got)
			}
		})
	}
}

func TestListUsersPaging(t *testing.T) {
	e := newEnv(t)
	e.putCluster(t, "A", "Alpha")
	var lines strings.Builder
	want := map[string]bool{}
	for i := range 250 {
		name := fmt.Sprintf("user%03d", i)
		want[name] = true
		lines.WriteString(name + "\n")
	}
	e.do(t, "POST", "/admin/clusters/A/users", lines.String()).want(t, 200)
	e.do(t, "PUT", "/admin/clusters/A/users/boss?client=manager", nil).want(t, 200)

	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		r := e.do(t, "GET", "/admin/clusters/A/users?limit=100&cursor="+url.QueryEscape(cursor), nil).want(t, 200)
		pages++
		for _, u := range r.body["usernames"].([]any) {
			if seen[u.(string)] {
				t.Fatalf("%s listed twice", u)
			}
			seen[u.(string)] = true
		}
		next, ok := r.body["next_cursor"].(string)
		if !ok {
			t.Fatalf("next_cursor missing: %s", r.raw)
		}
		if next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		cursor = next
	}
	if pages != 3 || len(seen) != len(want) {
		t.Errorf("%d pages, %d usernames; want 3 pages, %d usernames", pages, len(seen), len(want))
	}

	tests := []struct {
		name   string
		query  string
		status int
		count  int
	}{
		{name: "default limit is 100", query: "", status: 200, count: 100},
		{name: "limit above the maximum is capped", query: "?limit=5000", status: 200, count: 250},
		{name: "manager namespace apart", query: "?client=manager", status: 200, count: 1},
		{name: "zero limit", query: "?limit=0", status: 400},
		{name: "negative limit", query: "?limit=-1", status: 400},
		{name: "non-numeric limit", query: "?limit=ten", status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "GET", "/admin/clusters/A/users"+tc.query, nil).want(t, tc.status)
			if tc.status == 200 {
				if n := len(r.body["usernames"].([]any)); n != tc.count {
					t.Errorf("%d usernames, want %d", n, tc.count)
				}
			}
		})
	}
	// An empty cluster lists [] (not null) and an empty cursor.
	e.putCluster(t, "EMPTY", "e")
	r := e.do(t, "GET", "/admin/clusters/EMPTY/users", nil).want(t, 200)
	if !strings.Contains(r.raw, `"usernames":[]`) || r.body["next_cursor"] != "" {
		t.Errorf("empty cluster = %s", r.raw)
	}
}

// SPEC section 3: deleting a cluster removes its bindings from every answer at once.
func TestDeleteClusterRemovesBindings(t *testing.T) {
	e := newEnv(t)
	e.putCluster(t, "A", "Alpha")
	e.putCluster(t, "B", "Beta")
	e.do(t, "PUT", "/admin/clusters/A/users/alice", nil).want(t, 200)
	e.do(t, "PUT", "/admin/clusters/B/users/alice", nil).want(t, 200)
	e.do(t, "PUT", "/admin/clusters/A/users/alice?client=manager", nil).want(t, 200)
	if got := e.lookup(t, "alice", ""); !slices.Equal(got, []string{"A", "B"}) {
		t.Fatalf("lookup = %v, want [A B]", got)
	}

	e.do(t, "DELETE", "/admin/clusters/A", nil).want(t, 204)
	if got := e.lookup(t, "alice", ""); !slices.Equal(got, []string{"B"}) {
		t.Errorf("after delete, user lookup = %v, want [B]", got)
	}
	if got := e.lookup(t, "alice", "?client=manager"); len(got) != 0 {
		t.Errorf("after delete, manager lookup = %v, want none", got)
	}
	// A cluster created again with the same code does not inherit the old bindings.
	e.putCluster(t, "A", "Alpha again")
	if got := e.lookup(t, "alice", ""); !slices.Equal(got, []string{"B"}) {
		t.Errorf("after re-create, lookup = %v, want [B]", got)
	}
	r := e.do(t, "GET", "/admin/clusters/A/users", nil).want(t, 200)
	if n := len(r.body["usernames"].([]any)); n != 0 {
		t.Errorf("re-created cluster lists %d users, want 0", n)
	}
}
