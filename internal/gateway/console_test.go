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
		ServerURL: "http://127.0.0.1:1", Enabled: true}}, func(c *config.Config) {
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
