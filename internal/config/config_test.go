package config

import (
	"bytes"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeConfig writes a config file into a fresh temporary directory and returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ssogate.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fieldErrors unpacks a joined error into its FieldErrors.
func fieldErrors(t *testing.T, err error) []*FieldError {
	t.Helper()
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else if err != nil {
		list = []error{err}
	}
	var out []*FieldError
	for _, e := range list {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("error %q is not a *FieldError", e)
		}
		out = append(out, fe)
	}
	return out
}

func errorKeys(t *testing.T, err error) []string {
	t.Helper()
	var keys []string
	for _, fe := range fieldErrors(t, err) {
		keys = append(keys, fe.Key)
	}
	return keys
}

func TestDefaultValidates(t *testing.T) {
	cfg := Default()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("Validate changed the defaults: %+v", cfg)
	}
	// The numbers of SPEC sections 2-6.
	if cfg.Listen != ":9000" || cfg.AdminListen != "127.0.0.1:9001" || cfg.Store.Path != "./data/ssogate.db" ||
		cfg.Store.Timeout != time.Second || cfg.Cache.StaleIfError != time.Hour || cfg.SSO.ConnectTimeout != 3*time.Second ||
		cfg.SSO.Timeout != 10*time.Second || cfg.SSO.MaxInFlight != 256 || cfg.Refresh.TTL != 30*24*time.Hour ||
		!cfg.RateLimit.Enabled || cfg.ShutdownTimeout != 15*time.Second || cfg.MaxBodyBytes != 65536 ||
		cfg.HTTP.ReadHeaderTimeout != 10*time.Second {
		t.Errorf("defaults differ from the spec: %+v", cfg)
	}
}

func TestRedacted(t *testing.T) {
	cfg := Default()
	cfg.AdminToken = "admin-secret-token"
	cfg.Store.RedisPassword = "redis-secret-pw"
	cfg.Store.RedisAddrs = []string{"r:6379"}

	red := cfg.Redacted()
	if red.AdminToken != "***" || red.Store.RedisPassword != "***" {
		t.Errorf("Redacted() kept a secret: %q %q", red.AdminToken, red.Store.RedisPassword)
	}
	if cfg.AdminToken != "admin-secret-token" {
		t.Error("Redacted() changed the original")
	}
	red.Store.RedisAddrs[0] = "changed"
	if cfg.Store.RedisAddrs[0] != "r:6379" {
		t.Error("Redacted() shares a slice with the original")
	}

	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("start", "config", cfg)
	outputs := map[string]string{"String": cfg.String(), "LogValue": logged.String()}
	for name, out := range outputs {
		for _, secret := range []string{"admin-secret-token", "redis-secret-pw"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows secret %q:\n%s", name, secret, out)
			}
		}
		if !strings.Contains(out, "redis_password") {
			t.Errorf("%s does not use the YAML keys:\n%s", name, out)
		}
	}

	// An unset token stays visibly unset: the operator learns one will be generated.
	if got := Default().Redacted().AdminToken; got != "" {
		t.Errorf("Redacted() of an empty token = %q, want empty", got)
	}
}

// The --check-config dump must be a valid config file that loads back to the same values.
func TestYAMLDumpLoadsBack(t *testing.T) {
	want := Default()
	want.Store.RedisAddrs = []string{"a:1", "b:2"}
	want.HTTP.TrustedProxies = []string{"10.0.0.0/8"}
	want.Clusters = Clusters{
		{Code: "A", Name: "a", SSOURL: "http://a/sso", ServerURL: "http://a/server", Enabled: true},
		{Code: "B", Name: "b", SSOURL: "http://b/sso", ServerURL: "http://b/server", TokenURL: "http://b/t", Enabled: false},
	}
	got, err := Load(writeConfig(t, want.String()), nil)
	if err != nil {
		t.Fatalf("Load(dump) = %v\n%s", err, want.String())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dump loaded back as\n%+v\nwant\n%+v", got, want)
	}
}

func TestEnvVarsCoverEveryKey(t *testing.T) {
	names := map[string]string{}
	for _, ev := range envVars() { // panics on a field the environment cannot set
		if other, dup := names[ev.name]; dup {
			t.Errorf("keys %s and %s share the variable %s", other, ev.key, ev.name)
		}
		names[ev.name] = ev.key
	}
	for name, key := range map[string]string{
		"SSOGATE_LISTEN":                    "listen",
		"SSOGATE_ADMIN_TOKEN":               "admin_token",
		"SSOGATE_STORE_REDIS_ADDRS":         "store.redis_addrs",
		"SSOGATE_CACHE_STALE_IF_ERROR":      "cache.stale_if_error",
		"SSOGATE_HTTP_TRUSTED_PROXIES":      "http.trusted_proxies",
		"SSOGATE_RATELIMIT_ENABLED":         "ratelimit.enabled",
		"SSOGATE_USERNAME_CASE_INSENSITIVE": "username_case_insensitive",
	} {
		if names[name] != key {
			t.Errorf("variable %s maps to %q, want %q", name, names[name], key)
		}
	}
	if _, ok := names["SSOGATE_CLUSTERS"]; ok {
		t.Error("clusters must not be settable from the environment")
	}
}

func TestHelpers(t *testing.T) {
	cfg := Default()
	cfg.HTTP.TrustedProxies = []string{"10.1.2.3", "192.168.0.0/16", "::1", "10.9.9.9/8"}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.1.2.3/32"), netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.0/8"),
	}
	if got := cfg.TrustedProxyPrefixes(); !reflect.DeepEqual(got, want) {
		t.Errorf("TrustedProxyPrefixes() = %v, want %v", got, want)
	}
	cfg.LogLevel = "warn"
	if got := cfg.SlogLevel(); got != slog.LevelWarn {
		t.Errorf("SlogLevel() = %v, want WARN", got)
	}
}
