package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	clientID     = "app"
	clientSecret = "app-secret"
)

// target is one thing load is sent to: a URL, a body, and what every answer must be.
type target struct {
	label string
	url   string
	body  string // "{n}" is replaced by 0…users-1 when users > 0
	users int
	// gw is set for gateway targets: their answers are checked through the gateway's own
	// metrics (answers by code, cache misses) taken before and after each run.
	gw         *gateway
	server     *proc  // the process answering (gateway, nginx, bare, stub): its CPU is measured
	expectCode string // the gateway answer code every request must get, e.g. "1004"
	// expectBody must appear in the answer to the check request sent before measuring.
	expectBody string
}

// sample is one measured run.
type sample struct {
	RPS      float64 `json:"rps"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
	Requests float64 `json:"requests"`
	Errors   int64   `json:"errors"` // socket errors, timeouts, non-2xx
	// Gateway checks: share of answers with the expected code, cache misses per request,
	// refresh-token records dropped, limiter refusals.
	CodeShare       float64 `json:"code_share,omitempty"`
	MissesPerReq    float64 `json:"misses_per_request,omitempty"`
	RefreshFailures float64 `json:"refresh_failures,omitempty"`
	Rejections      float64 `json:"ratelimit_rejections,omitempty"`
	// CPU time per request, in µs, of the server under test, of the stub SSO, and of the
	// load generator (wrk or load): where the 2 cores went.
	ServerCPUus float64 `json:"server_cpu_us_per_request"`
	StubCPUus   float64 `json:"stub_cpu_us_per_request"`
	LoadCPUus   float64 `json:"load_cpu_us_per_request"`
	// Load1 is the machine's 1-minute load average when the run ended (/proc/loadavg): the
	// machine is shared, and this says how much of it others were using.
	Load1 float64 `json:"load1"`
}

// wrkLine is what bench/wrk/post.lua prints.
type wrkLine struct {
	Requests   float64 `json:"requests"`
	DurationUs float64 `json:"duration_us"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Status     int64   `json:"status"`
	Timeout    int64   `json:"timeout"`
}

