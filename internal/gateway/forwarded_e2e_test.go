package gateway_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
)

// postXFF sends a login with the given X-Forwarded-For lines (each its own header line) and
// X-Forwarded-Proto.
func postXFF(e *env, lines []string, proto string, params ...string) reply {
	e.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		form.Add(params[i], params[i+1])
	}
	req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	req.Header["X-Forwarded-For"] = lines
	if proto != "" {
		req.Header.Set("X-Forwarded-Proto", proto)
	}
	return e.do(req)
}

// TestForwardedForTrust pins SPEC section 2 step 6 (issue 8 item 3).
func TestForwardedForTrust(t *testing.T) {
	sso := startRefSSO(t, "XFF", map[string]string{"alice": "alice-pass", "bob": "bob-pass"}, -1, nil)
	clusters := []directory.Cluster{clusterAt("XFF", sso.URL)}

	t.Run("all lines of a trusted proxy's header are one list", func(t *testing.T) {
		// The gateway's peer (loopback) is a trusted proxy that appended its own line with the
		// real client, 203.0.113.9; the client wrote a fresh first line each time, hoping to
		// pick its rate-limit address. Reading only the first line let 8 of 8 through.
		e := startGateway(t, &syncBuffer{}, clusters, func(c *config.Config) {
			c.HTTP.TrustedProxies = []string{"127.0.0.1"}
			c.RateLimit.IPFailures = 3
			c.RateLimit.UserFailures = 100
		})
		e.bind(directory.NamespaceUser, "alice", "XFF")
		reached := 0
		for i := range 8 {
			r := postXFF(e, []string{"198.51.100." + strconv.Itoa(i+1), "203.0.113.9"}, "https", login("alice", "wrong"+strconv.Itoa(i))...)
			switch r.str("error") {
			case "access_denied":
				reached++
			case "too_many_requests":
				wantLimited(t, r)
			default:
				t.Fatalf("attempt %d: %s", i+1, r.Raw)
			}
		}
		if reached != 3 {
			t.Fatalf("%d of 8 spoofed attempts reached the SSO, want 3 (ip_failures)", reached)
		}
		got := sso.last(t)
		if got.XFF != "198.51.100.3, 203.0.113.9, 127.0.0.1" || got.Proto != "https" {
			t.Fatalf("the SSO received X-Forwarded-For %q, proto %q", got.XFF, got.Proto)
		}
	})

	t.Run("an untrusted peer's X-Forwarded-For is replaced", func(t *testing.T) {
		e := startGateway(t, &syncBuffer{}, clusters, nil) // no trusted proxies
		e.bind(directory.NamespaceUser, "bob", "XFF")
		r := postXFF(e, []string{"6.6.6.6", "7.7.7.7"}, "https", login("bob", "bob-pass")...)
		if r.code() != 200 {
			t.Fatal(r.Raw)
		}
		got := sso.last(t)
		if got.XFF != "127.0.0.1" || got.Proto != "http" {
			t.Fatalf("the SSO received X-Forwarded-For %q, proto %q; want the peer alone and the connection's proto", got.XFF, got.Proto)
		}
	})
}
