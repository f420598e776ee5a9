package gateway

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/ratelimit"
)

// A reload (SIGHUP, POST /admin/reload) re-reads the file and the environment. Every key is
// either applied or named in a warning as needing a restart; none is ignored silently (SPEC
// section 6). reloadRules says which: one line per key or per section, so a new key is one
// new line. A changed key that no rule names is warned about as needing a restart, and
// TestEveryKeyHasAReloadRule fails until it gets its line.
//
// g.cfg is the configuration in effect: a key that needs a restart keeps its running value
// there, so every later reload warns about it again until the restart.

// reloadRule is what a reload does with one key ("log_level") or with every key of a
// section ("sso.") that has no rule of its own.
type reloadRule struct {
	key string
	// apply makes the new value take effect; nil means the key needs a restart. cfg is the
	// configuration in effect with this key's new value (for a section rule, called once per
	// changed key of the section, each call seeing one more of them).
	apply func(g *Gateway, ctx context.Context, cfg *config.Config) error
	// always applies on every reload, changed or not: the clusters list is upserted again
	// (an operator reloads to restore a cluster edited through the API).
	always bool
	// restart says, for a key without apply, why it needs one (logged with the warning).
	restart string
}

// liveValue is the apply of keys read from the configuration in effect whenever they are
// used (shutdown_timeout at shutdown): updating g.cfg is all it takes.
func liveValue(*Gateway, context.Context, *config.Config) error { return nil }

var reloadRules = []reloadRule{
	{key: "clusters", always: true, apply: func(g *Gateway, ctx context.Context, cfg *config.Config) error {
		return g.upsertClusters(ctx, cfg.Clusters)
	}},
	{key: "log_level", apply: func(g *Gateway, _ context.Context, cfg *config.Config) error {
		if g.logLevel != nil {
			g.logLevel.Set(cfg.SlogLevel())
		}
		return nil
	}},
	{key: "shutdown_timeout", apply: liveValue},
	{key: "cache.ttl", apply: applyCacheTimes},
	{key: "cache.stale_if_error", apply: applyCacheTimes},
	{key: "ratelimit.", apply: func(g *Gateway, _ context.Context, cfg *config.Config) error {
		if g.limiter != nil { // ratelimit.enabled false: nothing to apply the figures to
			g.limiter.SetOptions(g.ratelimitOptions(*cfg))
		}
		return nil
	}},
	{key: "ratelimit.enabled", restart: "the limiter is wired into the token endpoint at start"},
	{key: "http.trusted_proxies", apply: func(g *Gateway, _ context.Context, cfg *config.Config) error {
		g.token.SetTrustedProxies(cfg.TrustedProxyPrefixes())
		return nil
	}},
	// tls.* and admin_tls.* are re-read on every reload by reloadCertificates (tls.go).
	{key: "tls.", apply: liveValue},
	{key: "admin_tls.", apply: liveValue},
	// SPEC section 6: rotating a leaked admin token must not need a restart.
	{key: "admin_token", apply: applyAdminTokens},
	{key: "admin_tokens", apply: applyAdminTokens},
	{key: "listen", restart: "the listener is bound at start"},
	{key: "admin_listen", restart: "the listener is bound at start"},
	{key: "log_format", restart: "the log handler is built at start"},
	{key: "username_case_insensitive", restart: "cached and stored usernames were normalised with the old rule"},
	{key: "max_body_bytes", restart: "the servers' limits are set at start"},
	{key: "http.", restart: "the servers' limits are set at start"},
	{key: "store.", restart: "the store connection is opened at start"},
	{key: "cache.size", restart: "the cache is allocated at start"},
	{key: "cache.cluster_refresh", apply: func(g *Gateway, _ context.Context, cfg *config.Config) error {
		g.dir.SetClusterRefresh(cfg.Cache.ClusterRefresh)
		return nil
	}},
	{key: "sso.", restart: "the SSO forwarders are built at start"},
	{key: "refresh.ttl", restart: "the token endpoint is wired at start"},
	{key: "tracing.", restart: "the tracer and its exporter are built at start"},
}

