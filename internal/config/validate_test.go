package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
)

func cluster(code string) directory.Cluster {
	return directory.Cluster{Code: code, Name: "n " + code, SSOURL: "http://h/sso", ServerURL: "http://h/server", Enabled: true}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(*Config)
		wantKeys []string
		wantText string // in the whole message, when set
	}{
		{
			name:     "unknown store driver",
			mutate:   func(c *Config) { c.Store.Driver = "mysql" },
			wantKeys: []string{"store.driver"},
			wantText: `store.driver: must be "embedded" or "redis", got "mysql"`,
		},
		{
			name:     "redis without addresses",
			mutate:   func(c *Config) { c.Store.Driver = "redis" },
			wantKeys: []string{"store.redis_addrs"},
			wantText: "store.redis_addrs: required when store.driver is redis",
		},
		{
			name:     "bad redis address",
			mutate:   func(c *Config) { c.Store.Driver = "redis"; c.Store.RedisAddrs = []string{"r:6379", "nohost", ":6379"} },
			wantKeys: []string{"store.redis_addrs[1]", "store.redis_addrs[2]"},
		},
		{
			// redisstore took an empty prefix as "use ssogate:" (issue 8 item 5: an empty value
			// means what the key says, never the default), so it is refused, naming the key.
			name: "redis with an empty prefix",
			mutate: func(c *Config) {
				c.Store.Driver = "redis"
				c.Store.RedisAddrs = []string{"r:6379"}
				c.Store.RedisPrefix = ""
			},
			wantKeys: []string{"store.redis_prefix"},
		},
		{
			name:     "redis flush delay out of range",
			mutate:   func(c *Config) { c.Store.RedisFlushDelay = 2 * time.Millisecond },
			wantKeys: []string{"store.redis_flush_delay"},
			wantText: "store.redis_flush_delay: must be between 0 and 1ms, got 2ms",
		},
		{
			name:     "redis connections not a power of two",
			mutate:   func(c *Config) { c.Store.RedisConnections = 3 },
			wantKeys: []string{"store.redis_connections"},
			wantText: "store.redis_connections: must be 0 (the client's choice) or a power of two up to 256, got 3",
		},
		{
			name:     "too many redis connections",
			mutate:   func(c *Config) { c.Store.RedisConnections = 512 },
			wantKeys: []string{"store.redis_connections"},
		},
		{
			name:     "negative redis connections",
			mutate:   func(c *Config) { c.Store.RedisConnections = -1 },
			wantKeys: []string{"store.redis_connections"},
		},
		{
			name:     "negative redis flush delay",
			mutate:   func(c *Config) { c.Store.RedisFlushDelay = -time.Microsecond },
			wantKeys: []string{"store.redis_flush_delay"},
		},
		{
			name:     "embedded without path",
			mutate:   func(c *Config) { c.Store.Path = " " },
			wantKeys: []string{"store.path"},
		},
		{
			name:     "listen addresses",
			mutate:   func(c *Config) { c.Listen = "9000"; c.AdminListen = "localhost:http" },
			wantKeys: []string{"listen", "admin_listen"},
		},
		{
			name:     "admin listener on the public address",
			mutate:   func(c *Config) { c.AdminListen = c.Listen },
			wantKeys: []string{"admin_listen"},
		},
		{
			name:     "log settings",
			mutate:   func(c *Config) { c.LogLevel = "verbose"; c.LogFormat = "xml" },
			wantKeys: []string{"log_level", "log_format"},
		},
		{
			// The token is a secret: the message must not repeat it.
			name:     "admin token with a space",
			mutate:   func(c *Config) { c.AdminToken = "abc def" },
			wantKeys: []string{"admin_token"},
		},
		{
			name: "non-positive durations and sizes",
			mutate: func(c *Config) {
				c.SSO.Timeout = 0
				c.Cache.Size = -1
				c.HTTP.MaxConns = -1
				c.Refresh.TTL = -time.Second
			},
			wantKeys: []string{"http.max_conns", "cache.size", "sso.timeout", "refresh.ttl"},
			wantText: "sso.timeout: must be positive",
		},
		{
			name:     "trusted proxies",
			mutate:   func(c *Config) { c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.0/33", "proxy.local", "::1"} },
			wantKeys: []string{"http.trusted_proxies[1]", "http.trusted_proxies[2]"},
		},
		{
			// A write timeout shorter than the SSO's would cut off answers the SSO may still give.
			name:     "write timeout not longer than the SSO timeout",
			mutate:   func(c *Config) { c.HTTP.WriteTimeout = 10 * time.Second },
			wantKeys: []string{"http.write_timeout"},
		},
		{
			name:     "connect timeout over total timeout",
			mutate:   func(c *Config) { c.SSO.ConnectTimeout = 11 * time.Second; c.HTTP.WriteTimeout = time.Minute },
			wantKeys: []string{"sso.connect_timeout"},
		},
		{
			// Checked even when disabled, so enabling it later cannot break production.
			name: "rate limits",
			mutate: func(c *Config) {
				c.RateLimit.Enabled = false
				c.RateLimit.UserFailures = 0
				c.RateLimit.LockoutMax = time.Second
			},
			wantKeys: []string{"ratelimit.user_failures", "ratelimit.lockout_max"},
		},
		{
			name: "clusters: every field of every entry",
			mutate: func(c *Config) {
				bad := directory.Cluster{Code: "bad code!", SSOURL: "ftp://h/sso", ServerURL: "", TokenURL: "http://user:pw@h/t"}
				c.Clusters = Clusters{cluster("ok"), bad}
			},
			wantKeys: []string{"clusters[1].code", "clusters[1].name", "clusters[1].sso_url", "clusters[1].server_url", "clusters[1].token_url"},
		},
		{
			// Codes are compared upper-cased (SPEC section 3), so "a" and "A" collide.
			name:     "duplicate cluster codes",
			mutate:   func(c *Config) { c.Clusters = Clusters{cluster("a"), cluster("b"), cluster("A")} },
			wantKeys: []string{"clusters[2].code"},
			wantText: "clusters[2].code: duplicates clusters[0].code (A",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want ErrInvalid", err)
			}
			if got := errorKeys(t, err); !reflect.DeepEqual(got, tt.wantKeys) {
				t.Errorf("keys = %q, want %q\n%v", got, tt.wantKeys, err)
			}
			if tt.wantText != "" && !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error does not contain %q:\n%v", tt.wantText, err)
			}
			for _, secret := range []string{"abc def", ":pw@"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a secret %q:\n%v", secret, err)
				}
			}
		})
	}
}

