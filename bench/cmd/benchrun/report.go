package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// row is one line of the printed table.
type row struct {
	section                 string // a heading line instead of a measurement when set
	label                   string
	rps, p50, p99           float64
	vs, target, met, checks string
}

func (s *suite) section(title string) { s.rows = append(s.rows, row{section: title}) }

func (s *suite) record(group string, m *measured, r row) {
	s.rows = append(s.rows, r)
	list, _ := s.results[group].([]map[string]any)
	s.results[group] = append(list, map[string]any{
		"label": m.t.label, "url": m.t.url, "body": m.t.body, "users": m.t.users,
		"rps": m.rps(), "p50_us": m.p50(), "p99_us": m.p99(), "samples": m.samples,
		"vs": r.vs, "target": r.target, "met": r.met,
	})
}

func measuredRow(m *measured) row {
	r := row{label: m.t.label, rps: m.rps(), p50: m.p50(), p99: m.p99()}
	var worst sample
	worst.CodeShare = 1
	for _, smp := range m.samples {
		worst.Errors += smp.Errors
		worst.CodeShare = min(worst.CodeShare, smp.CodeShare)
		worst.MissesPerReq = max(worst.MissesPerReq, smp.MissesPerReq)
		worst.RefreshFailures += smp.RefreshFailures
		worst.Rejections += smp.Rejections
	}
	worst.ServerCPUus = m.mean(func(s sample) float64 { return s.ServerCPUus })
	worst.StubCPUus = m.mean(func(s sample) float64 { return s.StubCPUus })
	worst.LoadCPUus = m.mean(func(s sample) float64 { return s.LoadCPUus })
	r.checks = strings.TrimPrefix(strings.TrimSuffix(checkText(m.t, worst), ")"), "  (")
	lo, hi := 0.0, 0.0
	for i, smp := range m.samples {
		if i == 0 || smp.Load1 < lo {
			lo = smp.Load1
		}
		hi = max(hi, smp.Load1)
	}
	if hi > 0 {
		r.checks += fmt.Sprintf(", load avg %.1f–%.1f", lo, hi)
	}
	if m.t.gw != nil && worst.CodeShare < 0.999 || worst.Errors > 0 {
		r.met = "INVALID"
	}
	return r
}

// baseRow is a baseline or informational line.
func (s *suite) baseRow(group string, m *measured, role string) {
	r := measuredRow(m)
	r.vs = role
	s.record(group, m, r)
}

// ratioRow compares throughput with a baseline; min 0 means no target (information). Further
// baselines in also are shown beside it, without a target.
func (s *suite) ratioRow(group string, m, base *measured, min float64, also ...*measured) {
	r := measuredRow(m)
	ratio, lo, hi := pairedRatio(m, base)
	r.vs = fmt.Sprintf("%.2f × %s", ratio, shortName(base.t.label))
	for _, a := range also {
		x, _, _ := pairedRatio(m, a)
		r.vs += fmt.Sprintf(" (%.2f × %s)", x, shortName(a.t.label))
	}
	if hi > lo {
		r.checks += fmt.Sprintf(", ratio per round %.2f–%.2f", lo, hi)
	}
	if min > 0 {
		r.target = fmt.Sprintf("≥ %.2f", min)
		if r.met == "" {
			r.met = yesNo(ratio >= min)
		}
	}
	s.record(group, m, r)
}

// perRound is the median over rounds of f(m's sample, base's sample of the same round), with
// the lowest and highest of them. A round measures its targets back to back, so a host that
// drifts between rounds (±20 % here within minutes) moves both sides of a round's figure
// alike, while comparing the two medians can pair a fast round of one with a slow round of
// the other. ok is false without one sample of each per round.
func perRound(m, base *measured, f func(a, b sample) float64) (median, lo, hi float64, ok bool) {
	if len(m.samples) == 0 || len(m.samples) != len(base.samples) {
		return 0, 0, 0, false
	}
	v := &measured{samples: make([]sample, len(m.samples))}
	for i := range m.samples {
		x := f(m.samples[i], base.samples[i])
		v.samples[i].RPS = x
		if i == 0 || x < lo {
			lo = x
		}
		hi = max(hi, x)
	}
	return v.rps(), lo, hi, true
}

