package refsso

import (
	"bytes"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	wrongPassword = map[string]any{"error": "access_denied", "error_description": "password not match!"}
	needCaptcha   = map[string]any{"error": "invalid_grant", "error_description": "2001"}
	captchaRe     = regexp.MustCompile(`^[0-9]{4,6}$`)
)

func fetchCaptcha(t *testing.T, base, user string) string {
	t.Helper()
	a := do(t, base, call{method: "GET", path: "/captcha?username=" + url.QueryEscape(user)})
	expect(t, a, 200, map[string]any{"username": user})
	c := str(a, "captcha")
	if !captchaRe.MatchString(c) {
		t.Fatalf("captcha = %q, want 4-6 digits", c)
	}
	return c
}

func TestCaptchaAfterFailures(t *testing.T) {
	_, base := start(t, testConfig())
	for range 3 {
		expect(t, login(t, base, "alice", "bad", ""), 400, wrongPassword)
	}
	// From now on the right password alone is not enough.
	expect(t, login(t, base, "alice", "alice-pass", ""), 400, needCaptcha)
	// Failures count per username: bob is untouched.
	expect(t, login(t, base, "bob", "bob-pass", ""), 200, nil)

	code := fetchCaptcha(t, base, "alice")
	if again := fetchCaptcha(t, base, "alice"); again != code {
		t.Fatalf("captcha changed between reads without an attempt: %q then %q", code, again)
	}
	expect(t, login(t, base, "alice", "alice-pass", code+"0"), 400, needCaptcha)
	// A presented captcha is spent even when wrong, so it cannot be guessed at leisure.
	expect(t, login(t, base, "alice", "alice-pass", code), 400, needCaptcha)

	code = fetchCaptcha(t, base, "alice")
	// The right captcha with a wrong password is a wrong password, and spends the captcha.
	expect(t, login(t, base, "alice", "bad", code), 400, wrongPassword)
	expect(t, login(t, base, "alice", "alice-pass", code), 400, needCaptcha)

	code = fetchCaptcha(t, base, "alice")
	expect(t, login(t, base, "alice", "alice-pass", code), 200, nil)
	// Success resets the count: the next failure is a plain wrong password again.
	expect(t, login(t, base, "alice", "bad", ""), 400, wrongPassword)
	expect(t, login(t, base, "alice", "alice-pass", ""), 200, nil)
}

func TestSuccessResetsFailures(t *testing.T) {
	_, base := start(t, testConfig())
	for range 2 {
		expect(t, login(t, base, "alice", "bad", ""), 400, wrongPassword)
	}
	expect(t, login(t, base, "alice", "alice-pass", ""), 200, nil)
	// Without the reset these would be failures 3 and 4, and the login below would need a captcha.
	for range 2 {
		expect(t, login(t, base, "alice", "bad", ""), 400, wrongPassword)
	}
	expect(t, login(t, base, "alice", "alice-pass", ""), 200, nil)
}

func TestCaptchaAfterSetting(t *testing.T) {
	tests := []struct {
		name   string
		after  int
		fails  int
		status int            // answer to the right password after fails wrong ones
		want   map[string]any // ditto
	}{
		{name: "default is 3", after: 0, fails: 2, status: 200, want: map[string]any{"token_type": "bearer"}},
		{name: "default reached", after: 0, fails: 3, status: 400, want: needCaptcha},
		{name: "after 1", after: 1, fails: 1, status: 400, want: needCaptcha},
		{name: "negative never asks", after: -1, fails: 10, status: 200, want: map[string]any{"token_type": "bearer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.CaptchaAfter = tt.after
			_, base := start(t, cfg)
			for range tt.fails {
				expect(t, login(t, base, "alice", "bad", ""), 400, wrongPassword)
			}
			expect(t, login(t, base, "alice", "alice-pass", ""), tt.status, tt.want)
		})
	}
}

func TestCaptchaEndpoint(t *testing.T) {
	tests := []struct {
		name   string
		query  string
		status int
		fields map[string]any
	}{
		{name: "known user", query: "?username=bob", status: 200, fields: map[string]any{"username": "bob"}},
		{name: "missing username", query: "", status: 400, fields: map[string]any{"error": "invalid_request"}},
		// Only configured users get captcha state, so probing names costs no memory.
		{name: "unknown user", query: "?username=carol", status: 404, fields: map[string]any{"error_description": "4006"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, base := start(t, testConfig())
			expect(t, do(t, base, call{method: "GET", path: "/captcha" + tt.query}), tt.status, tt.fields)
		})
	}
}

func refreshCall(client []string, token string) call {
	return call{basic: client, form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}}
}