// SPEC section 6: every problem at once, not the first one only.
func TestValidateReportsEverything(t *testing.T) {
	cfg := Default()
	cfg.Listen = "nope"
	cfg.Store.Driver = "mysql"
	cfg.SSO.MaxInFlight = 0
	cfg.Clusters = Clusters{{Code: "X"}}
	err := cfg.Validate()
	want := []string{"listen", "store.driver", "sso.max_in_flight", "clusters[0].name", "clusters[0].sso_url", "clusters[0].server_url"}
	if got := errorKeys(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("keys = %q, want %q\n%v", got, want, err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != len(want) {
		t.Errorf("%d lines, want one per problem:\n%v", n, err)
	}
}

func TestValidateNormalises(t *testing.T) {
	cfg := Default()
	cfg.LogLevel = " WARN "
	cfg.LogFormat = "Text"
	cfg.Store.Driver = "Embedded"
	cfg.Clusters = Clusters{{Code: " test0525 ", Name: " 测试用 ", SSOURL: "https://h/sso", ServerURL: "https://h/server"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := directory.Cluster{Code: "TEST0525", Name: "测试用", SSOURL: "https://h/sso", ServerURL: "https://h/server"}
	if cfg.LogLevel != "warn" || cfg.LogFormat != "text" || cfg.Store.Driver != DriverEmbedded || cfg.Clusters[0] != want {
		t.Errorf("not normalised: level %q format %q driver %q cluster %+v", cfg.LogLevel, cfg.LogFormat, cfg.Store.Driver, cfg.Clusters[0])
	}
	again := cfg
	if err := again.Validate(); err != nil || !reflect.DeepEqual(again, cfg) {
		t.Errorf("Validate is not idempotent: %v", err)
	}
}
