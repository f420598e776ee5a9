package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/ssogate/ssogate/internal/tracing"
)

// tracingBaseline is an ssogate binary built without the tracing hooks (e.g. from the commit
// before them): the group then also measures it, to show that tracing off changes nothing.
var tracingBaseline string

func init() {
	flag.StringVar(&tracingBaseline, "tracing-baseline", "", "tracing group: also measure this ssogate binary (built without tracing)")
}

func (s *suite) gatewayBin(spec gwSpec) string {
	if spec.binary != "" {
		return spec.binary
	}
	return s.bin("ssogate")
}

// tracingGroup (--groups tracing) measures the forwarding figure with tracing off, and on at
// sample ratio 1.0 and 0.01 exporting over OTLP/HTTP to a sink on loopback (this process: it
// decodes and counts the spans, as a collector's receiver would), alternating the three
// gateways with nginx as the baseline (SPEC section 11: off costs nothing measurable).
func (s *suite) tracingGroup(ctx context.Context) error {
	sink, err := tracing.NewSink("127.0.0.1:0", false)
	if err != nil {
		return err
	}
	defer sink.Close()
	specs := []gwSpec{
		{name: "tracing-off", rateLimit: true},
		{name: "tracing-1", rateLimit: true, otlpEndpoint: sink.URL(), sampleRatio: 1},
		{name: "tracing-0.01", rateLimit: true, otlpEndpoint: sink.URL(), sampleRatio: 0.01},
	}
	if tracingBaseline != "" {
		specs = append(specs, gwSpec{name: "before-tracing", rateLimit: true, binary: tracingBaseline})
	}
	var targets []*target
	nginx := s.nginxTarget()
	targets = append(targets, nginx)
	for _, spec := range specs {
		g, err := s.startGateway(ctx, spec)
		if err != nil {
			return err
		}
		defer s.procs.stop(g.proc)
		if err := seed(ctx, g, false); err != nil {
			return fmt.Errorf("seed %s: %w", spec.name, err)
		}
		label := "ssogate → stub, 200, " + strings.Replace(spec.name, "-", " ", 1)
		if spec.binary != "" {
			label = "ssogate → stub, 200, binary without tracing hooks"
		}
		if spec.otlpEndpoint != "" {
			label += " (OTLP to a loopback sink)"
		}
		targets = append(targets, gwTarget(g, label, body200, loginUsers, "200"))
	}
	before := sink.Count()
	m, err := s.alternate(ctx, "tracing", targets, true, s.wrkRunner(ctx))
	if err != nil {
		return err
	}
	s.section("Tracing: successful logins forwarded to the stub SSO (embedded store, ratelimit on), tracing off / on")
	s.baseRow("tracing", m[nginx], "baseline")
	for _, t := range targets[1:] {
		s.ratioRow("tracing", m[t], m[nginx], 0)
	}
	s.ratioRow("tracing", m[targets[2]], m[targets[1]], 0)
	s.ratioRow("tracing", m[targets[3]], m[targets[1]], 0)
	if len(targets) > 4 {
		s.ratioRow("tracing", m[targets[1]], m[targets[4]], 0)
	}
	s.note("tracing: the sink received %d spans during the group", sink.Count()-before)
	s.results["tracing_spans"] = sink.Count() - before
	return nil
}