// pairedRatio is m's throughput over base's, round by round (perRound); without paired
// rounds, the ratio of the medians.
func pairedRatio(m, base *measured) (median, lo, hi float64) {
	if r, lo, hi, ok := perRound(m, base, func(a, b sample) float64 { return a.RPS / b.RPS }); ok {
		return r, lo, hi
	}
	r := m.rps() / base.rps()
	return r, r, r
}

// addedRow compares p99 latency with a baseline's, the difference taken round by round
// (perRound); maxUs 0 means no target.
func (s *suite) addedRow(group string, m, base *measured, maxUs float64) {
	r := measuredRow(m)
	added, _, _, ok := perRound(m, base, func(a, b sample) float64 { return a.P99us - b.P99us })
	if !ok {
		added = m.p99() - base.p99()
	}
	r.vs = fmt.Sprintf("p99 %+.2f ms vs %s", added/1000, shortName(base.t.label))
	if maxUs > 0 {
		r.target = fmt.Sprintf("< %.0f ms added", maxUs/1000)
		if r.met == "" {
			r.met = yesNo(added < maxUs)
		}
	}
	s.record(group, m, r)
}

func shortName(label string) string {
	switch {
	case strings.HasPrefix(label, "bare fasthttp"):
		return "bare fasthttp"
	case strings.HasPrefix(label, "caddy"):
		return "caddy"
	case strings.HasPrefix(label, "bare"):
		return "bare"
	case strings.HasPrefix(label, "nginx"):
		return "nginx"
	case strings.HasPrefix(label, "stub"):
		return "direct"
	}
	return label
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// table renders the rows with the machine they ran on.
func (s *suite) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nssogate benchmark — %s\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "machine: %d cores, %s; %s; %s\n", runtime.NumCPU(), cpuModel(), runtime.Version(), toolVersions(s))
	fmt.Fprintf(&b, "wrk -t%d -c%d, %s per run, %d alternating rounds (median shown; a ratio or added p99 is the median of each round's own); latency: bench/cmd/load, %d conns, %s per run\n",
		s.threads, s.conns, s.duration, s.rounds, s.conns, s.latDuration)
	s.results["machine"] = map[string]any{"cores": runtime.NumCPU(), "cpu": cpuModel(), "go": runtime.Version(),
		"date": time.Now().Format(time.RFC3339), "tools": toolVersions(s)}
	s.results["settings"] = map[string]any{"threads": s.threads, "conns": s.conns, "duration": s.duration.String(),
		"rounds": s.rounds, "lat_duration": s.latDuration.String(), "nginx_workers": s.nginxWorkers}
	const format = "%-52s %10s %9s %9s  %-36s %-16s %s\n"
	for _, r := range s.rows {
		if r.section != "" {
			fmt.Fprintf(&b, "\n## %s\n", r.section)
			fmt.Fprintf(&b, format, "scenario", "req/s", "p50", "p99", "vs baseline", "target", "met?")
			continue
		}
		fmt.Fprintf(&b, format, r.label, fmt.Sprintf("%.0f", r.rps), fmtUs(r.p50), fmtUs(r.p99), r.vs, dash(r.target), dash(r.met))
		if r.checks != "" {
			fmt.Fprintf(&b, "%-52s   checks: %s\n", "", r.checks)
		}
	}
	for _, n := range s.notes {
		fmt.Fprintf(&b, "\nnote: %s\n", n)
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func toolVersions(s *suite) string {
	var parts []string
	if out, err := exec.Command(s.wrk, "-v").CombinedOutput(); len(out) > 0 || err == nil {
		parts = append(parts, strings.Fields(string(out) + " wrk ?")[0:2]...)
	}
	if out, err := exec.Command(s.nginx, "-v").CombinedOutput(); err == nil {
		parts = append(parts, strings.TrimSpace(strings.TrimPrefix(string(out), "nginx version: ")))
	}
	if s.caddy != "" {
		if out, err := exec.Command(s.caddy, "version").CombinedOutput(); err == nil {
			parts = append(parts, "caddy "+strings.Fields(string(out) + " ?")[0])
		}
	}
	return strings.Join(parts, " ")
}
