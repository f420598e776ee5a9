package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Request bodies. Every body names the same client through HTTP Basic (app:app-secret).
const (
	body1004 = "grant_type=password&username=nobody&password=secret"                  // unbound
	body1000 = "grant_type=password&username=carol&password=secret"                   // STUB and STUB2
	body1001 = "grant_type=password&username=alice&password=secret&clusterCode=STUB2" // alice is STUB's
	body200  = "grant_type=password&username=bu{n}&password=secret"                   // bu0…bu999 → STUB
	body4xx  = "grant_type=password&username=fu{n}&password=wrong"                    // fu0…fu999 → FAIL
	// Uncached: usernames cycle over 100,000 names, far more than the tiny cache holds.
	bodyUncached1004 = "grant_type=password&username=nx{n}&password=secret" // never bound
	bodyUncached200  = "grant_type=password&username=ru{n}&password=secret" // ru0…ru99999 → STUB
)

const (
	// Logins cycle over this many users: with the limiter on, one username's parallel
	// attempts share its budget (10), so a single username cannot carry 64 connections.
	loginUsers    = 1000
	uncachedUsers = 100_000
	// tinyCache is the smallest cache the directory keeps (one entry per shard).
	tinyCache = 64
)

// seed binds the users every scenario needs. A redis store is seeded once for all its
// gateways (they share the prefix, as instances of one deployment do).
func seed(ctx context.Context, g *gateway, uncached bool) error {
	for _, b := range [][2]string{{"STUB", "carol"}, {"STUB2", "carol"}, {"STUB", "alice"}} {
		if err := g.bind(ctx, b[0], b[1]); err != nil {
			return err
		}
	}
	if err := g.bulkBind(ctx, "STUB", "bu", loginUsers); err != nil {
		return err
	}
	if err := g.bulkBind(ctx, "FAIL", "fu", loginUsers); err != nil {
		return err
	}
	if uncached {
		return g.bulkBind(ctx, "STUB", "ru", uncachedUsers)
	}
	return nil
}

func (s *suite) bareTarget() *target {
	return &target{label: "bare net/http fixed JSON", url: fmt.Sprintf("http://127.0.0.1:%d/", s.barePort),
		body: body1004, expectBody: `"code":1004`, server: s.bareProc}
}

func (s *suite) bareFastTarget() *target {
	return &target{label: "bare fasthttp form parse + fixed JSON", url: fmt.Sprintf("http://127.0.0.1:%d/oauth/token", s.bareFastPort),
		body: body1004, expectBody: `"code":1004`, server: s.bareFastProc}
}

// bareFastGwTarget is the same handler with the gateway's slow-client settings (timeouts,
// read buffer): the part of the gap to the ceiling that is those settings, not the gateway.
func (s *suite) bareFastGwTarget() *target {
	return &target{label: "bare fasthttp, gateway's server settings", url: fmt.Sprintf("http://127.0.0.1:%d/oauth/token", s.bareFastGwPort),
		body: body1004, expectBody: `"code":1004`, server: s.bareFastGwProc}
}

// caddyTarget is nil when no Caddy binary was given.
func (s *suite) caddyTarget() *target {
	if s.caddyProc == nil {
		return nil
	}
	return &target{label: "caddy reverse_proxy → stub",
		url:  fmt.Sprintf("http://127.0.0.1:%d/sso/oauth/token", s.caddyPort),
		body: body200, users: loginUsers, expectBody: `"access_token"`, server: s.caddyProc}
}

// present drops the nil targets (baselines that were skipped).
func present(ts ...*target) []*target {
	out := ts[:0:0]
	for _, t := range ts {
		if t != nil {
			out = append(out, t)
		}
	}
	return out
}

func (s *suite) directTarget() *target {
	return &target{label: "stub SSO called directly", url: fmt.Sprintf("http://127.0.0.1:%d/sso/oauth/token", s.stubPort),
		body: body200, users: loginUsers, expectBody: `"access_token"`, server: s.stubProc}
}

func (s *suite) nginxTarget() *target {
	return &target{label: fmt.Sprintf("nginx proxy_pass → stub (%d workers)", s.nginxWorkers),
		url:  fmt.Sprintf("http://127.0.0.1:%d/sso/oauth/token", s.nginxPort),
		body: body200, users: loginUsers, expectBody: `"access_token"`, server: s.nginxProc}
}

func gwTarget(g *gateway, label, body string, users int, code string) *target {
	return &target{label: label, url: "http://" + g.public + "/oauth/token", body: body, users: users,
		gw: g, server: g.proc, expectCode: code, expectBody: `"code":` + code}
}