// ruleFor finds the rule of key: its own line, else its section's; false if none.
func ruleFor(key string) (reloadRule, bool) {
	var section reloadRule
	found := false
	for _, r := range reloadRules {
		if r.key == key {
			return r, true
		}
		if strings.HasSuffix(r.key, ".") && strings.HasPrefix(key, r.key) && len(r.key) > len(section.key) {
			section, found = r, true
		}
	}
	return section, found
}

func applyAdminTokens(g *Gateway, _ context.Context, cfg *config.Config) error {
	return g.applyAdminTokens(*cfg)
}

func applyCacheTimes(g *Gateway, _ context.Context, cfg *config.Config) error {
	g.dir.SetCacheTimes(cfg.Cache.TTL, cfg.Cache.StaleIfError)
	return nil
}

// Reload re-reads the configuration file and the environment and applies them key by key
// (reloadRules): first the rules applied on every reload, then each changed key in the order
// of config.Keys. An invalid configuration changes nothing. A failing applier stops the
// reload with its error; the keys applied before it stay applied.
func (g *Gateway) Reload(ctx context.Context) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	cfg, err := config.Load(g.configPath, os.Environ())
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	old := g.currentConfig()
	effective := old
	// An applier sees the configuration in effect with its own key's new value: keys that
	// need a restart keep their running values (a section applier such as the rate limits'
	// reads store.timeout as it runs, not as the file now says).
	apply := func(r reloadRule, key string) error {
		next := effective
		config.CopyKey(&next, cfg, key)
		if err := r.apply(g, ctx, &next); err != nil {
			g.setConfig(effective) // the keys applied so far stay applied
			return fmt.Errorf("reload: %s: %w", key, err)
		}
		effective = next
		return nil
	}
	// Rules applied on every reload go first: the clusters are in place before the rest.
	for _, r := range reloadRules {
		if r.always {
			if err := apply(r, r.key); err != nil {
				return err
			}
		}
	}
	var restart []string
	for _, k := range config.Changed(old, cfg) {
		r, ok := ruleFor(k)
		switch {
		case r.always:
			continue // applied above
		case ok && r.apply != nil:
			if err := apply(r, k); err != nil {
				return err
			}
			continue
		}
		why := r.restart
		if !ok {
			why = "no reload rule for this key"
		}
		// The key only, never the value: some are secrets (admin_token, store.redis_password).
		g.logger.Warn("reload: changed key needs a restart to take effect; the running value stays", "key", k, "why", why)
		restart = append(restart, k)
	}
	if err := g.reloadCertificates(old, &effective); err != nil {
		g.setConfig(effective)
		return fmt.Errorf("reload: %w", err)
	}
	g.setConfig(effective)
	g.logger.Info("configuration reloaded", "clusters", len(cfg.Clusters), "restart_needed", restart)
	return nil
}

// currentConfig is the configuration in effect (read by Run at shutdown, written by Reload).
func (g *Gateway) currentConfig() config.Config {
	g.cfgMu.Lock()
	defer g.cfgMu.Unlock()
	return g.cfg
}

func (g *Gateway) setConfig(cfg config.Config) {
	g.cfgMu.Lock()
	g.cfg = cfg
	g.cfgMu.Unlock()
}

// Config returns the configuration in effect: the start's, with the keys applied by reloads.
func (g *Gateway) Config() config.Config { return g.currentConfig() }

// ratelimitOptions are the limiter's figures from cfg (at start, and on reload once the
// limiter can take them: see reloadRules).
func (g *Gateway) ratelimitOptions(cfg config.Config) ratelimit.Options {
	return ratelimit.Options{
		UserFailures: cfg.RateLimit.UserFailures,
		UserWindow:   cfg.RateLimit.UserWindow,
		IPFailures:   cfg.RateLimit.IPFailures,
		IPWindow:     cfg.RateLimit.IPWindow,
		LockoutBase:  cfg.RateLimit.LockoutBase,
		LockoutMax:   cfg.RateLimit.LockoutMax,
		StrikeWindow: cfg.RateLimit.StrikeWindow,
		StoreTimeout: cfg.Store.Timeout,
		SettleWait:   cfg.SSO.Timeout, // SPEC section 6: a wait for attempts in flight is bounded by sso.timeout
		Logger:       g.logger,
	}
}
