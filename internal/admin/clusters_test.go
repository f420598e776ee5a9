package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ssogate/ssogate/internal/admin"
)

func TestClusterCRUD(t *testing.T) {
	e := newEnv(t)

	r := e.do(t, "GET", "/admin/clusters", nil).want(t, 200)
	if list, ok := r.body["clusters"].([]any); !ok || len(list) != 0 {
		t.Fatalf("empty directory lists %s, want an empty list", r.raw)
	}

	// The code comes from the path, in any case, and is stored upper-case (SPEC section 3).
	r = e.do(t, "PUT", "/admin/clusters/test0525",
		`{"name":"测试用","sso_url":"http://sso.test/sso","server_url":"http://api.test/server"}`).want(t, 201)
	want := map[string]any{"code": "TEST0525", "name": "测试用", "sso_url": "http://sso.test/sso",
		"server_url": "http://api.test/server", "token_url": "", "enabled": true}
	assertCluster(t, r.body, want)

	r = e.do(t, "GET", "/admin/clusters/TEST0525", nil).want(t, 200)
	assertCluster(t, r.body, want)
	r = e.do(t, "GET", "/admin/clusters/Test0525", nil).want(t, 200)
	assertCluster(t, r.body, want)

	// Replace: enabled false and a token URL.
	r = e.do(t, "PUT", "/admin/clusters/TEST0525",
		`{"name":"renamed","sso_url":"http://sso.test/sso","server_url":"http://api.test/server","token_url":"http://sso.test/custom/token","enabled":false}`).want(t, 200)
	want["name"], want["token_url"], want["enabled"] = "renamed", "http://sso.test/custom/token", false
	assertCluster(t, r.body, want)

	e.putCluster(t, "BJEDU", "北京市教委环境")
	r = e.do(t, "GET", "/admin/clusters", nil).want(t, 200)
	list := r.body["clusters"].([]any)
	if len(list) != 2 {
		t.Fatalf("list = %s, want 2 clusters", r.raw)
	}
	if c0 := list[0].(map[string]any); c0["code"] != "BJEDU" {
		t.Errorf("first cluster = %v, want BJEDU (ordered by code)", c0["code"])
	}
	assertCluster(t, list[1].(map[string]any), want)
	if _, has := list[1].(map[string]any)["breaker"]; has {
		t.Errorf("breaker field present without BreakerState: %s", r.raw)
	}

	e.do(t, "DELETE", "/admin/clusters/test0525", nil).want(t, 204)
	r = e.do(t, "GET", "/admin/clusters/TEST0525", nil).want(t, 404)
	if r.str("error") != "not_found" || !strings.Contains(r.str("message"), "TEST0525") {
		t.Errorf("404 body = %s", r.raw)
	}
	e.do(t, "DELETE", "/admin/clusters/TEST0525", nil).want(t, 404)
	if n := len(e.do(t, "GET", "/admin/clusters", nil).want(t, 200).body["clusters"].([]any)); n != 1 {
		t.Errorf("after delete, %d clusters listed, want 1", n)
	}
}

func assertCluster(t *testing.T, got, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("cluster %s = %#v, want %#v (whole: %v)", k, got[k], v, got)
		}
	}
}

func TestPutClusterRejectsBadInput(t *testing.T) {
	e := newEnv(t, func(o *admin.Options) { o.MaxBodyBytes = 1024 })
	const ok = `{"name":"n","sso_url":"http://sso/x","server_url":"http://api/x"}`
	tests := []struct {
		name    string
		path    string
		body    string
		status  int
		message string // a fragment the message must contain
	}{
		{name: "malformed JSON", path: "/admin/clusters/A", body: `{"name":`, status: 400},
		{name: "not an object", path: "/admin/clusters/A", body: `[1,2]`, status: 400},
		{name: "empty body", path: "/admin/clusters/A", body: ``, status: 400, message: "empty"},
		// A typo such as sso_uri must not silently drop the setting.
		{name: "unknown field", path: "/admin/clusters/A", body: `{"name":"n","sso_uri":"http://sso/x","server_url":"http://api/x"}`, status: 400, message: "sso_uri"},
		{name: "code in the body is unknown", path: "/admin/clusters/A", body: `{"code":"B","name":"n","sso_url":"http://sso/x","server_url":"http://api/x"}`, status: 400},
		{name: "trailing data", path: "/admin/clusters/A", body: ok + `{}`, status: 400},
		{name: "missing name", path: "/admin/clusters/A", body: `{"sso_url":"http://sso/x","server_url":"http://api/x"}`, status: 400, message: "name"},
		{name: "missing sso_url", path: "/admin/clusters/A", body: `{"name":"n","server_url":"http://api/x"}`, status: 400, message: "sso_url"},
		{name: "relative server_url", path: "/admin/clusters/A", body: `{"name":"n","sso_url":"http://sso/x","server_url":"/x"}`, status: 400, message: "server_url"},
		{name: "credentials in token_url", path: "/admin/clusters/A", body: `{"name":"n","sso_url":"http://sso/x","server_url":"http://api/x","token_url":"http://u:p@sso/t"}`, status: 400, message: "token_url"},
		{name: "wrong type", path: "/admin/clusters/A", body: `{"name":"n","sso_url":"http://sso/x","server_url":"http://api/x","enabled":"yes"}`, status: 400},
		{name: "invalid code", path: "/admin/clusters/bad!code", body: ok, status: 400, message: "bad!code"},
		{name: "code too long", path: "/admin/clusters/" + strings.Repeat("A", 65), body: ok, status: 400},
		{name: "body too large", path: "/admin/clusters/A", body: `{"name":"` + strings.Repeat("x", 2000) + `"}`, status: 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "PUT", tc.path, tc.body).want(t, tc.status)
			if !strings.Contains(r.str("message"), tc.message) {
				t.Errorf("message %q does not contain %q", r.str("message"), tc.message)
			}
		})
	}
	if n := len(e.do(t, "GET", "/admin/clusters", nil).want(t, 200).body["clusters"].([]any)); n != 0 {
		t.Errorf("a rejected PUT created a cluster: %d listed", n)
	}
}

func TestClusterRoutesRejectInvalidCode(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, method, path string
		status             int
	}{
		{name: "get invalid", method: "GET", path: "/admin/clusters/a%20b", status: 400},
		{name: "get unknown", method: "GET", path: "/admin/clusters/NOPE", status: 404},
		{name: "delete invalid", method: "DELETE", path: "/admin/clusters/a.b", status: 400},
		{name: "delete unknown", method: "DELETE", path: "/admin/clusters/NOPE", status: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.do(t, tc.method, tc.path, nil).want(t, tc.status)
		})
	}
}

func TestBreakerState(t *testing.T) {
	e := newEnv(t, func(o *admin.Options) {
		o.BreakerState = func(code string) string {
			if code == "SICK" {
				return "open"
			}
			return "closed"
		}
	})
	e.putCluster(t, "SICK", "sick")
	e.putCluster(t, "WELL", "well")
	r := e.do(t, http.MethodGet, "/admin/clusters", nil).want(t, 200)
	got := map[string]any{}
	for _, c := range r.body["clusters"].([]any) {
		m := c.(map[string]any)
		got[m["code"].(string)] = m["breaker"]
	}
	if got["SICK"] != "open" || got["WELL"] != "closed" {
		t.Errorf("breaker states = %v", got)
	}
	if b := e.do(t, http.MethodGet, "/admin/clusters/sick", nil).want(t, 200).str("breaker"); b != "open" {
		t.Errorf("GET one: breaker = %q, want open", b)
	}
}
