package gateway_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
)

// postFrom is postAsync from a client address told by X-Forwarded-For (the gateway trusts
// loopback proxies in these tests), so each case has an IP budget of its own.
func postFrom(e *env, xff string, params ...string) reply {
	form := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		form.Add(params[i], params[i+1])
	}
	req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", xff)
	req.SetBasicAuth(clientID, clientSecret)
	resp, err := httpClient.Do(req)
	if err != nil {
		return reply{Raw: err.Error()}
	}
	defer resp.Body.Close()
	r := reply{Status: resp.StatusCode, Header: resp.Header}
	_ = jsonNewDecoder(resp).Decode(&r.Body)
	r.Raw = fmt.Sprint(r.Body)
	return r
}

func burstFrom(e *env, n int, xff string, params func(i int) []string) []reply {
	out := make([]reply, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = postFrom(e, xff, params(i)...)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// TestParallelCorrectLoginsAreNotLockedOut pins SPEC section 6 (issue 8 item 4) on both
// stores: a login refused only because other attempts are still in flight waits for them,
// and a refusal states the real remaining lock in Retry-After and in the text.
func TestParallelCorrectLoginsAreNotLockedOut(t *testing.T) {
	for _, store := range []struct {
		name  string
		tweak func(*config.Config)
	}{
		{"embedded", nil},
		{"redis", onRedis(testRedisAddr(), "", nil)},
	} {
		t.Run(store.name, func(t *testing.T) {
			users := map[string]string{"alice": "alice-pass"}
			for i := range 8 {
				users["nat"+strconv.Itoa(i)] = "nat-pass"
			}
			sso := startRefSSO(t, "SLOW", users, -1, delayed(150*time.Millisecond))
			e := startGateway(t, &syncBuffer{}, []directory.Cluster{clusterAt("SLOW", sso.URL)}, func(c *config.Config) {
				if store.tweak != nil {
					store.tweak(c)
					c.Store.RedisPrefix = uniqueRedisPrefix(t)
					t.Cleanup(func() { cleanRedisPrefix(t, c.Store.RedisPrefix) })
				}
				c.HTTP.TrustedProxies = []string{"127.0.0.1"}
				c.RateLimit.UserFailures = 10
				c.RateLimit.IPFailures = 6
				// A lock longer than the counter's window, so that the two figures differ.
				c.RateLimit.UserWindow = time.Minute
				c.RateLimit.LockoutBase = 3 * time.Minute
			})
			for u := range users {
				e.bind(directory.NamespaceUser, u, "SLOW")
			}

			t.Run("eight correct logins after four failures", func(t *testing.T) {
				for i := range 4 {
					wantWrongPassword(t, postFrom(e, "203.0.113.1", login("alice", "guess"+strconv.Itoa(i))...))
				}
				for i, r := range burstFrom(e, 8, "203.0.113.1", func(int) []string { return login("alice", "alice-pass") }) {
					if r.code() != 200 {
						t.Errorf("login %d: %s (Retry-After %q)", i+1, r.Raw, r.Header.Get("Retry-After"))
					}
				}
				if n := metricValue(t, e, "ssogate_ratelimit_waits_total"); n < 1 {
					t.Errorf("ssogate_ratelimit_waits_total = %v: the logins did not overlap", n)
				}
			})

			t.Run("many users behind one NAT address", func(t *testing.T) {
				// The address has 3 recent failures of a budget of 6; 8 colleagues log in at
				// once: 11 reservations, 3 failures.
				for i := range 3 {
					wantWrongPassword(t, postFrom(e, "203.0.113.2", login("nat"+strconv.Itoa(i), "typo")...))
				}
				for i, r := range burstFrom(e, 8, "203.0.113.2", func(i int) []string { return login("nat"+strconv.Itoa(i), "nat-pass") }) {
					if r.code() != 200 {
						t.Errorf("login of nat%d: %s (Retry-After %q)", i, r.Raw, r.Header.Get("Retry-After"))
					}
				}
			})

			t.Run("Retry-After is the real lock", func(t *testing.T) {
				// From two addresses, so that the IP budget (6) is not what refuses.
				for i := range 10 {
					wantWrongPassword(t, postFrom(e, "203.0.113."+strconv.Itoa(3+i%2), login("alice", "again"+strconv.Itoa(i))...))
				}
				r := postFrom(e, "203.0.113.5", login("alice", "alice-pass")...)
				wantLimited(t, r)
				secs, _ := strconv.Atoi(r.Header.Get("Retry-After"))
				// The lock is 3 min; the counter's 1 min window is not what refuses.
				if secs < 170 || secs > 180 {
					t.Fatalf("Retry-After %d, want the 3 min lock's remaining time", secs)
				}
				// The lockouts API tells the same time.
				_, m := e.adminJSON("GET", "/admin/lockouts?username=alice", e.adminToken)
				until, err := time.Parse(time.RFC3339, fmt.Sprint(m["locked_until"]))
				if d := time.Until(until) - time.Duration(secs)*time.Second; err != nil || d < -2*time.Second || d > 2*time.Second {
					t.Fatalf("locked_until %v vs Retry-After %d s (%v)", m["locked_until"], secs, err)
				}
				if !strings.Contains(r.str("error_description"), strconv.Itoa(secs)) {
					t.Fatalf("text %q does not state the %d s of Retry-After", r.str("error_description"), secs)
				}
			})
		})
	}
}

// The same across two instances sharing Redis: attempts in flight on the other instance are
// waited for too.
func TestParallelCorrectLoginsAcrossTwoInstances(t *testing.T) {
	sso := startRefSSO(t, "SLOW", map[string]string{"alice": "alice-pass"}, -1, delayed(150*time.Millisecond))
	prefix := uniqueRedisPrefix(t)
	t.Cleanup(func() { cleanRedisPrefix(t, prefix) })
	tweak := onRedis(testRedisAddr(), prefix, func(c *config.Config) { c.RateLimit.UserFailures = 10 })
	one := startGateway(t, &syncBuffer{}, []directory.Cluster{clusterAt("SLOW", sso.URL)}, tweak)
	two := startGateway(t, &syncBuffer{}, []directory.Cluster{clusterAt("SLOW", sso.URL)}, tweak)
	one.bind(directory.NamespaceUser, "alice", "SLOW")
	for i := range 4 {
		wantWrongPassword(t, one.post(true, login("alice", "guess"+strconv.Itoa(i))...))
	}
	out := make([]reply, 8)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range out {
		e := one
		if i%2 == 1 {
			e = two
		}
		wg.Go(func() {
			<-start
			out[i] = postAsync(e, login("alice", "alice-pass")...)
		})
	}
	close(start)
	wg.Wait()
	for i, r := range out {
		if r.code() != 200 {
			t.Errorf("login %d: %s (Retry-After %q)", i+1, r.Raw, r.Header.Get("Retry-After"))
		}
	}
}
