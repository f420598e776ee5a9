// Package grafana_test checks deploy/grafana/ssogate.json: a well-formed dashboard with the
// cluster variable of SPEC section 11 whose every query is valid PromQL (parsed by promtool,
// which scripts/test.sh installs). That the metrics it names exist is checked against a
// running gateway by internal/gateway's TestEveryMonitoredMetricIsExported.
package grafana_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

type dashboard struct {
	UID        string
	Title      string
	Templating struct {
		List []struct {
			Name, Type, Definition string
			Multi, IncludeAll      bool
		}
	}
	Panels []struct {
		ID      int
		Type    string
		Title   string
		GridPos *struct{ X, Y, W, H int }
		Targets []struct{ RefID, Expr string }
	}
}

func load(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile("ssogate.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("ssogate.json is not JSON: %v", err)
	}
	return d
}

func TestDashboardShape(t *testing.T) {
	d := load(t)
	if d.UID == "" || d.Title == "" {
		t.Fatal("dashboard without uid or title")
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		if v.Name == "cluster" && (!v.Multi || !v.IncludeAll || !strings.Contains(v.Definition, "cluster")) {
			t.Errorf("cluster variable must be multi-value with All: %+v", v)
		}
	}
	for _, want := range []string{"datasource", "cluster", "instance"} {
		if !vars[want] {
			t.Errorf("no %q variable", want)
		}
	}
	ids := map[int]bool{}
	usesCluster := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %q has no position", p.Title)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.RefID == "" || tg.Expr == "" {
				t.Errorf("panel %q: query without refId or expr", p.Title)
			}
			if strings.Contains(tg.Expr, "$cluster") {
				usesCluster++
			}
		}
	}
	// SPEC section 11's panels: answers, SSO latency, breakers, cache, store, limiter, sync.
	text, _ := os.ReadFile("ssogate.json")
	for _, metric := range []string{"ssogate_token_requests_total", "ssogate_sso_request_duration_seconds_bucket",
		"ssogate_sso_breaker_state", "ssogate_directory_cache_hits_total", "ssogate_directory_cached_usernames",
		"ssogate_store_operation_errors_total", "ssogate_ratelimit_rejected_total", "ssogate_ratelimit_fallbacks_total",
		"ssogate_ratelimit_lockouts_total", "ssogate_sync_runs_total"} {
		if !strings.Contains(string(text), metric) {
			t.Errorf("no panel over %s", metric)
		}
	}
	if usesCluster < 5 {
		t.Errorf("only %d queries filter by $cluster", usesCluster)
	}
}

// TestDashboardQueriesParse hands every query, with Grafana's variables replaced, to
// promtool as recording rules: a PromQL syntax error fails here.
func TestDashboardQueriesParse(t *testing.T) {
	d := load(t)
	repl := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$cluster", ".*", "$instance", ".*")
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			n++
			b.WriteString("      - record: dashboard:query" + strconv.Itoa(n) + "\n        expr: " + strconv.Quote(repl.Replace(tg.Expr)) + "\n")
		}
	}
	file := filepath.Join(t.TempDir(), "queries.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (apt-get install prometheus; scripts/test.sh does it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "check", "rules", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS: "+strconv.Itoa(n)+" rules found") {
		t.Fatalf("dashboard queries do not parse: %v\n%s", err, out)
	}
}
