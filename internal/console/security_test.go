package console_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/audit"
)

// SPEC section 9: GET /ui/ without a session shows a login form whose field is named token.
func TestLoginForm(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser(t)
	for _, path := range []string{"/ui/", "/ui/clusters", "/ui/audit"} {
		p := b.get(path)
		if p.status != http.StatusOK || !strings.Contains(p.body, `name="token"`) || strings.Contains(p.body, `id="overview-table"`) {
			t.Fatalf("GET %s without a session: %d, want the login form:\n%s", path, p.status, p.body)
		}
	}
	// Fragments and API calls without a session are refused in JSON.
	for _, path := range []string{"/ui/overview/live", "/ui/api/admin/clusters"} {
		if p := b.do(http.MethodGet, path, "", nil, map[string]string{"HX-Request": "true"}); p.status != http.StatusUnauthorized || !strings.Contains(p.body, `"error":"unauthorized"`) {
			t.Fatalf("GET %s without a session: %d %s", path, p.status, p.body)
		}
	}
}

func TestLoginRefusesBadTokens(t *testing.T) {
	e := newEnv(t, false)
	cases := []struct{ name, token string }{
		{"wrong token", "nope"},
		{"empty", ""},
		// A cluster-scope token is refused by Authenticate (the gateway asks the token table).
		{"cluster scope", "cluster:BJ-token"},
		{"admin token with a suffix", adminToken + "x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser(t)
			p := b.login(tc.token)
			if p.status != http.StatusUnauthorized || p.header.Get("Set-Cookie") != "" || !strings.Contains(p.body, `name="token"`) {
				t.Fatalf("login(%q) = %d, cookie %q", tc.token, p.status, p.header.Get("Set-Cookie"))
			}
		})
	}
}

// The session cookie: HttpOnly, SameSite=Strict, 12 h, Secure under TLS, signed.
func TestSessionCookie(t *testing.T) {
	for _, tls := range []bool{false, true} {
		e := newEnv(t, tls)
		b := e.browser(t)
		p := b.login(adminToken)
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/" {
			t.Fatalf("login: %d → %q", p.status, p.header.Get("Location"))
		}
		resp := http.Response{Header: p.header}
		cookies := resp.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies = %v", cookies)
		}
		c := cookies[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.MaxAge != int((12*time.Hour).Seconds()) || c.Secure != tls || c.Path != "/ui/" {
			t.Fatalf("tls=%v: cookie %+v: want HttpOnly, SameSite=Strict, Max-Age 12 h, Secure=%v", tls, c, tls)
		}
		if strings.Contains(c.Value, adminToken) {
			t.Fatal("the cookie carries the token")
		}
	}
}

func TestTamperedOrForeignSessionRefused(t *testing.T) {
	e := newEnv(t, false)
	b := e.loggedIn(t)
	u := b.e.srv.URL + "/ui/"
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	cookie := b.c.Jar.Cookies(req.URL)[0].Value
	parts := strings.Split(cookie, ".")
	if len(parts) != 5 {
		t.Fatalf("session cookie %q: want actor.binding.expiry.id.mac", cookie)
	}
	join := func(p ...string) string { return strings.Join(p, ".") }
	cases := []struct{ name, value string }{
		{"actor changed", join("cm9vdA", parts[1], parts[2], parts[3], parts[4])},
		{"binding changed", join(parts[0], "b3RoZXI", parts[2], parts[3], parts[4])},
		{"expiry extended", join(parts[0], parts[1], "9999999999", parts[3], parts[4])},
		{"mac cut", join(parts[0], parts[1], parts[2], parts[3], "")},
		{"garbage", "x"},
	}
	// A cookie signed by another console (another key) is worthless here.
	other := newEnv(t, false).loggedIn(t)
	oreq, _ := http.NewRequest(http.MethodGet, other.e.srv.URL+"/ui/", nil)
	cases = append(cases, struct{ name, value string }{"other instance's key", other.c.Jar.Cookies(oreq.URL)[0].Value})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, u, nil)
			r.AddCookie(&http.Cookie{Name: "ssogate_session", Value: tc.value})
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			r2, _ := http.NewRequest(http.MethodGet, b.e.srv.URL+"/ui/api/admin/clusters", nil)
			r2.AddCookie(&http.Cookie{Name: "ssogate_session", Value: tc.value})
			resp2, err := http.DefaultClient.Do(r2)
			if err != nil {
				t.Fatal(err)
			}
			resp2.Body.Close()
			if resp2.StatusCode != http.StatusUnauthorized {
				t.Fatalf("API with a %s cookie: %d, want 401", tc.name, resp2.StatusCode)
			}
		})
	}
}

