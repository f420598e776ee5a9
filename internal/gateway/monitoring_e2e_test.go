package gateway_test

import (
	"encoding/json"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
)

// notExportedYet are metrics the dashboard and the alerts use that another branch adds:
// issue-9's scheduled sync (ssogate_sync_interval_seconds is the interval the SyncStale
// alert needs, asked of issue-9 for its metric set). The lead's merge check: once a name is
// exported this test fails until it is removed here.
var notExportedYet = map[string]string{}

var metricName = regexp.MustCompile(`\bssogate_[a-z0-9_]+`)

// monitoredMetrics returns every metric name in deploy/grafana/ssogate.json (panel and
// variable queries) and deploy/prometheus/ssogate-rules.yaml (alert expressions).
func monitoredMetrics(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	add := func(where, expr string) {
		for _, name := range metricName.FindAllString(expr, -1) {
			used[name] = append(used[name], where)
		}
	}
	raw, err := os.ReadFile("../../deploy/grafana/ssogate.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name       string
				Definition string
			}
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("deploy/grafana/ssogate.json: %v", err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			add("dashboard panel "+p.Title, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		add("dashboard variable "+v.Name, v.Definition)
	}
	raw, err = os.ReadFile("../../deploy/prometheus/ssogate-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("deploy/prometheus/ssogate-rules.yaml: %v", err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			add("alert "+r.Alert, r.Expr)
		}
	}
	if len(used) < 10 {
		t.Fatalf("found only %d metric names in the dashboard and the rules", len(used))
	}
	return used
}

// SPEC section 11: every metric that the dashboard and the rules name exists in a running
// gateway's /metrics — a renamed metric breaks the build, not the on-call night. The gateway
// is exercised first so that series made on first use (answers by code, SSO latency, breaker
// state, gateway errors, lockouts) exist.
func TestEveryMonitoredMetricIsExported(t *testing.T) {
	sso := startRefSSO(t, "MON", map[string]string{"alice": "alice-pass", "bob": "bob-pass"}, -1, nil)
	// A cluster with a scheduled sync from its reference SSO's user list: the sync series.
	// Its own SSO and user, so the sync binds no one the logins below use.
	syncSSO := startRefSSO(t, "SYN", map[string]string{"sam": "sam-pass"}, -1, nil)
	synced := clusterAt("SYN", syncSSO.URL)
	synced.Sync = &directory.ClusterSync{URL: strings.TrimSuffix(synced.SSOURL, "/") + "/users", Interval: directory.Duration(time.Second)}
	e := startGateway(t, &syncBuffer{}, []directory.Cluster{clusterAt("MON", sso.URL), clusterAt("DOWN", deadURL(t)), synced},
		func(c *config.Config) {
			c.RateLimit.UserFailures = 2
			c.SSO.BreakerFailures = 2
		})
	e.bind(directory.NamespaceUser, "alice", "MON")
	e.bind(directory.NamespaceUser, "bob", "MON")
	e.bind(directory.NamespaceUser, "dora", "DOWN")

	if r := e.post(true, login("alice", "alice-pass")...); r.code() != 200 {
		t.Fatalf("login: %s", r.Raw)
	}
	e.post(true, login("nobody", "x")...) // 1004
	for range 3 {                         // wrong passwords until bob is locked out
		e.post(true, login("bob", "wrong")...)
	}
	for range 3 { // refused connections: temporarily_unavailable, then the breaker opens
		e.post(true, login("dora", "pw")...)
	}

	// The first sync runs within a tick or two; wait for its series (bounded).
	var raw []byte
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := e.client().Get(e.adminBase + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(raw), `ssogate_sync_runs_total{cluster="SYN",result="success"}`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successful sync run of SYN within 15 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	exported := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		exported[name] = true
	}

	used := monitoredMetrics(t)
	names := make([]string, 0, len(used))
	for name := range used {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		switch branch, pending := notExportedYet[name]; {
		case exported[name] && pending:
			t.Errorf("%s is exported now: remove it from notExportedYet", name)
		case exported[name]:
		case pending:
			t.Logf("merge check: %s (used by %s) is not exported on this branch; it comes from %s", name, strings.Join(used[name], ", "), branch)
		default:
			t.Errorf("%s is used by %s but a running gateway does not export it", name, strings.Join(used[name], ", "))
		}
	}
	// docs/metrics.md lists every ssogate metric exported.
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range exported {
		if !strings.HasPrefix(name, "ssogate_") {
			continue
		}
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && exported[b+"_count"] && exported[b+"_sum"] {
				base = b
			}
		}
		if !strings.Contains(string(doc), "`"+base+"`") {
			t.Errorf("%s is exported but docs/metrics.md does not list it", base)
		}
	}
	// The exercise reached what the alerts watch.
	for _, want := range []string{
		`ssogate_sso_breaker_state{cluster="DOWN"} 2`,
		`ssogate_token_gateway_errors_total{cluster="DOWN",error="temporarily_unavailable"}`,
		`ssogate_ratelimit_lockouts_total 1`,
		`ssogate_ready 1`,
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("metrics lack %q; ratelimit lines: %v", want, regexp.MustCompile(`(?m)^ssogate_ratelimit.*$`).FindAllString(string(raw), -1))
		}
	}
}
