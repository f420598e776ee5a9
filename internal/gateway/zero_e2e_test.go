package gateway_test

import (
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
)

// A zero in the configuration means what the key's documentation says, never "use the
// default" (SPEC section 6; issue 8 item 5): cache.stale_if_error: 0 is "never serve stale".
// Before the fix the directory took 0 as unset and kept serving the cached answer for 1 h.
func TestStaleIfErrorZeroAnswersUnavailableWhenTheStoreIsDown(t *testing.T) {
	logs := &syncBuffer{}
	sso := startSSO(t, "TEST0525", map[string]string{"cached": "pw"}, logs)
	rs := startOwnRedis(t)
	clusters := []directory.Cluster{{Code: "TEST0525", Name: "测试用", SSOURL: sso.URL + "/sso", ServerURL: sso.URL, Enabled: true}}
	e := startGateway(t, logs, clusters, onRedis(rs.addr, "ssogate:", func(c *config.Config) {
		c.Store.Timeout = 300 * time.Millisecond
		c.Cache.TTL = 50 * time.Millisecond
		c.Cache.StaleIfError = 0
	}))
	e.bind(directory.NamespaceUser, "cached", "TEST0525")
	if r := e.post(true, login("cached", "pw")...); r.code() != 200 {
		t.Fatalf("before the outage: %s", r.Raw)
	}
	rs.stop()
	time.Sleep(100 * time.Millisecond) // the cached answer is past cache.ttl
	for range 3 {
		r := e.post(true, login("cached", "pw")...)
		if r.code() != 1002 || r.str("error") != "temporarily_unavailable" {
			t.Fatalf("stale_if_error 0 with the store down must answer 1002 temporarily_unavailable: %s", r.Raw)
		}
	}
}
