package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/cli"
	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
)

// adminJSON sends an admin request and decodes its JSON answer (any status).
func (e *env) adminJSON(method, path, token string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.adminBase+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		e.t.Fatalf("%s %s: not JSON: %q", method, path, raw)
	}
	return resp.StatusCode, m
}

func (e *env) cli(args ...string) (int, string) {
	e.t.Helper()
	var out, errOut bytes.Buffer
	env := map[string]string{cli.EnvAdminURL: e.adminBase, cli.EnvAdminToken: e.adminToken}
	code := cli.Run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String() + errOut.String()
}

// TestLockoutsAPI pins SPEC section 9 "Lockouts API" through the real gateway, on both stores:
// read and clear a username's (per namespace) or an address's brute-force state, by the
// admin API and by the CLI.
func TestLockoutsAPI(t *testing.T) {
	for _, store := range []struct {
		name  string
		tweak func(*config.Config)
	}{
		{"embedded", nil},
		{"redis", onRedis(testRedisAddr(), "", nil)},
	} {
		t.Run(store.name, func(t *testing.T) {
			sso := startRefSSO(t, "LO", map[string]string{"alice": "alice-pass"}, -1, nil)
			e := startGateway(t, &syncBuffer{}, []directory.Cluster{clusterAt("LO", sso.URL)}, func(c *config.Config) {
				if store.tweak != nil {
					store.tweak(c)
					c.Store.RedisPrefix = uniqueRedisPrefix(t)
					t.Cleanup(func() { cleanRedisPrefix(t, c.Store.RedisPrefix) })
				}
				c.RateLimit.UserFailures = 3
				c.RateLimit.LockoutBase = 20 * time.Minute // longer than the 15 min window
			})
			e.bind(directory.NamespaceUser, "alice", "LO")
			for range 3 {
				wantWrongPassword(t, e.post(true, login("alice", "wrong")...))
			}
			wantLimited(t, e.post(true, login("alice", "alice-pass")...))

			status, m := e.adminJSON("GET", "/admin/lockouts?username=alice", e.adminToken)
			until, _ := time.Parse(time.RFC3339, m["locked_until"].(string))
			if status != 200 || m["failures"] != float64(3) || m["strikes"] != float64(1) || m["locked"] != true ||
				until.Before(time.Now().Add(19*time.Minute)) || until.After(time.Now().Add(21*time.Minute)) {
				t.Fatalf("GET locked alice: %d %v", status, m)
			}
			if _, m := e.adminJSON("GET", "/admin/lockouts?username=alice&client=manager", e.adminToken); m["locked"] != false || m["locked_until"] != nil || m["failures"] != float64(0) {
				t.Fatalf("the manager namespace's alice: %v", m)
			}
			if _, m := e.adminJSON("GET", "/admin/lockouts?ip=127.0.0.1", e.adminToken); m["failures"] != float64(3) || m["locked"] != false {
				t.Fatalf("GET the address: %v", m)
			}
			for _, bad := range []string{"", "?username=alice&ip=127.0.0.1", "?ip=not-an-ip", "?username=%01"} {
				if status, m := e.adminJSON("GET", "/admin/lockouts"+bad, e.adminToken); status != 400 || m["error"] != "invalid_request" {
					t.Errorf("GET %q: %d %v, want 400 JSON", bad, status, m)
				}
				if status, _ := e.adminJSON("DELETE", "/admin/lockouts"+bad, e.adminToken); status != 400 {
					t.Errorf("DELETE %q: %d, want 400", bad, status)
				}
			}
			if status, _ := e.adminJSON("DELETE", "/admin/lockouts?username=alice", ""); status != 401 {
				t.Fatalf("DELETE without a token: %d", status)
			}

			code, out := e.cli("lockout", "get", "--user", "alice")
			if code != 0 || !strings.Contains(out, "locked until") || !strings.Contains(out, "failures: 3") {
				t.Fatalf("ssogate lockout get: %d %s", code, out)
			}
			if code, out := e.cli("lockout", "get", "--user", "alice", "--ip", "127.0.0.1"); code != 2 {
				t.Fatalf("both --user and --ip: %d %s", code, out)
			}
			if code, out := e.cli("lockout", "clear", "--user", "alice"); code != 0 || !strings.Contains(out, "cleared") {
				t.Fatalf("ssogate lockout clear: %d %s", code, out)
			}
			if r := e.post(true, login("alice", "alice-pass")...); r.code() != 200 {
				t.Fatalf("login after the clear: %s", r.Raw)
			}
			if status, m := e.adminJSON("DELETE", "/admin/lockouts?ip=127.0.0.1", e.adminToken); status != 200 || m["cleared"] != true {
				t.Fatalf("DELETE the address: %d %v", status, m)
			}
			if _, m := e.adminJSON("GET", "/admin/lockouts?ip=127.0.0.1", e.adminToken); m["failures"] != float64(0) {
				t.Fatalf("the address after its clear: %v", m)
			}
		})
	}

	t.Run("rate limiting off", func(t *testing.T) {
		e := startGateway(t, &syncBuffer{}, nil, func(c *config.Config) { c.RateLimit.Enabled = false })
		if status, m := e.adminJSON("GET", "/admin/lockouts?username=alice", e.adminToken); status != 503 || m["error"] != "ratelimit_disabled" {
			t.Fatalf("%d %v", status, m)
		}
	})
}