func (s *suite) wrkRunner(ctx context.Context) func(*target) (sample, error) {
	return func(t *target) (sample, error) { return s.runWrk(ctx, t, s.duration) }
}

func (s *suite) loadRunner(ctx context.Context, rate float64) func(*target) (sample, error) {
	return func(t *target) (sample, error) { return s.runLoad(ctx, t, rate, s.latDuration) }
}

// embeddedGroups runs the groups against gateways on the default embedded store.
func (s *suite) embeddedGroups(ctx context.Context) error {
	if !s.groups["directory"] && !s.groups["forward"] && !s.groups["latency"] {
		return nil
	}
	off, err := s.startGateway(ctx, gwSpec{name: "embedded-rl-off"})
	if err != nil {
		return err
	}
	defer s.procs.stop(off.proc)
	on, err := s.startGateway(ctx, gwSpec{name: "embedded-rl-on", rateLimit: true})
	if err != nil {
		return err
	}
	defer s.procs.stop(on.proc)
	for _, g := range []*gateway{off, on} {
		if err := seed(ctx, g, false); err != nil {
			return fmt.Errorf("seed %s: %w", g.spec.name, err)
		}
	}
	bare, bareFast, direct, nginx, caddy := s.bareTarget(), s.bareFastTarget(), s.directTarget(), s.nginxTarget(), s.caddyTarget()

	if s.groups["directory"] {
		d1004 := gwTarget(off, "ssogate 1004 unknown user, cache hit", body1004, 0, "1004")
		d1000 := gwTarget(off, "ssogate 1000 two clusters, cache hit", body1000, 0, "1000")
		d1001 := gwTarget(off, "ssogate 1001 wrong invite code, cache hit", body1001, 0, "1001")
		bareFastGw := s.bareFastGwTarget()
		m, err := s.alternate(ctx, "directory", []*target{bareFast, bareFastGw, bare, d1004, d1000, d1001}, true, s.wrkRunner(ctx))
		if err != nil {
			return err
		}
		s.section("Answers from the directory (embedded store, ratelimit off: 1004/1001 count as failures and one client IP would be locked out)")
		s.baseRow("directory", m[bareFast], "ceiling")
		s.ratioRow("directory", m[bareFastGw], m[bareFast], 0)
		s.ratioRow("directory", m[bare], m[bareFast], 0)
		for _, t := range []*target{d1004, d1000, d1001} {
			s.ratioRow("directory", m[t], m[bareFast], 0.90, m[bare])
		}
	}

	var maxLogin float64
	if s.groups["forward"] || s.groups["latency"] {
		f200on := gwTarget(on, "ssogate → stub, 200 (ratelimit on, default)", body200, loginUsers, "200")
		f200off := gwTarget(off, "ssogate → stub, 200 (ratelimit off)", body200, loginUsers, "200")
		f4xx := gwTarget(off, "ssogate → stub 400, 1002 passed through (rl off)", body4xx, loginUsers, "1002")
		if s.groups["forward"] {
			m, err := s.alternate(ctx, "forward", present(direct, nginx, caddy, f200on, f200off, f4xx), true, s.wrkRunner(ctx))
			if err != nil {
				return err
			}
			s.section("Successful logins forwarded to the stub SSO (embedded store)")
			s.baseRow("forward", m[direct], "info")
			s.baseRow("forward", m[nginx], "baseline")
			if caddy != nil {
				s.ratioRow("forward", m[caddy], m[nginx], 0)
			}
			s.ratioRow("forward", m[f200on], m[nginx], 0.80)
			if caddy != nil {
				s.ratioRow("forward", m[f200on], m[caddy], 1.0)
				s.ratioRow("forward", m[f200off], m[nginx], 0, m[caddy])
			} else {
				s.ratioRow("forward", m[f200off], m[nginx], 0)
			}
			s.ratioRow("forward", m[f4xx], m[nginx], 0)
			maxLogin = m[f200on].rps()
		}
		if s.groups["latency"] {
			if maxLogin == 0 {
				smp, err := s.runWrk(ctx, f200on, s.duration)
				if err != nil {
					return err
				}
				maxLogin = smp.RPS
			}
			rate := maxLogin / 2
			m, err := s.alternate(ctx, "latency", present(direct, nginx, caddy, f200on), false, s.loadRunner(ctx, rate))
			if err != nil {
				return err
			}
			s.section(fmt.Sprintf("Latency at half of ssogate's maximum login rate: %.0f req/s, open loop (bench/cmd/load)", rate))
			s.baseRow("latency", m[direct], "baseline")
			s.addedRow("latency", m[nginx], m[direct], 0)
			if caddy != nil {
				s.addedRow("latency", m[caddy], m[direct], 0)
			}
			s.addedRow("latency", m[f200on], m[direct], 1000)
		}
	}
	return nil
}

