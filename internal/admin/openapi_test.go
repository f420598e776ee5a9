package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ssogate/ssogate/docs"
	"github.com/ssogate/ssogate/internal/admin"
	"github.com/ssogate/ssogate/internal/apidoc"
)

// notMergedYet are documented routes that the admin API handler does not serve itself: the
// console (internal/console) is mounted beside it on the admin listener by the gateway, and
// its own tests cover it. A route listed here that the handler starts serving fails the test.
var notMergedYet = map[string]bool{
	"GET /ui/": true, // internal/console, mounted by gateway.withConsole
}

// TestEveryAdminRouteIsDocumented pins SPEC section 11: every route the admin listener
// registers is in docs/openapi.yaml, and every admin operation of the document is served.
func TestEveryAdminRouteIsDocumented(t *testing.T) {
	e := newEnv(t)
	h := admin.New(admin.Options{
		Directory: e.dir, Token: testToken,
		Metrics: http.NotFoundHandler(),
		Reload:  func(context.Context) error { return nil },
		// Optional routes are registered when their backing is wired, as the gateway does.
		SyncStatus: func(context.Context, string) (any, error) { return nil, nil },
	})
	routes := admin.Routes(h)
	if len(routes) == 0 {
		t.Fatal("admin.Routes returned nothing")
	}
	c, err := apidoc.Default()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, op := range c.Operations() {
		documented[op.String()] = true
	}
	served := map[string]bool{}
	for _, pattern := range routes {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok { // a pattern without a method serves GET (and everything else)
			method, path = "GET", pattern
		}
		key := method + " " + path
		served[key] = true
		if strings.HasPrefix(path, "/ui/") && documented["GET /ui/"] {
			continue // the console's pages and assets (issue-11): HTML, not API; its entry is documented
		}
		if !documented[key] {
			t.Errorf("route %q is served but not in docs/openapi.yaml", pattern)
		}
	}
	for _, op := range c.Operations() {
		if op.Path == "/oauth/token" {
			continue // the public listener's, pinned by the gateway's end-to-end tests
		}
		switch {
		case served[op.String()] && notMergedYet[op.String()]:
			t.Errorf("%s is served now: remove it from notMergedYet", op)
		case served[op.String()]:
		case notMergedYet[op.String()]:
			t.Logf("%s is documented and served beside the admin API (the console)", op)
		default:
			t.Errorf("%s is in docs/openapi.yaml but the admin listener does not serve it", op)
		}
	}
}

// TestOpenAPIIsServed pins GET /admin/openapi.yaml: the embedded document, behind the token.
func TestOpenAPIIsServed(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, http.MethodGet, "/admin/openapi.yaml", nil).want(t, http.StatusOK)
	if r.raw != string(docs.OpenAPI) {
		t.Fatalf("served document differs from docs/openapi.yaml (%d bytes, want %d)", len(r.raw), len(docs.OpenAPI))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/yaml" {
		t.Fatalf("Content-Type %q", ct)
	}
	e.doWith(t, http.MethodGet, "/admin/openapi.yaml", nil, nil).want(t, http.StatusUnauthorized)
}
