package gateway_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/gateway"
)

// reloadFile writes a configuration file from nested maps.
func reloadFile(t *testing.T, path string, doc map[string]any) {
	t.Helper()
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// warnedKeys returns the keys named by reload's restart warnings in a JSON log.
func warnedKeys(t *testing.T, logs string) []string {
	t.Helper()
	var keys []string
	for line := range strings.SplitSeq(logs, "\n") {
		var rec struct {
			Level, Msg, Key string
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Level == "WARN" && strings.Contains(rec.Msg, "needs a restart") {
			keys = append(keys, rec.Key)
		}
	}
	return keys
}

// Issue 8 item 7: a reload compared against a configuration never updated, and only some
// keys; rotating admin_token by SIGHUP did nothing and said nothing. Now every changed key is
// applied or named in a warning, and the configuration in effect follows.
func TestReloadAppliesOrWarnsForEveryKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ssogate.yaml")
	base := func() map[string]any {
		return map[string]any{
			"listen": "127.0.0.1:0", "admin_listen": "127.0.0.1:0", "admin_token": "t",
			"store":    map[string]any{"path": filepath.Join(dir, "d.db")},
			"clusters": []map[string]any{{"code": "ONE", "name": "n", "sso_url": "http://127.0.0.1:1/sso", "server_url": "http://127.0.0.1:1"}},
		}
	}
	reloadFile(t, path, base())
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	level := new(slog.LevelVar)
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g, err := gateway.New(context.Background(), cfg, gateway.Options{ConfigPath: path, LogLevel: level, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()

	doc := base()
	// Applied at once.
	doc["log_level"] = "warn"
	doc["shutdown_timeout"] = "3s"
	doc["cache"] = map[string]any{"ttl": "2s", "stale_if_error": "0s", "size": 10, "cluster_refresh": "1s"}
	doc["clusters"] = append(doc["clusters"].([]map[string]any),
		map[string]any{"code": "TWO", "name": "n", "sso_url": "http://127.0.0.1:1/sso", "server_url": "http://127.0.0.1:1"})
	applied := []string{"log_level", "shutdown_timeout", "cache.ttl", "cache.stale_if_error", "cache.cluster_refresh", "clusters",
		"admin_token", "http.trusted_proxies", "ratelimit.user_failures", "ratelimit.user_window", "ratelimit.ip_failures",
		"ratelimit.ip_window", "ratelimit.lockout_base", "ratelimit.lockout_max", "ratelimit.strike_window"}
	// Each of these needs a restart and must be named in a warning.
	doc["listen"] = "127.0.0.1:1"
	doc["admin_listen"] = "127.0.0.1:2"
	doc["admin_token"] = "rotated-s3cret-token"
	doc["log_format"] = "text"
	doc["username_case_insensitive"] = true
	doc["max_body_bytes"] = 1000
	doc["http"] = map[string]any{"read_header_timeout": "5s", "read_timeout": "5s", "write_timeout": "20s",
		"idle_timeout": "5s", "max_header_bytes": 8192, "max_conns": 5, "trusted_proxies": []string{"10.0.0.0/8"}}
	doc["store"] = map[string]any{"driver": "redis", "path": filepath.Join(dir, "other.db"), "redis_addrs": []string{"127.0.0.1:1"},
		"redis_master": "m", "redis_password": "redis-s3cret-pw", "redis_db": 1, "redis_prefix": "x:", "timeout": "2s"}
	doc["sso"] = map[string]any{"connect_timeout": "1s", "timeout": "5s", "max_in_flight": 3, "breaker_failures": 2, "breaker_open_for": "1s"}
	doc["refresh"] = map[string]any{"ttl": "1h"}
	doc["ratelimit"] = map[string]any{"enabled": false, "user_failures": 3, "user_window": "1m", "ip_failures": 5,
		"ip_window": "1m", "lockout_base": "1m", "lockout_max": "2m", "strike_window": "1h"}
	reloadFile(t, path, doc)
	if err := g.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The keys this file changes (a key added later, which the file leaves alone, is pinned
	// by TestEveryKeyHasAReloadRule instead); all but the applied ones must be warned about.
	newCfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	changed := config.Changed(cfg, newCfg)
	var wantWarned []string
	for _, k := range changed {
		if !slices.Contains(applied, k) {
			wantWarned = append(wantWarned, k)
		}
	}
	if len(wantWarned) < 26 {
		t.Fatalf("the test changes only %d keys needing a restart: %v", len(wantWarned), wantWarned)
	}
	got := warnedKeys(t, logs.String())
	for _, k := range wantWarned {
		if !slices.Contains(got, k) {
			t.Errorf("a change of %s was neither applied nor named in a warning", k)
		}
	}
	for _, k := range applied {
		if slices.Contains(got, k) {
			t.Errorf("%s is applied on reload, yet warned about as needing a restart", k)
		}
	}
	for _, secret := range []string{"rotated-s3cret-token", "redis-s3cret-pw"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows the secret %q", secret)
		}
	}

	// Applied keys took effect and are in the configuration in effect; keys needing a restart
	// keep their running values there.
	eff := g.Config()
	if level.Level() != slog.LevelWarn || eff.LogLevel != "warn" {
		t.Errorf("log_level: level %v, config %q", level.Level(), eff.LogLevel)
	}
	if eff.ShutdownTimeout != 3*time.Second || eff.Cache.TTL != 2*time.Second || eff.Cache.StaleIfError != 0 ||
		eff.Cache.ClusterRefresh != time.Second {
		t.Errorf("applied keys not in effect: %+v", eff.Cache)
	}
	if eff.RateLimit.UserFailures != 3 || eff.RateLimit.Enabled != cfg.RateLimit.Enabled {
		t.Errorf("ratelimit in effect: %+v (enabled must keep its running value)", eff.RateLimit)
	}
	if tp := g.TrustedProxiesInEffect(); len(tp) != 1 || tp[0].String() != "10.0.0.0/8" {
		t.Errorf("trusted proxies in effect: %v", tp)
	}
	if _, err := g.Directory().GetCluster(context.Background(), "TWO"); err != nil {
		t.Errorf("clusters: %v", err)
	}
	if eff.Listen != "127.0.0.1:0" || eff.Store.Driver != config.DriverEmbedded || eff.AdminToken != "rotated-s3cret-token" || eff.Cache.Size != cfg.Cache.Size {
		t.Errorf("a key needing a restart changed the configuration in effect: listen %q driver %q", eff.Listen, eff.Store.Driver)
	}

	// Still not applied: a second reload warns again.
	before := len(got)
	if err := g.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again := warnedKeys(t, logs.String())[before:]; !slices.Contains(again, "listen") || slices.Contains(again, "log_level") {
		t.Errorf("second reload warned %v; want listen again and never log_level", again)
	}
}
