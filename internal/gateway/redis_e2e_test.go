package gateway_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
)

// These tests run the gateway on a real Redis: the machine's (with a unique key prefix) for
// several instances, and a redis-server of the test's own for the outage.

func testRedisAddr() string {
	if a := os.Getenv("SSOGATE_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

func uniqueRedisPrefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	return "ssogatetest:" + hex.EncodeToString(b) + ":"
}

func onRedis(addr, prefix string, extra func(*config.Config)) func(*config.Config) {
	return func(c *config.Config) {
		c.Store.Driver = config.DriverRedis
		c.Store.RedisAddrs = []string{addr}
		c.Store.RedisPrefix = prefix
		if extra != nil {
			extra(c)
		}
	}
}

// admin sends an admin API request and fails the test unless it answers 2xx.
func (e *env) admin(method, path, body string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.adminBase+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		e.t.Fatalf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
}

// visibleWithin polls until check holds and returns how long that took; it fails the test
// past limit (SPEC section 3: every instance sees a change within 1 s).
func visibleWithin(t *testing.T, limit time.Duration, what string, check func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if check() {
			d := time.Since(start)
			t.Logf("%s visible after %v", what, d.Round(time.Millisecond))
			return d
		}
		if time.Since(start) > limit {
			t.Fatalf("%s not visible within %v", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTwoInstancesSeeEachOthersChangesWithinOneSecond(t *testing.T) {
	logs := &syncBuffer{}
	sso := startSSO(t, "TEST0525", map[string]string{"late": "late-pass", "boss": "boss-pass"}, logs)
	prefix := uniqueRedisPrefix(t)
	clusters := []directory.Cluster{{Code: "TEST0525", Name: "测试用", SSOURL: sso.URL + "/sso", ServerURL: sso.URL, Enabled: true}}
	// A long TTL proves that what makes the change visible is invalidation, not expiry.
	tweak := onRedis(testRedisAddr(), prefix, func(c *config.Config) { c.Cache.TTL = time.Hour; c.Cache.ClusterRefresh = time.Hour })
	one := startGateway(t, logs, clusters, tweak)
	two := startGateway(t, logs, clusters, tweak)
	t.Cleanup(func() { cleanRedisPrefix(t, prefix) })

	codeOn := func(e *env, params ...string) func() int {
		return func() int { return e.post(true, params...).code() }
	}
	late := codeOn(two, login("late", "late-pass")...)
	if c := late(); c != 1004 {
		t.Fatalf("before the bind: %d", c) // and instance two now caches "unknown"
	}
	var worst time.Duration
	track := func(d time.Duration) { worst = max(worst, d) }

	one.admin("PUT", "/admin/clusters/TEST0525/users/late", "")
	track(visibleWithin(t, time.Second, "bind", func() bool { return late() == 200 }))

	one.admin("DELETE", "/admin/clusters/TEST0525/users/late", "")
	track(visibleWithin(t, time.Second, "unbind", func() bool { return late() == 1004 }))

	boss := codeOn(two, login("boss", "boss-pass", "client", "manager")...)
	boss()
	one.admin("PUT", "/admin/clusters/TEST0525/users/boss?client=manager", "")
	track(visibleWithin(t, time.Second, "manager bind", func() bool { return boss() == 200 }))

	newCode := codeOn(two, login("late", "late-pass", "clusterCode", "NEW")...)
	if c := newCode(); c != 1001 {
		t.Fatalf("unknown cluster: %d", c)
	}
	one.admin("PUT", "/admin/clusters/NEW", fmt.Sprintf(`{"name":"new","sso_url":%q,"server_url":%q}`, sso.URL+"/sso", sso.URL))
	one.admin("PUT", "/admin/clusters/NEW/users/late", "")
	track(visibleWithin(t, time.Second, "new cluster", func() bool { return newCode() == 200 }))

	one.admin("PUT", "/admin/clusters/NEW", fmt.Sprintf(`{"name":"new","sso_url":%q,"server_url":%q,"enabled":false}`, sso.URL+"/sso", sso.URL))
	track(visibleWithin(t, time.Second, "disabled cluster", func() bool { return newCode() == 1001 }))

	one.admin("PUT", "/admin/clusters/NEW", fmt.Sprintf(`{"name":"new","sso_url":%q,"server_url":%q}`, sso.URL+"/sso", sso.URL))
	track(visibleWithin(t, time.Second, "re-enabled cluster", func() bool { return newCode() == 200 }))
	one.admin("DELETE", "/admin/clusters/NEW", "")
	track(visibleWithin(t, time.Second, "deleted cluster", func() bool { return newCode() == 1001 }))
	t.Logf("worst visibility delay across instances: %v", worst.Round(time.Millisecond))
}

// redisServer is a redis-server of the test's own, which it may stop and start again.
type redisServer struct {
	addr, dir string
	cmd       *exec.Cmd
}

func startOwnRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed: run ./scripts/test.sh, which installs it")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := &redisServer{addr: addr, dir: t.TempDir()}
	r.start(t)
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) start(t *testing.T) {
	t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	// Append-only with fsync always: the data outlives the restart, as a production Redis's.
	r.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "",
		"--appendonly", "yes", "--appendfsync", "always", "--dir", r.dir)
	r.cmd.Stdout, r.cmd.Stderr = nil, nil
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", r.addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not start", r.addr)
		}
	}
}

func (r *redisServer) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

