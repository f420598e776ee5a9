package admin_test

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"

	"github.com/ssogate/ssogate/internal/admin"
)

const (
	pushTokenA = "push-token-of-cluster-a"
	pushTokenB = "push-token-of-cluster-b"
	opsToken   = "named-admin-token"
)

func scopedTokens(t *testing.T) *admin.Tokens {
	t.Helper()
	tokens, err := admin.NewTokens([]admin.Token{
		admin.LegacyToken(testToken),
		{Name: "ops", SHA256: sha256.Sum256([]byte(opsToken)), Scope: "admin"},
		{Name: "backend-a", SHA256: sha256.Sum256([]byte(pushTokenA)), Scope: "cluster:a"}, // code case folds
		{Name: "backend-b", SHA256: sha256.Sum256([]byte(pushTokenB)), Scope: "cluster:B"},
	})
	if err != nil {
		t.Fatalf("NewTokens: %v", err)
	}
	return tokens
}

// TestScopeMatrix pins SPEC section 8: an admin-scoped token reaches every route; a
// cluster-scoped one only bind, unbind, bulk bind, reconcile and list of its own cluster, and
// gets 403 {"error":"forbidden"} everywhere else; a missing or wrong token is 401.
func TestScopeMatrix(t *testing.T) {
	tokens := scopedTokens(t)
	e := newEnv(t, func(o *admin.Options) { o.Tokens = tokens; o.Token = "" })
	e.putCluster(t, "A", "Cluster A")
	e.putCluster(t, "B", "Cluster B")

	type route struct {
		name, method, path, body string
		ok                       int // status for an allowed caller
	}
	own := func(code string) []route {
		return []route{
			{"bind", "PUT", "/admin/clusters/" + code + "/users/u1", "", 200},
			{"unbind", "DELETE", "/admin/clusters/" + code + "/users/u1", "", 204},
			{"bulk", "POST", "/admin/clusters/" + code + "/users", "u2\nu3\n", 200},
			{"reconcile", "PUT", "/admin/clusters/" + code + "/users?dry_run=true", "u2\n", 200},
			{"list", "GET", "/admin/clusters/" + code + "/users", "", 200},
			{"manager list", "GET", "/admin/clusters/" + code + "/users?client=manager", "", 200},
		}
	}
	adminOnly := []route{
		{"list clusters", "GET", "/admin/clusters", "", 200},
		{"get cluster", "GET", "/admin/clusters/A", "", 200},
		{"put cluster", "PUT", "/admin/clusters/A", `{"name":"Cluster A","sso_url":"http://sso.example/A","server_url":"http://api.example/A"}`, 200},
		{"lookup user", "GET", "/admin/users/u2", "", 200},
	}
	call := func(t *testing.T, token string, rt route) result {
		t.Helper()
		h := map[string]string{}
		if token != "" {
			h["Authorization"] = "Bearer " + token
		}
		var body any
		if rt.body != "" {
			body = rt.body
		}
		return e.doWith(t, rt.method, rt.path, body, h)
	}
	for _, tok := range []struct{ name, token string }{{"legacy admin_token", testToken}, {"named admin token", opsToken}} {
		for _, rt := range append(append(own("A"), own("B")...), adminOnly...) {
			t.Run(tok.name+"/"+rt.name+" "+rt.path, func(t *testing.T) { call(t, tok.token, rt).want(t, rt.ok) })
		}
	}
	for _, rt := range own("A") {
		t.Run("cluster:A/own "+rt.name, func(t *testing.T) { call(t, pushTokenA, rt).want(t, rt.ok) })
		// The code in the path is matched after normalisation: lower case is the same cluster.
		lower := rt
		lower.path = strings.Replace(rt.path, "/clusters/A/", "/clusters/a/", 1)
		lower.path = strings.Replace(lower.path, "/clusters/A?", "/clusters/a?", 1)
		if strings.HasSuffix(lower.path, "/clusters/A") {
			lower.path = strings.TrimSuffix(lower.path, "A") + "a"
		}
		t.Run("cluster:A/own lower-case "+rt.name, func(t *testing.T) { call(t, pushTokenA, lower).want(t, rt.ok) })
	}
	forbidden := append(own("B"), adminOnly...)
	forbidden = append(forbidden, route{"delete cluster", "DELETE", "/admin/clusters/A", "", 0},
		route{"other cluster's sync", "GET", "/admin/clusters/A/sync", "", 0})
	for _, rt := range forbidden {
		t.Run("cluster:A/forbidden "+rt.name+" "+rt.path, func(t *testing.T) {
			r := call(t, pushTokenA, rt)
			if rt.name == "other cluster's sync" && r.status == http.StatusNotFound {
				return // no sync wired in this env: the route does not exist
			}
			r.want(t, http.StatusForbidden)
			if r.str("error") != "forbidden" {
				t.Fatalf("error = %q, want forbidden", r.str("error"))
			}
		})
	}
	for _, bad := range []string{"", "wrong", pushTokenA + "x", pushTokenA[:10]} {
		t.Run("unauthenticated "+bad, func(t *testing.T) {
			call(t, bad, own("A")[0]).want(t, http.StatusUnauthorized)
		})
	}
	logs := e.logs.String()
	for _, secret := range []string{testToken, opsToken, pushTokenA, pushTokenB} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a token appears in the log")
		}
	}
	if !strings.Contains(logs, `"actor":"backend-a"`) || !strings.Contains(logs, `"actor":"admin"`) {
		t.Fatalf("the access log does not name the actor:\n%s", logs)
	}
}

