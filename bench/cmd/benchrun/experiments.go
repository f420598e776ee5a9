package main

import (
	"context"
	"fmt"
)

// experimentsGroup is not part of the default run (--groups experiments): it takes the
// forwarding scenario apart, one gateway cost at a time, to say what stands in the way of the
// nginx target. Each variant changes configuration or environment only, never code:
//
//   - log_level warn: no access line per request;
//   - an SSO answer without refresh_token: no refresh-token record written to the store;
//   - GOGC=400: a quarter of the garbage collections;
//   - GOMAXPROCS=1: one P, fewer threads to wake and spin on two busy cores;
//   - the first three together, and with GOMAXPROCS=1 too.
func (s *suite) experimentsGroup(ctx context.Context) error {
	specs := []gwSpec{
		{name: "exp-default", rateLimit: true},
		{name: "exp-log-warn", rateLimit: true, logLevel: "warn"},
		{name: "exp-gogc400", rateLimit: true, env: []string{"GOGC=400"}},
		{name: "exp-maxprocs1", rateLimit: true, env: []string{"GOMAXPROCS=1"}},
		{name: "exp-combined", rateLimit: true, logLevel: "warn", env: []string{"GOGC=400"}},
		{name: "exp-combined-maxprocs1", rateLimit: true, logLevel: "warn", env: []string{"GOGC=400", "GOMAXPROCS=1"}},
	}
	gws := make([]*gateway, len(specs))
	for i, spec := range specs {
		g, err := s.startGateway(ctx, spec)
		if err != nil {
			return err
		}
		defer s.procs.stop(g.proc)
		if err := seed(ctx, g, false); err != nil {
			return err
		}
		if err := g.bulkBind(ctx, "NOREF", "nu", loginUsers); err != nil {
			return err
		}
		gws[i] = g
	}
	const noRefresh = "grant_type=password&username=nu{n}&password=secret" // nu… → NOREF
	nginx := s.nginxTarget()
	targets := []*target{
		nginx,
		gwTarget(gws[0], "ssogate default (rl on, access log, refresh record)", body200, loginUsers, "200"),
		gwTarget(gws[1], "  log_level warn (no access log)", body200, loginUsers, "200"),
		gwTarget(gws[0], "  SSO answer without refresh_token (no record)", noRefresh, loginUsers, "200"),
		gwTarget(gws[2], "  GOGC=400", body200, loginUsers, "200"),
		gwTarget(gws[3], "  GOMAXPROCS=1", body200, loginUsers, "200"),
		gwTarget(gws[4], "  log warn + no record + GOGC=400", noRefresh, loginUsers, "200"),
		gwTarget(gws[5], "  … + GOMAXPROCS=1", noRefresh, loginUsers, "200"),
	}
	m, err := s.alternate(ctx, "experiments", targets, true, s.wrkRunner(ctx))
	if err != nil {
		return err
	}
	s.section("Experiments: the forwarding scenario taken apart (configuration and environment only)")
	s.baseRow("experiments", m[nginx], "baseline")
	for _, t := range targets[1:] {
		s.ratioRow("experiments", m[t], m[nginx], 0)
	}

	// The same variants at half of the default gateway's maximum, for the latency target.
	rate := m[targets[1]].rps() / 2
	direct := s.directTarget()
	lat, err := s.alternate(ctx, "experiments-latency", append([]*target{direct}, targets...), false, s.loadRunner(ctx, rate))
	if err != nil {
		return err
	}
	s.section(fmt.Sprintf("Experiments at half of the default gateway's maximum: %.0f req/s, open loop", rate))
	s.baseRow("experiments-latency", lat[direct], "baseline")
	for _, t := range targets {
		s.addedRow("experiments-latency", lat[t], lat[direct], 0)
	}
	return nil
}