// A session lasts only while its token is accepted: once StillValid says no (a reload removed
// or rotated the token), pages show the login form and the API bridge answers 401.
func TestSessionEndsWhenItsTokenIsRevoked(t *testing.T) {
	e := newEnv(t, false)
	b := e.loggedIn(t)
	if a := b.api(http.MethodGet, "/admin/clusters", ""); a.status != http.StatusOK {
		t.Fatalf("API before the revocation: %d %s", a.status, a.body)
	}
	e.revoked.Store(true)
	if a := b.api(http.MethodGet, "/admin/clusters", ""); a.status != http.StatusUnauthorized {
		t.Fatalf("API after the revocation: %d, want 401", a.status)
	}
	if p := b.get("/ui/clusters"); p.status != http.StatusOK || !strings.Contains(p.body, `name="token"`) {
		t.Fatalf("page after the revocation: %d, want the login form", p.status)
	}
	if a := b.do(http.MethodPost, "/ui/clusters/X/probe", "", nil, map[string]string{"X-CSRF-Token": b.csrf}); a.status != http.StatusUnauthorized {
		t.Fatalf("a change after the revocation: %d, want 401", a.status)
	}
}

// SPEC section 9: every state-changing request is protected against CSRF.
func TestCSRF(t *testing.T) {
	e := newEnv(t, false)
	b := e.loggedIn(t)
	body := `{"name":"北京","sso_url":"http://127.0.0.1:1/sso","server_url":"http://127.0.0.1:1"}`
	cases := []struct {
		name string
		hdr  map[string]string
	}{
		{"no token", nil},
		{"wrong token", map[string]string{"X-CSRF-Token": "forged"}},
		{"token but cross-site", map[string]string{"X-CSRF-Token": b.csrf, "Sec-Fetch-Site": "cross-site"}},
		{"token but foreign origin", map[string]string{"X-CSRF-Token": b.csrf, "Origin": "http://evil.example"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := b.do(http.MethodPut, "/ui/api/admin/clusters/BJ", "application/json", strings.NewReader(body), tc.hdr)
			if p.status != http.StatusForbidden || !strings.Contains(p.body, `"error":"csrf"`) {
				t.Fatalf("PUT without a valid CSRF token: %d %s", p.status, p.body)
			}
		})
	}
	// A form post (logout, probe) is checked the same way.
	if p := b.do(http.MethodPost, "/ui/logout", "application/x-www-form-urlencoded", strings.NewReader("csrf=forged"), nil); p.status != http.StatusForbidden {
		t.Fatalf("logout with a forged token: %d", p.status)
	}
	if p := b.do(http.MethodPost, "/ui/login", "application/x-www-form-urlencoded", strings.NewReader("token="+adminToken),
		map[string]string{"Origin": "http://evil.example"}); p.status != http.StatusForbidden {
		t.Fatalf("cross-site login: %d", p.status)
	}
	if _, err := e.dir.GetCluster(t.Context(), "BJ"); err == nil {
		t.Fatal("a refused request created the cluster")
	}
	// With the token the same request goes through, as the session's actor.
	if p := b.api(http.MethodPut, "/admin/clusters/BJ", body); p.status != http.StatusCreated {
		t.Fatalf("PUT with the CSRF token: %d %s", p.status, p.body)
	}
	entries, _, err := e.dir.AuditLog(t.Context(), audit.Query{Limit: 5})
	if err != nil || len(entries) != 1 || entries[0].Actor != "ops" || entries[0].Action != audit.ActionClusterPut {
		t.Fatalf("audit after a console change = %+v, %v; want one cluster.put by ops", entries, err)
	}
	// Logout with the token ends the session.
	form := "csrf=" + b.csrf
	if p := b.do(http.MethodPost, "/ui/logout", "application/x-www-form-urlencoded", strings.NewReader(form), nil); p.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", p.status)
	}
	if p := b.get("/ui/api/admin/clusters"); p.status != http.StatusUnauthorized {
		t.Fatalf("API after logout: %d", p.status)
	}
}

