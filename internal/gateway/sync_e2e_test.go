package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
)

const pushToken = "push-token-of-cluster-push"

// call sends an admin request with token and decodes a JSON answer.
func (e *env) call(token, method, path, body string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.adminBase+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// syncRuns reads ssogate_sync_runs_total{cluster,result="success"} from an instance's /metrics.
func (e *env) syncRuns(code string) int {
	e.t.Helper()
	resp, err := httpClient.Get(e.adminBase + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`ssogate_sync_runs_total\{cluster="` + code + `",result="success"\} (\d+)`)
	m := re.FindSubmatch(raw)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// allUsers pages through a cluster's bindings (a Redis page may be short, or empty with a
// cursor, when its time budget ends).
func (e *env) allUsers(code string) []string {
	e.t.Helper()
	var out []string
	cursor := ""
	for range 10_000 {
		st, page := e.call(e.adminToken, "GET", "/admin/clusters/"+code+"/users?limit=1000&cursor="+url.QueryEscape(cursor), "")
		if st != 200 {
			e.t.Fatalf("list %s: %d %v", code, st, page)
		}
		for _, u := range page["usernames"].([]any) {
			out = append(out, u.(string))
		}
		if cursor, _ = page["next_cursor"].(string); cursor == "" {
			return out
		}
	}
	e.t.Fatalf("list %s did not end", code)
	return nil
}

func num(m map[string]any, key string) int {
	f, _ := m[key].(float64)
	return int(f)
}

// TestThreeWaysInOnRedis runs SPEC section 8 end to end on two gateway instances sharing one
// Redis, with the real reference SSO: push with a cluster-scoped token, reconcile with dry run
// and guard, and a scheduled sync from the SSO's user list that exactly one instance runs.
func TestThreeWaysInOnRedis(t *testing.T) {
	logs := &syncBuffer{}
	users := map[string]string{"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
	sso := startSSO(t, "E2E", users, logs)
	prefix := uniqueRedisPrefix(t)
	t.Cleanup(func() { cleanRedisPrefix(t, prefix) })
	cluster := func(code string) directory.Cluster {
		return directory.Cluster{Code: code, Name: code, SSOURL: sso.URL + "/sso", ServerURL: sso.URL, Enabled: true}
	}
	tweak := onRedis(testRedisAddr(), prefix, func(c *config.Config) {
		c.Cache.TTL = time.Hour // what makes changes visible is invalidation
		c.AdminTokens = []config.AdminToken{{Name: "push-backend", TokenSHA256: sha(pushToken), Scope: "cluster:PUSH"}}
	})
	clusters := []directory.Cluster{cluster("PUSH"), cluster("OTHER")}
	one := startGateway(t, logs, clusters, tweak)
	two := startGateway(t, logs, clusters, tweak)
	loginOn := func(e *env, user string) func() int {
		return func() int { return e.post(true, login(user, users[user])...).code() }
	}

	t.Run("push with a scoped token", func(t *testing.T) {
		one, two := one.as(t), two.as(t)
		alice := loginOn(two, "alice")
		if c := alice(); c != 1004 {
			t.Fatalf("before the push: %d", c)
		}
		if st, _ := one.call(pushToken, "PUT", "/admin/clusters/PUSH/users/alice", ""); st != 200 {
			t.Fatalf("scoped bind: %d", st)
		}
		visibleWithin(t, time.Second, "pushed bind", func() bool { return alice() == 200 })
		for _, p := range []struct{ method, path string }{
			{"PUT", "/admin/clusters/OTHER/users/alice"}, {"GET", "/admin/clusters"}, {"DELETE", "/admin/clusters/PUSH"},
			{"GET", "/admin/users/alice"}, {"GET", "/admin/clusters/PUSH/sync"},
		} {
			if st, body := one.call(pushToken, p.method, p.path, ""); st != 403 || body["error"] != "forbidden" {
				t.Fatalf("%s %s with the scoped token: %d %v, want 403 forbidden", p.method, p.path, st, body)
			}
		}
	})

	t.Run("reconcile with dry run and guard", func(t *testing.T) {
		one, two := one.as(t), two.as(t)
		var b strings.Builder
		for i := range 1200 {
			fmt.Fprintf(&b, "old%d\n", i)
		}
		if st, _ := one.call(pushToken, "POST", "/admin/clusters/PUSH/users", b.String()); st != 200 {
			t.Fatalf("bulk bind: %d", st)
		}
		old := func() int { return two.post(true, login("old7", "x")...).code() }
		if c := old(); c == 1004 {
			t.Fatal("bulk-bound user unknown")
		}
		list := "alice\nbob\n"
		st, dry := one.call(pushToken, "PUT", "/admin/clusters/PUSH/users?dry_run=true", list)
		if st != 200 || num(dry, "removed") != 1200 || num(dry, "added") != 1 || num(dry, "unchanged") != 1 || dry["dry_run"] != true {
			t.Fatalf("dry run: %d %v", st, dry)
		}
		st, guard := one.call(pushToken, "PUT", "/admin/clusters/PUSH/users", list)
		if st != 409 || guard["error"] != "too_many_removals" || num(guard, "removed") != 1200 {
			t.Fatalf("guarded reconcile: %d %v", st, guard)
		}
		if c := old(); c == 1004 {
			t.Fatal("a refused reconcile removed a binding")
		}
		st, res := one.call(pushToken, "PUT", "/admin/clusters/PUSH/users?max_removals=-1", list)
		if st != 200 || num(res, "removed") != 1200 || num(res, "added") != 1 {
			t.Fatalf("reconcile: %d %v", st, res)
		}
		// One notification for the whole reconcile, and every instance sees it within 1 s.
		visibleWithin(t, time.Second, "reconciled removal", func() bool { return old() == 1004 })
		visibleWithin(t, time.Second, "reconciled addition", func() bool { return loginOn(two, "bob")() == 200 })
	})

	t.Run("scheduled sync from the reference SSO, one instance", func(t *testing.T) {
		one, two := one.as(t), two.as(t)
		body := fmt.Sprintf(`{"name":"sync","sso_url":%q,"server_url":%q,"sync":{"url":%q,"interval":"1s"}}`,
			sso.URL+"/sso", sso.URL, sso.URL+"/sso/users")
		if st, _ := one.call(one.adminToken, "PUT", "/admin/clusters/SYNC", body); st != 201 {
			t.Fatalf("create cluster with sync: %d", st)
		}
		one.bind(directory.NamespaceUser, "stale", "SYNC")
		var status map[string]any
		visibleWithin(t, 10*time.Second, "first sync", func() bool {
			_, status = two.call(two.adminToken, "GET", "/admin/clusters/SYNC/sync", "")
			return status["last_success"] != nil
		})
		if num(status, "added") != 3 || num(status, "removed") != 1 || status["error"] != "" {
			t.Fatalf("sync status: %v", status)
		}
		carol := func() int {
			return two.post(true, login("carol", users["carol"], "clusterCode", "SYNC")...).code()
		}
		visibleWithin(t, time.Second, "synced user", func() bool { return carol() == 200 })
		// More runs at the 1 s interval (a run on a loaded machine may take seconds: the walk
		// covers every bucket), all by the same instance.
		var r1, r2 int
		visibleWithin(t, 30*time.Second, "three sync runs", func() bool {
			r1, r2 = one.syncRuns("SYNC"), two.syncRuns("SYNC")
			return r1+r2 >= 3
		})
		if (r1 == 0) == (r2 == 0) {
			t.Fatalf("sync runs by instance: %d and %d; want all of them by exactly one instance", r1, r2)
		}
		_, status = one.call(one.adminToken, "GET", "/admin/clusters/SYNC/sync", "")
		if num(status, "runs") != r1+r2 {
			t.Fatalf("shared status counts %d runs, the instances %d", num(status, "runs"), r1+r2)
		}
		t.Logf("runs: instance one %d, instance two %d; status %v", r1, r2, status)
	})

	t.Run("bad source", func(t *testing.T) {
		one := one.as(t)
		body := fmt.Sprintf(`{"name":"bad","sso_url":%q,"server_url":%q,"sync":{"url":%q,"interval":"1s"}}`,
			sso.URL+"/sso", sso.URL, sso.URL+"/sso/no-such-list")
		if st, _ := one.call(one.adminToken, "PUT", "/admin/clusters/BAD", body); st != 201 {
			t.Fatalf("create cluster: %d", st)
		}
		one.bind(directory.NamespaceUser, "keeper", "BAD")
		var status map[string]any
		visibleWithin(t, 10*time.Second, "failed sync", func() bool {
			_, status = one.call(one.adminToken, "GET", "/admin/clusters/BAD/sync", "")
			return status["last_run"] != nil
		})
		if !strings.Contains(fmt.Sprint(status["error"]), "HTTP 404") || status["last_success"] != nil {
			t.Fatalf("status of a failing source: %v", status)
		}
		if got := one.allUsers("BAD"); fmt.Sprint(got) != "[keeper]" {
			t.Fatalf("bindings after a failing sync: %v", got)
		}
		if st, _ := one.call(one.adminToken, "GET", "/admin/clusters/NOPE/sync", ""); st != 404 {
			t.Fatalf("sync status of an unknown cluster: %d", st)
		}
	})
	if strings.Contains(logs.String(), pushToken) {
		t.Fatal("the push token appears in the log")
	}
}
