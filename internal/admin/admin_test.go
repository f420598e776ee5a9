package admin_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ssogate/ssogate/internal/admin"
)

func withMetrics(o *admin.Options) {
	o.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write([]byte("ssogate_up 1\n"))
	})
}

func TestAuth(t *testing.T) {
	e := newEnv(t, withMetrics)
	tests := []struct {
		name   string
		method string
		path   string
		auth   string // Authorization header; "" sends none
		status int
	}{
		{name: "no header", method: "GET", path: "/admin/clusters", status: 401},
		{name: "wrong token", method: "GET", path: "/admin/clusters", auth: "Bearer nope", status: 401},
		// A prefix of the token must not pass (constant-time compare of the whole value).
		{name: "token prefix", method: "GET", path: "/admin/clusters", auth: "Bearer " + testToken[:5], status: 401},
		{name: "basic scheme", method: "GET", path: "/admin/clusters", auth: "Basic " + testToken, status: 401},
		{name: "right token", method: "GET", path: "/admin/clusters", auth: "Bearer " + testToken, status: 200},
		{name: "scheme is case-insensitive", method: "GET", path: "/admin/clusters", auth: "bearer " + testToken, status: 200},
		// Unauthenticated callers must not learn which admin routes exist.
		{name: "unknown admin route without token", method: "GET", path: "/admin/nothing", status: 401},
		{name: "write without token", method: "DELETE", path: "/admin/clusters/A", status: 401},
		{name: "healthz needs no token", method: "GET", path: "/healthz", status: 200},
		{name: "readyz needs no token", method: "GET", path: "/readyz", status: 200},
		{name: "metrics needs no token", method: "GET", path: "/metrics", status: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.auth != "" {
				h["Authorization"] = tc.auth
			}
			r := e.doWith(t, tc.method, tc.path, nil, h).want(t, tc.status)
			if tc.status == 401 {
				if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate = %q, want Bearer", got)
				}
				if r.str("error") != "unauthorized" {
					t.Errorf("error = %q, want unauthorized", r.str("error"))
				}
			}
		})
	}
	if strings.Contains(e.logs.String(), testToken) {
		t.Errorf("the admin token appears in the log:\n%s", e.logs.String())
	}
	if !strings.Contains(e.logs.String(), `"path":"/admin/clusters"`) || !strings.Contains(e.logs.String(), `"status":401`) {
		t.Errorf("requests are not logged with path and status:\n%s", e.logs.String())
	}
}

// Without a token configured, the admin paths fail closed rather than open.
func TestEmptyTokenLocksAdmin(t *testing.T) {
	e := newEnv(t, func(o *admin.Options) { o.Token = "" })
	e.doWith(t, "GET", "/admin/clusters", nil, map[string]string{"Authorization": "Bearer "}).want(t, 401)
	e.doWith(t, "GET", "/healthz", nil, nil).want(t, 200)
}

func TestHealthAndMetrics(t *testing.T) {
	tests := []struct {
		name    string
		opts    func(*admin.Options)
		path    string
		status  int
		contain string
	}{
		{name: "healthz", path: "/healthz", status: 200, contain: `"ok"`},
		{name: "readyz on a reachable store", path: "/readyz", status: 200, contain: `"ready"`},
		{name: "readyz when Ready fails", path: "/readyz", status: 503, contain: "store down",
			opts: func(o *admin.Options) {
				o.Ready = func(context.Context) error { return errors.New("store down") }
			}},
		{name: "metrics served", path: "/metrics", status: 200, contain: "ssogate_up 1", opts: withMetrics},
		{name: "metrics nil is a JSON 404", path: "/metrics", status: 404, contain: "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []func(*admin.Options)
			if tc.opts != nil {
				opts = append(opts, tc.opts)
			}
			e := newEnv(t, opts...)
			r := e.doWith(t, "GET", tc.path, nil, nil).want(t, tc.status)
			if !strings.Contains(r.raw, tc.contain) {
				t.Errorf("body %q does not contain %q", r.raw, tc.contain)
			}
		})
	}
}

// Unmatched routes and wrong methods answer JSON, never the mux's text/plain.
func TestUnknownRoutesAnswerJSON(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		method string
		path   string
		status int
		allow  string
	}{
		{name: "unknown path", method: "GET", path: "/nope", status: 404},
		{name: "unknown admin path", method: "GET", path: "/admin/nope", status: 404},
		{name: "too deep", method: "GET", path: "/admin/clusters/A/users/bob/extra", status: 404},
		{name: "reload not configured", method: "POST", path: "/admin/reload", status: 404},
		{name: "wrong method on list", method: "POST", path: "/admin/clusters", status: 405, allow: "GET"},
		{name: "wrong method on cluster", method: "PATCH", path: "/admin/clusters/A", status: 405, allow: "PUT"},
		{name: "wrong method on healthz", method: "POST", path: "/healthz", status: 405, allow: "GET"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.method, tc.path, nil).want(t, tc.status)
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			if tc.allow != "" && !strings.Contains(r.header.Get("Allow"), tc.allow) {
				t.Errorf("Allow = %q, want it to contain %s", r.header.Get("Allow"), tc.allow)
			}
		})
	}
}

func TestReload(t *testing.T) {
	var calls atomic.Int32
	var fail atomic.Bool
	e := newEnv(t, func(o *admin.Options) {
		o.Reload = func(context.Context) error {
			calls.Add(1)
			if fail.Load() {
				return errors.New("config: listen: bad address")
			}
			return nil
		}
	})
	e.do(t, "POST", "/admin/reload", nil).want(t, 200)
	fail.Store(true)
	r := e.do(t, "POST", "/admin/reload", nil).want(t, 500)
	if !strings.Contains(r.str("message"), "listen") {
		t.Errorf("message %q does not name the failing key", r.str("message"))
	}
	e.doWith(t, "POST", "/admin/reload", nil, nil).want(t, 401)
	if n := calls.Load(); n != 2 {
		t.Errorf("Reload called %d times, want 2", n)
	}
}

// A store that cannot answer gives 503 on the admin routes and not-ready on /readyz.
func TestStoreUnavailable(t *testing.T) {
	e := newEnv(t)
	e.putCluster(t, "A", "a")
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{name: "readyz", method: "GET", path: "/readyz", status: 503},
		{name: "list clusters", method: "GET", path: "/admin/clusters", status: 503},
		{name: "get cluster", method: "GET", path: "/admin/clusters/A", status: 503},
		{name: "bind", method: "PUT", path: "/admin/clusters/A/users/bob", status: 503},
		{name: "lookup", method: "GET", path: "/admin/users/bob", status: 503},
		{name: "bulk", method: "POST", path: "/admin/clusters/A/users", body: "bob\n", status: 503},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			e.do(t, tc.method, tc.path, body).want(t, tc.status)
		})
	}
}
