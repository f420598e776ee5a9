package gateway_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/admin"
	"github.com/ssogate/ssogate/internal/audit"
	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
)

// SPEC section 9: the console goes through the same authorisation as the API — the same token
// set — and only scope admin may log in; the token's name is the actor of the console's
// changes.
func TestConsoleLoginUsesTheAdminTokens(t *testing.T) {
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	const opsToken, pushToken = "ops-token-for-the-console", "cluster-token-for-pushes"
	e := startGateway(t, &syncBuffer{}, []directory.Cluster{{Code: "BJ", Name: "北京", SSOURL: "http://127.0.0.1:1/sso",
		ServerURL: "http://127.0.0.1:1", Enabled: true}, {Code: "SY", Name: "synced", SSOURL: "http://127.0.0.1:1/sso",
		ServerURL: "http://127.0.0.1:1", Enabled: true, Sync: &directory.ClusterSync{URL: "http://127.0.0.1:1/users",
			Interval: directory.Duration(time.Hour)}}}, func(c *config.Config) {
		c.AdminTokens = []config.AdminToken{
			{Name: "ops", TokenSHA256: sum(opsToken), Scope: "admin"},
			{Name: "pusher", TokenSHA256: sum(pushToken), Scope: "cluster:BJ"},
		}
	})
	login := func(token string) (*http.Client, *http.Response) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.PostForm(e.adminBase+"/ui/login", url.Values{"token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return c, resp
	}
	// The audit log and the lockouts are scope admin's alone.
	for _, path := range []string{"/admin/audit", "/admin/lockouts?username=alice"} {
		req, _ := http.NewRequest(http.MethodGet, e.adminBase+path, nil)
		req.Header.Set("Authorization", "Bearer "+pushToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("GET %s with a cluster: token: %d, want 403", path, resp.StatusCode)
		}
	}
	if _, resp := login(pushToken); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("a cluster: token logged in: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	c, resp := login(opsToken)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("admin-scope login: %d", resp.StatusCode)
	}
	page, err := c.Get(e.adminBase + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	m := regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`).FindSubmatch(body)
	if m == nil || !strings.Contains(string(body), ">ops<") {
		t.Fatalf("overview after login lacks the CSRF token or the actor:\n%s", body)
	}
	// The import page shows each cluster's scheduled sync status, read from the API.
	imp, err := c.Get(e.adminBase + "/ui/import")
	if err != nil {
		t.Fatal(err)
	}
	impBody, _ := io.ReadAll(imp.Body)
	imp.Body.Close()
	if !strings.Contains(string(impBody), "last_run=") || !strings.Contains(string(impBody), "未配置定时同步") {
		t.Fatalf("import page sync status:\n%s", impBody)
	}
	req, _ := http.NewRequest(http.MethodPut, e.adminBase+"/ui/api/admin/clusters/BJ/users/alice", nil)
	req.Header.Set("X-CSRF-Token", string(m[1]))
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bind through the console: %d", resp.StatusCode)
	}
	entries, _, err := e.g.Directory().AuditLog(context.Background(), audit.Query{Filter: audit.Filter{Action: audit.ActionUserBind}, Limit: 5})
	if err != nil || len(entries) != 1 || entries[0].Actor != "ops" {
		t.Fatalf("audit of the console's bind = %+v, %v; want actor ops", entries, err)
	}
}

// SPEC section 9 behind a load balancer: instances on one store sign sessions with one key
// (kept in the store), so a session opened on one is valid on the others and on an instance
// started later; and a session lasts only while its token is accepted — a reload that rotates
// the token ends it on every instance at the next request.
func TestConsoleSessionsAcrossInstancesEndWithTheirToken(t *testing.T) {
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	const opsToken = "ops-token-shared-by-instances"
	prefix := uniqueRedisPrefix(t)
	t.Cleanup(func() { cleanRedisPrefix(t, prefix) })
	clusters := []directory.Cluster{{Code: "BJ", Name: "北京", SSOURL: "http://127.0.0.1:1/sso", ServerURL: "http://127.0.0.1:1", Enabled: true}}
	withOps := onRedis(testRedisAddr(), prefix, func(c *config.Config) {
		c.AdminTokens = []config.AdminToken{{Name: "ops", TokenSHA256: sum(opsToken), Scope: "admin"}}
	})
	one := startGateway(t, &syncBuffer{}, clusters, withOps)
	two := startGateway(t, &syncBuffer{}, clusters, withOps)

	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
		PostForm(one.adminBase+"/ui/login", url.Values{"token": {opsToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("login on the first instance: %d", resp.StatusCode)
	}
	cookie := resp.Cookies()[0]
	// overview reports whether the cookie opens the overview on e (else the login form).
	overview := func(e *env) bool {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.adminBase+"/ui/", nil)
		req.AddCookie(cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && strings.Contains(string(body), ">ops<") && !strings.Contains(string(body), `name="token"`)
	}
	if !overview(one) || !overview(two) {
		t.Fatalf("the session is not valid on both instances: one %v, two %v", overview(one), overview(two))
	}
	later := startGateway(t, &syncBuffer{}, clusters, withOps)
	if !overview(later) {
		t.Fatal("an instance started later (a restart) does not accept the session")
	}

	// The reload's effect on each instance's token set: the ops token rotated.
	rotated := []admin.Token{{Name: "ops", SHA256: sha256.Sum256([]byte("ops-token-after-rotation")), Scope: "admin"}}
	for _, e := range []*env{one, two, later} {
		if err := e.g.AdminTokens().Set(rotated); err != nil {
			t.Fatal(err)
		}
	}
	for name, e := range map[string]*env{"one": one, "two": two, "later": later} {
		if overview(e) {
			t.Fatalf("instance %s still accepts a session whose token was rotated out", name)
		}
	}
}