// TestTokensSetRotates pins the run-time rotation SIGHUP relies on: after Set, the old token
// is refused and the new one accepted, without a new handler.
func TestTokensSetRotates(t *testing.T) {
	tokens := scopedTokens(t)
	e := newEnv(t, func(o *admin.Options) { o.Tokens = tokens })
	auth := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	e.doWith(t, "GET", "/admin/clusters", nil, auth(opsToken)).want(t, 200)
	if err := tokens.Set([]admin.Token{{Name: "ops", SHA256: sha256.Sum256([]byte("rotated")), Scope: "admin"}}); err != nil {
		t.Fatal(err)
	}
	e.doWith(t, "GET", "/admin/clusters", nil, auth(opsToken)).want(t, 401)
	e.doWith(t, "GET", "/admin/clusters", nil, auth(testToken)).want(t, 401)
	e.doWith(t, "GET", "/admin/clusters", nil, auth("rotated")).want(t, 200)
	// A bad scope refuses the whole new set and keeps the current one.
	if err := tokens.Set([]admin.Token{{Name: "x", Scope: "cluster:not a code"}}); err == nil {
		t.Fatal("Set accepted an invalid scope")
	}
	e.doWith(t, "GET", "/admin/clusters", nil, auth("rotated")).want(t, 200)
}

func TestPrincipalAllows(t *testing.T) {
	tests := []struct {
		name  string
		p     admin.Principal
		route admin.Route
		code  string
		want  bool
	}{
		{"admin anywhere", admin.Principal{Name: "a"}, admin.RouteAdmin, "", true},
		{"admin on bindings", admin.Principal{Name: "a"}, admin.RouteClusterBindings, "X", true},
		{"cluster own bindings", admin.Principal{Name: "b", Cluster: "X"}, admin.RouteClusterBindings, "x", true},
		{"cluster other bindings", admin.Principal{Name: "b", Cluster: "X"}, admin.RouteClusterBindings, "Y", false},
		{"cluster admin route", admin.Principal{Name: "b", Cluster: "X"}, admin.RouteAdmin, "X", false},
		{"cluster malformed code", admin.Principal{Name: "b", Cluster: "X"}, admin.RouteClusterBindings, "X/..", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Allows(tc.route, tc.code); got != tc.want {
				t.Fatalf("Allows = %v, want %v", got, tc.want)
			}
		})
	}
}