func TestRedisOutage(t *testing.T) {
	logs := &syncBuffer{}
	sso := startSSO(t, "TEST0525", map[string]string{"cached": "pw", "other": "pw"}, logs)
	rs := startOwnRedis(t)
	clusters := []directory.Cluster{{Code: "TEST0525", Name: "测试用", SSOURL: sso.URL + "/sso", ServerURL: sso.URL, Enabled: true}}
	const storeTimeout = 300 * time.Millisecond
	e := startGateway(t, logs, clusters, onRedis(rs.addr, "ssogate:", func(c *config.Config) {
		c.Store.Timeout = storeTimeout
		c.Cache.TTL = 50 * time.Millisecond // entries need revalidation during the outage
	}))
	e.bind(directory.NamespaceUser, "cached", "TEST0525")
	e.bind(directory.NamespaceUser, "other", "TEST0525")
	if r := e.post(true, login("cached", "pw")...); r.code() != 200 {
		t.Fatalf("before the outage: %s", r.Raw)
	}
	ready := func() int {
		resp, err := e.client().Get(e.adminBase + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if ready() != 200 {
		t.Fatal("not ready before the outage")
	}

	rs.stop()
	time.Sleep(100 * time.Millisecond)
	sent, failed := 0, 0
	for range 20 {
		sent++
		if r := e.post(true, login("cached", "pw")...); r.code() != 200 {
			failed++
			t.Errorf("a cached username during the outage: %s", r.Raw)
		}
	}
	t.Logf("during the outage: %d logins of a cached username, %d failed", sent, failed)
	start := time.Now()
	r := e.post(true, login("uncached", "pw")...)
	elapsed := time.Since(start)
	if r.code() != 1002 || r.str("error") != "temporarily_unavailable" {
		t.Fatalf("an uncached username during the outage must be temporarily_unavailable, never 1004: %s", r.Raw)
	}
	t.Logf("uncached lookup answered in %v (store.timeout %v)", elapsed.Round(time.Millisecond), storeTimeout)
	if elapsed > 3*time.Second {
		t.Fatalf("an uncached lookup hung for %v", elapsed)
	}
	visibleWithin(t, 5*time.Second, "not ready", func() bool { return ready() == 503 })

	rs.start(t)
	visibleWithin(t, 10*time.Second, "ready again", func() bool { return ready() == 200 })
	visibleWithin(t, 5*time.Second, "recovered lookups", func() bool {
		return e.post(true, login("other", "pw")...).code() == 200 && e.post(true, login("uncached", "pw")...).code() == 1004
	})
}

// cleanRedisPrefix removes a test's keys from the shared Redis.
func cleanRedisPrefix(t *testing.T, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", "-h", strings.Split(testRedisAddr(), ":")[0], "-p", strings.Split(testRedisAddr(), ":")[1],
		"--scan", "--pattern", prefix+"*").Output()
	if err != nil {
		return
	}
	keys := strings.Fields(string(out))
	for len(keys) > 0 {
		n := min(len(keys), 500)
		args := append([]string{"-h", strings.Split(testRedisAddr(), ":")[0], "-p", strings.Split(testRedisAddr(), ":")[1], "DEL"}, keys[:n]...)
		exec.CommandContext(ctx, "redis-cli", args...).Run()
		keys = keys[n:]
	}
}

// TestConcurrentUncachedLoginsOnRedis: 64 clients at once past a cache far smaller than the
// usernames they name, so nearly every answer is a Redis lookup, most of them gathered with
// others into shared round trips (redisstore/gather.go): each client still gets its own
// answer — 200 from its cluster, 1000 for a username bound to two, 1004 for an unknown one.
func TestConcurrentUncachedLoginsOnRedis(t *testing.T) {
	logs := &syncBuffer{}
	users := map[string]string{}
	for i := range 150 {
		name := fmt.Sprintf("u%03d", i)
		users[name] = "pw-" + name
	}
	ssoA := startSSO(t, "ALPHA", users, logs)
	ssoB := startSSO(t, "BRAVO", users, logs)
	prefix := uniqueRedisPrefix(t)
	clusters := []directory.Cluster{
		{Code: "ALPHA", Name: "alpha", SSOURL: ssoA.URL + "/sso", ServerURL: ssoA.URL, Enabled: true},
		{Code: "BRAVO", Name: "bravo", SSOURL: ssoB.URL + "/sso", ServerURL: ssoB.URL, Enabled: true},
	}
	// The limiter is off: the unknown usernames would count as failures of the one client IP.
	e := startGateway(t, logs, clusters, onRedis(testRedisAddr(), prefix, func(c *config.Config) {
		c.Cache.Size = 8
		c.RateLimit.Enabled = false
	}))
	t.Cleanup(func() { cleanRedisPrefix(t, prefix) })
	want := map[string]int{}
	for i := range 200 {
		name := fmt.Sprintf("u%03d", i)
		switch {
		case i < 100:
			e.bind(directory.NamespaceUser, name, "ALPHA")
			want[name] = 200
		case i < 150:
			e.bind(directory.NamespaceUser, name, "ALPHA")
			e.bind(directory.NamespaceUser, name, "BRAVO")
			want[name] = 1000
		default:
			want[name] = 1004
		}
	}
	post := func(name string) (int, string, error) {
		form := url.Values{"grant_type": {"password"}, "username": {name}, "password": {"pw-" + name}}
		req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(clientID, clientSecret)
		resp, err := httpClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		var body struct {
			Code        int    `json:"code"`
			ClusterCode string `json:"cluster_code"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return 0, "", fmt.Errorf("answer is not JSON: %w", err)
		}
		return body.Code, body.ClusterCode, nil
	}
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Go(func() {
			for i := w; i < 3*200; i += 64 {
				name := fmt.Sprintf("u%03d", i%200)
				code, cluster, err := post(name)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
				if code != want[name] || (code == 200 && cluster != "ALPHA") {
					t.Errorf("%s: code %d cluster %q, want code %d (cluster ALPHA for 200)", name, code, cluster, want[name])
					return
				}
			}
		})
	}
	wg.Wait()
}
