package admin_test

import (
	"net/http"
	"strings"
	"testing"
)

// auditEntries reads GET /admin/audit with query and returns its entries.
func (e *env) auditEntries(t *testing.T, query string) ([]map[string]any, string) {
	t.Helper()
	r := e.do(t, http.MethodGet, "/admin/audit"+query, nil).want(t, http.StatusOK)
	list, ok := r.body["entries"].([]any)
	if !ok {
		t.Fatalf("entries is not a list: %s", r.raw)
	}
	out := make([]map[string]any, len(list))
	for i, v := range list {
		out[i] = v.(map[string]any)
	}
	return out, r.str("next_cursor")
}

func actions(entries []map[string]any) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e["action"].(string) + " " + e["target"].(string)
	}
	return out
}

// SPEC section 9: every admin change is recorded with actor, action, target, before/after for
// clusters and counts for bulk operations, newest first.
func TestAuditRecordsEveryChange(t *testing.T) {
	e := newEnv(t)
	e.putCluster(t, "BJ", "北京")
	e.putCluster(t, "BJ", "北京") // unchanged: not a change, not recorded
	e.do(t, http.MethodPut, "/admin/clusters/BJ", `{"name":"北京","sso_url":"http://sso.example/BJ","server_url":"http://api.example/BJ","enabled":false}`).want(t, http.StatusOK)
	e.do(t, http.MethodPut, "/admin/clusters/BJ/users/Alice", nil).want(t, http.StatusOK)
	e.do(t, http.MethodDelete, "/admin/clusters/BJ/users/alice?client=manager", nil).want(t, http.StatusNoContent)
	e.do(t, http.MethodPost, "/admin/clusters/BJ/users", "bob\ncarol\nbad\x01name\n").want(t, http.StatusOK)
	e.do(t, http.MethodDelete, "/admin/clusters/BJ", nil)

	entries, next := e.auditEntries(t, "")
	want := []string{
		"cluster.delete cluster:BJ", "user.import cluster:BJ", "user.unbind user:alice",
		"user.bind user:Alice", "cluster.put cluster:BJ", "cluster.put cluster:BJ",
	}
	if got := actions(entries); strings.Join(got, "|") != strings.Join(want, "|") || next != "" {
		t.Fatalf("audit = %q (next %q), want %q", got, next, want)
	}
	for _, en := range entries {
		if en["actor"] != "admin" || en["time"] == "" {
			t.Fatalf("entry %v: actor must be the legacy token's \"admin\" and time set", en)
		}
	}
	imp := entries[1]
	counts := imp["counts"].(map[string]any)
	if counts["bound"] != 2.0 || counts["rejected"] != 1.0 || imp["namespace"] != "user" || imp["cluster"] != "BJ" {
		t.Fatalf("import entry = %v, want bound 2, rejected 1", imp)
	}
	if entries[2]["namespace"] != "manager" {
		t.Fatalf("unbind entry = %v, want namespace manager", entries[2])
	}
	edit, create := entries[4], entries[5]
	if create["before"] != nil || create["after"].(map[string]any)["name"] != "北京" {
		t.Fatalf("create entry = %v, want no before and the new cluster after", create)
	}
	if edit["before"].(map[string]any)["enabled"] != true || edit["after"].(map[string]any)["enabled"] != false {
		t.Fatalf("edit entry = %v, want enabled true → false", edit)
	}
	if del := entries[0]; del["before"] == nil || del["after"] != nil {
		t.Fatalf("delete entry = %v, want the cluster before and nothing after", del)
	}
}

func TestAuditFiltersAndCursor(t *testing.T) {
	e := newEnv(t)
	e.putCluster(t, "BJ", "北京")
	e.putCluster(t, "SH", "上海")
	for _, u := range []string{"a", "b", "c"} {
		e.do(t, http.MethodPut, "/admin/clusters/SH/users/"+u, nil).want(t, http.StatusOK)
	}
	cases := []struct {
		name, query string
		want        []string
	}{
		{"by cluster", "?cluster=BJ", []string{"cluster.put cluster:BJ"}},
		{"cluster in lower case", "?cluster=sh&action=cluster.put", []string{"cluster.put cluster:SH"}},
		{"by action", "?action=user.bind", []string{"user.bind user:c", "user.bind user:b", "user.bind user:a"}},
		{"by actor", "?actor=admin&action=user.bind&cluster=SH", []string{"user.bind user:c", "user.bind user:b", "user.bind user:a"}},
		{"nobody", "?actor=sync", []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			entries, _ := e.auditEntries(t, tc.query)
			if got := actions(entries); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("GET /admin/audit%s = %q, want %q", tc.query, got, tc.want)
			}
		})
	}
	// Paging with limit=2 walks all five entries exactly once.
	var all []string
	cursor := ""
	for range 10 {
		q := "?limit=2"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		page, next := e.auditEntries(t, q)
		all = append(all, actions(page)...)
		if cursor = next; cursor == "" {
			break
		}
	}
	if len(all) != 5 || all[0] != "user.bind user:c" || all[4] != "cluster.put cluster:BJ" {
		t.Fatalf("paged audit = %q", all)
	}
}

func TestAuditBadInput(t *testing.T) {
	e := newEnv(t)
	for _, q := range []string{"?limit=0", "?limit=x", "?limit=100000", "?cursor=garbage"} {
		e.do(t, http.MethodGet, "/admin/audit"+q, nil).want(t, http.StatusBadRequest)
	}
	e.doWith(t, http.MethodGet, "/admin/audit", nil, nil).want(t, http.StatusUnauthorized)
}

// SPEC section 9: never a password, token or secret in an entry. URLs are where operators put
// them (user info, query keys); the admin token and the Authorization header never reach it.
func TestAuditKeepsNoSecret(t *testing.T) {
	e := newEnv(t)
	const secret = "s3cr3t-Pa55"
	// (Credentials in user info are refused by validation already.)
	body := `{"name":"X","sso_url":"https://sso.example/x?api_key=` + secret +
		`","server_url":"https://api.example/x#` + secret + `","token_url":"https://sso.example/t?token=` + secret + `"}`
	e.do(t, http.MethodPut, "/admin/clusters/X", body).want(t, http.StatusCreated)
	e.do(t, http.MethodPut, "/admin/clusters/X/users/alice", nil).want(t, http.StatusOK)
	e.do(t, http.MethodDelete, "/admin/clusters/X", nil)
	r := e.do(t, http.MethodGet, "/admin/audit", nil).want(t, http.StatusOK)
	for _, bad := range []string{secret, testToken, "Bearer"} {
		if strings.Contains(r.raw, bad) {
			t.Fatalf("audit log contains %q: %s", bad, r.raw)
		}
	}
	if !strings.Contains(r.raw, "sso.example/x") {
		t.Fatalf("audit log lost the URL's host and path: %s", r.raw)
	}
}
