package refsso

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestTokenEndpoint(t *testing.T) {
	pw := func(user, pass string) url.Values {
		return url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}}
	}
	with := func(v url.Values, kv ...string) url.Values {
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	ok := map[string]any{"token_type": "bearer", "scope": "all", "expires_in": 43200}
	tests := []struct {
		name   string
		c      call
		status int
		fields map[string]any
	}{
		{
			name:   "basic client",
			c:      call{basic: []string{"app", "app-secret"}, form: pw("alice", "alice-pass")},
			status: 200, fields: ok,
		},
		{
			name:   "client in form",
			c:      call{form: with(pw("alice", "alice-pass"), "client_id", "app", "client_secret", "app-secret")},
			status: 200, fields: ok,
		},
		{
			// SPEC section 2: a public client may send client_id alone — the SSO decides.
			name:   "public client by client_id alone",
			c:      call{form: with(pw("alice", "alice-pass"), "client_id", "pub")},
			status: 200, fields: ok,
		},
		{
			name:   "public client by basic with empty secret",
			c:      call{basic: []string{"pub", ""}, form: pw("alice", "alice-pass")},
			status: 200, fields: ok,
		},
		{
			name:   "confidential client without secret",
			c:      call{form: with(pw("alice", "alice-pass"), "client_id", "app")},
			status: 401, fields: map[string]any{"error": "invalid_client", "error_description": "Bad client credentials"},
		},
		{
			name:   "unknown client",
			c:      call{basic: []string{"nobody", "x"}, form: pw("alice", "alice-pass")},
			status: 401, fields: map[string]any{"error": "invalid_client", "error_description": "Bad client credentials"},
		},
		{
			name:   "wrong secret",
			c:      call{form: with(pw("alice", "alice-pass"), "client_id", "app", "client_secret", "nope")},
			status: 401, fields: map[string]any{"error": "invalid_client", "error_description": "Bad client credentials"},
		},
		{
			// The gateway must cope with Spring's generic shape, which has no error_description.
			name:   "basic not base64",
			c:      call{header: map[string]string{"Authorization": "Basic !!!"}, form: pw("alice", "alice-pass")},
			status: 401,
			fields: map[string]any{"status": 401, "error": "Unauthorized", "path": "/sso/oauth/token",
				"message": "Failed to decode basic authentication token", "error_description": nil},
		},
		{
			name:   "basic without colon",
			c:      call{header: map[string]string{"Authorization": "Basic YXBw"}, form: pw("alice", "alice-pass")},
			status: 401,
			fields: map[string]any{"status": 401, "error": "Unauthorized",
				"message": "Invalid basic authentication token", "error_description": nil},
		},
		{
			// Spring's Basic filter ignores other schemes; the form credentials then count.
			name: "bearer header ignored",
			c: call{header: map[string]string{"Authorization": "Bearer abc"},
				form: with(pw("alice", "alice-pass"), "client_id", "app", "client_secret", "app-secret")},
			status: 200, fields: ok,
		},
		{
			name:   "no client at all",
			c:      call{form: pw("alice", "alice-pass")},
			status: 401, fields: map[string]any{"error": "unauthorized"},
		},
		{
			name:   "client_id differs from basic",
			c:      call{basic: []string{"app", "app-secret"}, form: with(pw("alice", "alice-pass"), "client_id", "pub")},
			status: 401, fields: map[string]any{"error": "invalid_client"},
		},
		{
			name:   "missing grant_type",
			c:      call{basic: []string{"app", "app-secret"}, form: url.Values{"username": {"alice"}, "password": {"alice-pass"}}},
			status: 400, fields: map[string]any{"error": "invalid_request", "error_description": "Missing grant type"},
		},
		{
			name:   "unsupported grant_type",
			c:      call{basic: []string{"app", "app-secret"}, form: url.Values{"grant_type": {"implicit"}}},
			status: 400, fields: map[string]any{"error": "unsupported_grant_type", "error_description": "Unsupported grant type: implicit"},
		},
		{
			// The seed: error_description 4006 means no such user.
			name:   "unknown user",
			c:      call{basic: []string{"app", "app-secret"}, form: pw("carol", "x")},
			status: 400, fields: map[string]any{"error": "invalid_grant", "error_description": "4006"},
		},
		{
			// The seed's 1002 example carries exactly this error and text.
			name:   "wrong password",
			c:      call{basic: []string{"app", "app-secret"}, form: pw("alice", "alice-pass!")},
			status: 400, fields: map[string]any{"error": "access_denied", "error_description": "password not match!"},
		},
		{
			name:   "parameters in the query",
			c:      call{basic: []string{"app", "app-secret"}, query: pw("alice", "alice-pass")},
			status: 200, fields: ok,
		},
		{
			// SPEC section 2: body wins over the query string.
			name:   "body wins over query",
			c:      call{basic: []string{"app", "app-secret"}, query: pw("alice", "wrong"), form: pw("alice", "alice-pass")},
			status: 200, fields: ok,
		},
		{
			name:   "body over the limit",
			c:      call{basic: []string{"app", "app-secret"}, body: "grant_type=password&x=" + strings.Repeat("a", 64<<10)},
			status: 413, fields: map[string]any{"error": "invalid_request"},
		},
		{
			name:   "malformed body",
			c:      call{basic: []string{"app", "app-secret"}, body: "grant_type=%zz"},
			status: 400, fields: map[string]any{"error": "invalid_request"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, base := start(t, testConfig())
			a := do(t, base, tt.c)
			expect(t, a, tt.status, tt.fields)
			if a.header.Get("Pragma") != "no-cache" {
				t.Errorf("Pragma = %q", a.header.Get("Pragma"))
			}
			if tt.status == 200 {
				for _, f := range []string{"access_token", "refresh_token"} {
					if !uuidRe.MatchString(str(a, f)) {
						t.Errorf("%s = %q, want a random UUID", f, str(a, f))
					}
				}
			}
		})
	}
}

func TestMethodsAndPaths(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		status int
		allow  string
		fields map[string]any
	}{
		{name: "GET token", method: "GET", path: "/oauth/token", status: 405, allow: "POST",
			fields: map[string]any{"error": "method_not_allowed", "error_description": "Request method 'GET' not supported"}},
		{name: "PUT token", method: "PUT", path: "/oauth/token", status: 405, allow: "POST"},
		{name: "DELETE token", method: "DELETE", path: "/oauth/token", status: 405, allow: "POST"},
		{name: "POST captcha", method: "POST", path: "/captcha?username=alice", status: 405, allow: "GET"},
		{name: "PUT check_token", method: "PUT", path: "/oauth/check_token", status: 405, allow: "GET, POST"},
		{name: "unknown path", method: "GET", path: "/nope", status: 404,
			fields: map[string]any{"status": 404, "error": "Not Found", "path": "/sso/nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, base := start(t, testConfig())
			a := do(t, base, call{method: tt.method, path: tt.path})
			expect(t, a, tt.status, tt.fields)
			if got := a.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestEmptyPrefix(t *testing.T) {
	cfg := testConfig()
	cfg.Prefix = "/"
	_, base := start(t, cfg)
	expect(t, login(t, base, "alice", "alice-pass", ""), 200, nil)
	expect(t, do(t, base, call{path: "/sso/oauth/token"}), 404, nil)
}