// redisGroups runs the same comparisons with the redis store, cached and uncached.
func (s *suite) redisGroups(ctx context.Context) error {
	if c, err := net.DialTimeout("tcp", s.redis, time.Second); err != nil {
		s.note("redis not reachable at %s: redis scenarios skipped", s.redis)
		return nil
	} else {
		c.Close()
	}
	prefix := fmt.Sprintf("ssogate-bench-%d-%d:", os.Getpid(), time.Now().Unix())
	defer s.cleanRedis(prefix)
	specs := []gwSpec{
		{name: "redis-rl-off", redis: s.redis, redisPrefix: prefix},
		{name: "redis-rl-on", redis: s.redis, redisPrefix: prefix, rateLimit: true},
		{name: "redis-uncached-rl-off", redis: s.redis, redisPrefix: prefix, cacheSize: tinyCache},
		{name: "redis-uncached-rl-on", redis: s.redis, redisPrefix: prefix, cacheSize: tinyCache, rateLimit: true},
	}
	gws := make([]*gateway, len(specs))
	for i, spec := range specs {
		g, err := s.startGateway(ctx, spec)
		if errors.Is(err, errRedisNotBuilt) {
			s.note("redis store not built yet: the gateway refuses store.driver: redis; redis scenarios skipped")
			return nil
		}
		if err != nil {
			return err
		}
		defer s.procs.stop(g.proc)
		gws[i] = g
	}
	if err := seed(ctx, gws[0], true); err != nil {
		return fmt.Errorf("seed redis: %w", err)
	}
	off, on, uoff, uon := gws[0], gws[1], gws[2], gws[3]
	bareFast, direct, nginx := s.bareFastTarget(), s.directTarget(), s.nginxTarget()
	r1004 := gwTarget(off, "ssogate/redis 1004, cache hit (rl off)", body1004, 0, "1004")
	r200on := gwTarget(on, "ssogate/redis → stub, 200, cached (rl on)", body200, loginUsers, "200")
	r200off := gwTarget(off, "ssogate/redis → stub, 200, cached (rl off)", body200, loginUsers, "200")
	u1004 := gwTarget(uoff, "ssogate/redis 1004, uncached (rl off)", bodyUncached1004, uncachedUsers, "1004")
	u200 := gwTarget(uon, "ssogate/redis → stub, 200, uncached (rl on)", bodyUncached200, uncachedUsers, "200")
	m, err := s.alternate(ctx, "redis", []*target{bareFast, r1004, nginx, r200on, r200off, u1004, u200}, true, s.wrkRunner(ctx))
	if err != nil {
		return err
	}
	s.section("Redis store (127.0.0.1:6379, own key prefix): cached, and uncached (cache.size 64, 100,000 usernames)")
	s.baseRow("redis", m[bareFast], "ceiling")
	s.ratioRow("redis", m[r1004], m[bareFast], 0)
	s.ratioRow("redis", m[u1004], m[bareFast], 0)
	s.ratioRow("redis", m[u1004], m[r1004], 0.50)
	s.baseRow("redis", m[nginx], "baseline")
	s.ratioRow("redis", m[r200on], m[nginx], 0.50)
	s.ratioRow("redis", m[r200off], m[nginx], 0)
	s.ratioRow("redis", m[u200], m[nginx], 0)
	s.ratioRow("redis", m[u200], m[r200on], 0)

	rate := m[r200on].rps() / 2
	lat, err := s.alternate(ctx, "redis-latency", []*target{direct, r200on, u200}, false, s.loadRunner(ctx, rate))
	if err != nil {
		return err
	}
	s.section(fmt.Sprintf("Redis store, latency at half of the cached login maximum: %.0f req/s, open loop", rate))
	s.baseRow("redis-latency", lat[direct], "baseline")
	s.addedRow("redis-latency", lat[r200on], lat[direct], 1000)
	s.addedRow("redis-latency", lat[u200], lat[direct], 1000)
	return nil
}

// cleanRedis deletes every key under prefix (SCAN, UNLINK in batches).
func (s *suite) cleanRedis(prefix string) {
	n, err := deleteKeys(s.redis, prefix)
	if err != nil {
		s.note("redis cleanup of %s* failed after %d keys: %v", prefix, n, err)
		return
	}
	s.logf("redis: removed %d keys under %s", n, prefix)
}