func checkToken(t *testing.T, base, token string) answer {
	t.Helper()
	return do(t, base, call{method: "GET", path: "/oauth/check_token?token=" + url.QueryEscape(token)})
}

func TestRefreshFlow(t *testing.T) {
	app := []string{"app", "app-secret"}
	_, base := start(t, testConfig())
	first := login(t, base, "alice", "alice-pass", "")
	expect(t, first, 200, nil)
	expect(t, checkToken(t, base, str(first, "access_token")), 200,
		map[string]any{"active": true, "user_name": "alice", "client_id": "app"})

	// Another client cannot use it, and trying does not burn it for its owner.
	expect(t, do(t, base, refreshCall([]string{"pub", ""}, str(first, "refresh_token"))), 400,
		map[string]any{"error": "invalid_grant", "error_description": "Invalid refresh token"})

	second := do(t, base, refreshCall(app, str(first, "refresh_token")))
	expect(t, second, 200, map[string]any{"token_type": "bearer", "scope": "all", "expires_in": 43200})
	if str(second, "access_token") == str(first, "access_token") || str(second, "refresh_token") == str(first, "refresh_token") {
		t.Fatalf("refresh did not issue new tokens: %s", second.raw)
	}
	expect(t, checkToken(t, base, str(second, "access_token")), 200, map[string]any{"user_name": "alice"})
	// Rotation: the spent refresh token and the access token issued with it are gone.
	expect(t, do(t, base, refreshCall(app, str(first, "refresh_token"))), 400, map[string]any{"error": "invalid_grant"})
	expect(t, checkToken(t, base, str(first, "access_token")), 400, map[string]any{"error": "invalid_token"})
	expect(t, do(t, base, refreshCall(app, str(second, "refresh_token"))), 200, nil)
}

func TestBadRefresh(t *testing.T) {
	app := []string{"app", "app-secret"}
	tests := []struct {
		name  string
		token func(t *testing.T, s *Server, base string) string
	}{
		{name: "unknown token", token: func(*testing.T, *Server, string) string { return newUUID() }},
		{name: "missing token", token: func(*testing.T, *Server, string) string { return "" }},
		{name: "access token instead", token: func(t *testing.T, _ *Server, base string) string {
			return str(login(t, base, "alice", "alice-pass", ""), "access_token")
		}},
		{name: "expired token", token: func(t *testing.T, s *Server, base string) string {
			tok := str(login(t, base, "alice", "alice-pass", ""), "refresh_token")
			s.now = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
			return tok
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, base := start(t, testConfig())
			expect(t, do(t, base, refreshCall(app, tt.token(t, s, base))), 400,
				map[string]any{"error": "invalid_grant", "error_description": "Invalid refresh token"})
		})
	}
}

func TestCheckTokenExpiry(t *testing.T) {
	s, base := start(t, testConfig())
	tok := str(login(t, base, "alice", "alice-pass", ""), "access_token")
	expect(t, do(t, base, call{path: "/oauth/check_token", form: url.Values{"token": {tok}}}), 200, map[string]any{"active": true})
	s.now = func() time.Time { return time.Now().Add(13 * time.Hour) }
	expect(t, checkToken(t, base, tok), 400, map[string]any{"error": "invalid_token"})
}

// Two parallel refreshes with one token must not both succeed: rotation would be pointless.
func TestRefreshSpentOnce(t *testing.T) {
	_, base := start(t, testConfig())
	tok := str(login(t, base, "alice", "alice-pass", ""), "refresh_token")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 16 {
		wg.Go(func() {
			if do(t, base, refreshCall([]string{"app", "app-secret"}, tok)).status == 200 {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d refreshes succeeded with one token, want 1", wins)
	}
}

// The logs must never carry a password, a client secret or a token (SPEC section 6).
func TestLogsHoldNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	cfg := testConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	_, base := start(t, cfg)
	ok := login(t, base, "alice", "alice-pass", "")
	login(t, base, "alice", "bad-pass", "")
	login(t, base, "carol", "carol-pass", "")
	r := do(t, base, refreshCall([]string{"app", "app-secret"}, str(ok, "refresh_token")))
	do(t, base, refreshCall([]string{"app", "app-secret"}, "bogus-refresh"))
	if !strings.Contains(buf.String(), "token issued") {
		t.Fatalf("expected grant logs, got %q", buf.String())
	}
	secrets := []string{"alice-pass", "bad-pass", "carol-pass", "app-secret", "bogus-refresh",
		str(ok, "access_token"), str(ok, "refresh_token"), str(r, "access_token"), str(r, "refresh_token")}
	for _, s := range secrets {
		if strings.Contains(buf.String(), s) {
			t.Errorf("log contains %q:\n%s", s, buf.String())
		}
	}
}