var (
	inlineScript  = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]`)
	scriptTag     = regexp.MustCompile(`(?i)<script[^>]*>`)
	inlineHandler = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	inlineStyle   = regexp.MustCompile(`(?i)\sstyle\s*=`)
)

// SPEC section 9: a Content-Security-Policy without inline scripts, and pages that need none.
func TestCSPAndNoInlineScript(t *testing.T) {
	e := newEnv(t, false)
	b := e.loggedIn(t)
	b.api(http.MethodPut, "/admin/clusters/BJ", `{"name":"北京","sso_url":"http://127.0.0.1:1/sso","server_url":"http://127.0.0.1:1"}`)
	pages := []string{"/ui/", "/ui/clusters", "/ui/users?username=alice", "/ui/users?list=BJ", "/ui/import",
		"/ui/lockouts?username=alice", "/ui/audit", "/ui/overview/live"}
	for _, path := range pages {
		p := b.get(path)
		if p.status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, p.status)
		}
		csp := p.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Fatalf("GET %s: CSP %q", path, csp)
		}
		for _, tag := range scriptTag.FindAllString(p.body, -1) {
			if !strings.Contains(tag, ` src="/ui/static/`) {
				t.Fatalf("GET %s has a script not loaded from /ui/static/: %q", path, tag)
			}
		}
		for name, re := range map[string]*regexp.Regexp{"inline script": inlineScript,
			"inline handler": inlineHandler, "inline style": inlineStyle} {
			if m := re.FindString(p.body); m != "" {
				t.Fatalf("GET %s has an %s: %q", path, name, m)
			}
		}
		if p.header.Get("X-Frame-Options") != "DENY" || p.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("GET %s: headers %v", path, p.header)
		}
	}
}

// Chinese by default, English by Accept-Language or the switch (which wins).
func TestLanguage(t *testing.T) {
	e := newEnv(t, false)
	b := e.loggedIn(t)
	if p := b.get("/ui/"); !strings.Contains(p.body, "概览") || !strings.Contains(p.body, `lang="zh-CN"`) {
		t.Fatal("default language is not Chinese")
	}
	if p := b.do(http.MethodGet, "/ui/", "", nil, map[string]string{"Accept-Language": "en-US,en;q=0.9"}); !strings.Contains(p.body, "Overview") {
		t.Fatal("Accept-Language en did not give English")
	}
	if p := b.get("/ui/lang/en?back=/ui/clusters"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/clusters" {
		t.Fatalf("switch: %d → %q", p.status, p.header.Get("Location"))
	}
	if p := b.do(http.MethodGet, "/ui/", "", nil, map[string]string{"Accept-Language": "zh-CN"}); !strings.Contains(p.body, "Overview") {
		t.Fatal("the switch's choice did not win over Accept-Language")
	}
	// An open redirect through back= is refused.
	if p := b.get("/ui/lang/zh?back=//evil.example/"); p.header.Get("Location") != "/ui/" {
		t.Fatalf("back=//evil: Location %q", p.header.Get("Location"))
	}
}