// loadLine is what bench/cmd/load prints.
type loadLine struct {
	Achieved   float64 `json:"achieved"`
	Requests   float64 `json:"requests"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	P999us     float64 `json:"p999_us"`
	Errors     int64   `json:"errors"`
	Unexpected int64   `json:"unexpected"`
	Dropped    int64   `json:"dropped"`
}

func basicHeader() string {
	return base64.StdEncoding.EncodeToString([]byte(clientID + ":" + clientSecret))
}

// check sends one request (n = 0) and verifies the answer, before any load.
func check(ctx context.Context, t *target) error {
	body := strings.ReplaceAll(t.body, "{n}", "0")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+basicHeader())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", t.label, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if !bytes.Contains(out, []byte(t.expectBody)) {
		return fmt.Errorf("%s: answer %d %s lacks %s", t.label, resp.StatusCode, out, t.expectBody)
	}
	return nil
}

// withChecks runs fn between two snapshots of t's gateway metrics and of the CPU time of the
// server and the stub, and fills s's checks.
func (su *suite) withChecks(ctx context.Context, t *target, s *sample, fn func() error) error {
	cpu0, stub0 := 0.0, groupCPU(su.stubProc.cmd.Process.Pid)
	if t.server != nil {
		cpu0 = groupCPU(t.server.cmd.Process.Pid)
	}
	defer func() {
		if s.Requests <= 0 {
			return
		}
		if t.server != nil && t.server != su.stubProc {
			s.ServerCPUus = (groupCPU(t.server.cmd.Process.Pid) - cpu0) / s.Requests * 1e6
		}
		s.StubCPUus = (groupCPU(su.stubProc.cmd.Process.Pid) - stub0) / s.Requests * 1e6
		if t.server == su.stubProc {
			s.ServerCPUus = s.StubCPUus
		}
	}()
	if t.gw == nil {
		return fn()
	}
	before, err := t.gw.metrics(ctx)
	if err != nil {
		return fmt.Errorf("%s: metrics: %w", t.label, err)
	}
	if err := fn(); err != nil {
		return err
	}
	after, err := t.gw.metrics(ctx)
	if err != nil {
		return fmt.Errorf("%s: metrics: %w", t.label, err)
	}
	total := 0.0
	for code, v := range after.byCode {
		total += v - before.byCode[code]
	}
	if total > 0 {
		s.CodeShare = (after.byCode[t.expectCode] - before.byCode[t.expectCode]) / total
		s.MissesPerReq = (after.misses - before.misses) / total
	}
	s.RefreshFailures = after.refreshFailures - before.refreshFailures
	s.Rejections = after.rejections - before.rejections
	return nil
}

// runWrk measures t's maximum throughput with wrk (closed loop).
func (s *suite) runWrk(ctx context.Context, t *target, d time.Duration) (sample, error) {
	var smp sample
	err := s.withChecks(ctx, t, &smp, func() error {
		cmd := exec.CommandContext(ctx, s.wrk, "-t", strconv.Itoa(s.threads), "-c", strconv.Itoa(s.conns),
			"-d", fmt.Sprintf("%ds", int(d.Seconds())), "--timeout", "5s", "-s", s.luaScript, t.url)
		cmd.Env = append(cleanEnv(), "BENCH_BODY="+t.body, "BENCH_BASIC="+basicHeader(),
			"BENCH_USERS="+strconv.Itoa(t.users), "BENCH_THREADS="+strconv.Itoa(s.threads))
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: wrk: %w\n%s", t.label, err, out)
		}
		var w wrkLine
		if err := parseBenchJSON(out, &w); err != nil {
			return fmt.Errorf("%s: wrk: %w\n%s", t.label, err, out)
		}
		smp.Requests = w.Requests
		smp.RPS = w.Requests / (w.DurationUs / 1e6)
		smp.P50us, smp.P99us = w.P50us, w.P99us
		smp.Errors = w.Connect + w.Read + w.Write + w.Status + w.Timeout
		smp.LoadCPUus = cpuOf(cmd) / smp.Requests * 1e6
		return nil
	})
	return smp, err
}

// runLoad measures t's latency at a fixed rate with bench/cmd/load (open loop).
func (s *suite) runLoad(ctx context.Context, t *target, rate float64, d time.Duration) (sample, error) {
	var smp sample
	err := s.withChecks(ctx, t, &smp, func() error {
		args := []string{"--url", t.url, "--basic", clientID + ":" + clientSecret, "--body", t.body,
			"--users", strconv.Itoa(t.users), "--rate", strconv.FormatFloat(rate, 'f', 0, 64),
			"--duration", d.String(), "--warmup", "1s", "--conns", strconv.Itoa(s.conns)}
		if t.expectBody != "" {
			args = append(args, "--expect", t.expectBody)
		}
		cmd := exec.CommandContext(ctx, s.bin("load"), args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: load: %w\n%s", t.label, err, out)
		}
		var l loadLine
		if err := parseBenchJSON(out, &l); err != nil {
			return fmt.Errorf("%s: load: %w\n%s", t.label, err, out)
		}
		smp.Requests, smp.RPS, smp.P50us, smp.P99us = l.Requests, l.Achieved, l.P50us, l.P99us
		smp.Errors = l.Errors + l.Unexpected + l.Dropped
		smp.LoadCPUus = cpuOf(cmd) / smp.Requests * 1e6
		return nil
	})
	return smp, err
}

func cpuOf(cmd *exec.Cmd) float64 {
	if cmd.ProcessState == nil {
		return 0
	}
	return (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
}

func parseBenchJSON(out []byte, v any) error {
	for _, line := range bytes.Split(out, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("BENCHJSON ")); ok {
			return json.Unmarshal(rest, v)
		}
	}
	return fmt.Errorf("no BENCHJSON line")
}

// measured is a target's samples over the rounds.
type measured struct {
	t       *target
	samples []sample
}

func (m *measured) mean(f func(sample) float64) float64 {
	if len(m.samples) == 0 {
		return 0
	}
	sum := 0.0
	for _, s := range m.samples {
		sum += f(s)
	}
	return sum / float64(len(m.samples))
}

// median is the middle of the rounds (the mean of the middle two for an even count): one
// round disturbed by another session's build on the shared machine does not move it.
func (m *measured) median(f func(sample) float64) float64 {
	if len(m.samples) == 0 {
		return 0
	}
	v := make([]float64, len(m.samples))
	for i, s := range m.samples {
		v[i] = f(s)
	}
	sort.Float64s(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

func (m *measured) rps() float64 { return m.median(func(s sample) float64 { return s.RPS }) }
func (m *measured) p50() float64 { return m.median(func(s sample) float64 { return s.P50us }) }
func (m *measured) p99() float64 { return m.median(func(s sample) float64 { return s.P99us }) }

// alternate measures every target once per round, in ABC…CBA order, so that a drift of the
// machine during the group weighs on every target alike. Each target is checked and warmed
// (an unmeasured wrk run of s.warmup, when warm) first.
func (s *suite) alternate(ctx context.Context, group string, targets []*target, warm bool,
	run func(*target) (sample, error)) (map[*target]*measured, error) {
	out := make(map[*target]*measured, len(targets))
	for _, t := range targets {
		if err := check(ctx, t); err != nil {
			return nil, err
		}
		out[t] = &measured{t: t}
	}
	for _, t := range targets {
		if !warm || s.warmup <= 0 {
			break
		}
		if _, err := s.runWrk(ctx, t, s.warmup); err != nil {
			return nil, err
		}
	}
	for r := range s.rounds {
		order := make([]*target, len(targets))
		copy(order, targets)
		if r%2 == 1 {
			for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
				order[i], order[j] = order[j], order[i]
			}
		}
		for _, t := range order {
			smp, err := run(t)
			if err != nil {
				return nil, err
			}
			smp.Load1 = loadAvg()
			out[t].samples = append(out[t].samples, smp)
			s.logf("  [%s round %d] %-48s %9.0f req/s  p50 %7s  p99 %7s  load %.2f%s", group, r+1, t.label, smp.RPS,
				fmtUs(smp.P50us), fmtUs(smp.P99us), smp.Load1, checkText(t, smp))
		}
	}
	return out, nil
}

func checkText(t *target, s sample) string {
	var parts []string
	if s.ServerCPUus > 0 {
		parts = append(parts, fmt.Sprintf("cpu/req: server %.0fµs, stub %.0fµs, load %.0fµs", s.ServerCPUus, s.StubCPUus, s.LoadCPUus))
	}
	if s.Errors > 0 {
		parts = append(parts, fmt.Sprintf("errors %d", s.Errors))
	}
	if t.gw != nil {
		parts = append(parts, fmt.Sprintf("code %s %.1f%%", t.expectCode, 100*s.CodeShare),
			fmt.Sprintf("misses/req %.3f", s.MissesPerReq))
		if s.RefreshFailures > 0 {
			parts = append(parts, fmt.Sprintf("refresh records dropped %.0f", s.RefreshFailures))
		}
		if s.Rejections > 0 {
			parts = append(parts, fmt.Sprintf("ratelimited %.0f", s.Rejections))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "  (" + strings.Join(parts, ", ") + ")"
}

func fmtUs(us float64) string {
	switch {
	case us <= 0:
		return "-"
	case us < 1000:
		return fmt.Sprintf("%.0fµs", us)
	case us < 10000:
		return fmt.Sprintf("%.2fms", us/1000)
	default:
		return fmt.Sprintf("%.1fms", us/1000)
	}
}

// loadAvg reads the 1-minute load average (0 when unreadable).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
