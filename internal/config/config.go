package config

import (
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration of `ssogate serve`. The yaml tags are the keys of the file
// and, upper-cased and joined with "_" behind SSOGATE_, of the environment (SPEC section 6).
type Config struct {
	// Listen is the token endpoint's address (host:port; port 0 picks a free one).
	Listen string `yaml:"listen"`
	// AdminListen is the admin API's separate, internal listener (SPEC section 5).
	AdminListen string `yaml:"admin_listen"`
	// AdminToken is the admin API's bearer token; empty means one is generated at start.
	AdminToken string `yaml:"admin_token"`
	// AdminTokens are named, scoped tokens stored as SHA-256 (SPEC section 8); applied again
	// on reload. A list has no one-variable form, so the environment cannot set it.
	AdminTokens []AdminToken `yaml:"admin_tokens,omitempty" env:"-"`
	// ShutdownTimeout bounds the graceful stop on SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// LogLevel is a log/slog level: debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// LogFormat is "json" or "text".
	LogFormat string `yaml:"log_format"`
	// UsernameCaseInsensitive folds usernames to lower case (SPEC section 3).
	UsernameCaseInsensitive bool `yaml:"username_case_insensitive"`
	// MaxBodyBytes limits a token request's body; larger ones get 413 (SPEC section 2).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`

	HTTP      HTTPConfig      `yaml:"http"`
	Store     StoreConfig     `yaml:"store"`
	Cache     CacheConfig     `yaml:"cache"`
	SSO       SSOConfig       `yaml:"sso"`
	Refresh   RefreshConfig   `yaml:"refresh"`
	RateLimit RateLimitConfig `yaml:"ratelimit"`
	Tracing   TracingConfig   `yaml:"tracing"`

	// TLS and AdminTLS turn the public and admin listeners into TLS listeners (SPEC section 10);
	// both empty (the default) serve plain HTTP.
	TLS      TLSConfig `yaml:"tls"`
	AdminTLS TLSConfig `yaml:"admin_tls"`

	// Clusters are upserted into the store at start and on SIGHUP. A list of structured
	// entries has no sensible one-variable form, so it is the one key the environment
	// cannot override.
	Clusters Clusters `yaml:"clusters" env:"-"`
}

// HTTPConfig protects the public listener from slow and greedy clients (SPEC section 6).
type HTTPConfig struct {
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading the body once the headers are in (read_header_timeout
	// bounds the request line and headers).
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing an answer; kept longer than sso.timeout so no deployment
	// behind a stricter proxy cuts off a slow SSO's answer.
	WriteTimeout   time.Duration `yaml:"write_timeout"`
	IdleTimeout    time.Duration `yaml:"idle_timeout"`
	MaxHeaderBytes int           `yaml:"max_header_bytes"`
	// MaxConns caps simultaneous connections to the public listener; 0 means no cap.
	MaxConns int `yaml:"max_conns"`
	// TrustedProxies are the IPs or CIDRs whose X-Forwarded-For is believed when finding the
	// client IP for rate limits; empty trusts nobody.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// StoreConfig selects the shared store of clusters, bindings, refresh tokens and counters.
type StoreConfig struct {
	// Driver is "embedded" (one file, one process) or "redis" (shared by many instances).
	Driver string `yaml:"driver"`
	// Path is the embedded store's file.
	Path string `yaml:"path"`
	// RedisAddrs are host:port addresses: one for standalone, several for Redis Cluster, or
	// the Sentinels when RedisMaster is set.
	RedisAddrs    []string `yaml:"redis_addrs"`
	RedisMaster   string   `yaml:"redis_master"`
	RedisPassword string   `yaml:"redis_password"`
	RedisDB       int      `yaml:"redis_db"`
	RedisPrefix   string   `yaml:"redis_prefix"`
	// Timeout is the deadline of every store operation (SPEC section 3).
	Timeout time.Duration `yaml:"timeout"`
	// RedisFlushDelay is how long a Redis connection's writer may wait after a write to
	// gather the commands of concurrent requests into the next one; 0 writes each at once.
	RedisFlushDelay time.Duration `yaml:"redis_flush_delay"`
	// RedisConnections is how many connections to each Redis server carry the pipelined
	// commands (a power of two); 0 leaves it to the Redis client (by CPU count).
	RedisConnections int `yaml:"redis_connections"`
}

// CacheConfig tunes the in-process directory cache (SPEC section 3).
type CacheConfig struct {
	// Size bounds the number of cached usernames.
	Size int `yaml:"size"`
	// TTL is how long an answer is served without asking the store again.
	TTL time.Duration `yaml:"ttl"`
	// StaleIfError is how long a cached answer is still served while the store fails;
	// 0 serves nothing stale.
	StaleIfError time.Duration `yaml:"stale_if_error"`
	// ClusterRefresh is how often the cluster table is reloaded from the store.
	ClusterRefresh time.Duration `yaml:"cluster_refresh"`
}

// SSOConfig tunes forwarding to the clusters' SSOs (SPEC section 4).
type SSOConfig struct {
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// Timeout bounds a whole forwarded request, answer included.
	Timeout time.Duration `yaml:"timeout"`
	// MaxInFlight bounds concurrent requests per cluster; beyond it the answer is an
	// immediate 1002 temporarily_unavailable.
	MaxInFlight int `yaml:"max_in_flight"`
	// BreakerFailures consecutive transport failures, timeouts or 5xx open a cluster's
	// breaker for BreakerOpenFor.
	BreakerFailures int           `yaml:"breaker_failures"`
	BreakerOpenFor  time.Duration `yaml:"breaker_open_for"`
	// CAFile is a PEM bundle trusted for https token URLs besides the system's CAs.
	CAFile string `yaml:"ca_file"`
	// ClientCertFile and ClientKeyFile are the client certificate shown to SSOs that demand
	// mutual TLS (a cluster's own pair takes precedence).
	ClientCertFile string `yaml:"client_cert_file"`
	ClientKeyFile  string `yaml:"client_key_file"`
}

// RefreshConfig governs the record of refresh tokens handed out (SPEC section 2).
type RefreshConfig struct {
	// TTL is how long a refresh token's cluster is remembered.
	TTL time.Duration `yaml:"ttl"`
}

// RateLimitConfig is the brute-force protection of SPEC section 6.
type RateLimitConfig struct {
	Enabled bool `yaml:"enabled"`
	// UserFailures failed logins per username within UserWindow trigger a lockout.
	UserFailures int           `yaml:"user_failures"`
	UserWindow   time.Duration `yaml:"user_window"`
	// IPFailures failed logins per client IP within IPWindow trigger a lockout.
	IPFailures int           `yaml:"ip_failures"`
	IPWindow   time.Duration `yaml:"ip_window"`
	// The n-th lockout of a username within StrikeWindow lasts LockoutBase·2^(n-1), capped
	// at LockoutMax: temporary and growing, never permanent (internal/ratelimit.Options).
	LockoutBase  time.Duration `yaml:"lockout_base"`
	LockoutMax   time.Duration `yaml:"lockout_max"`
	StrikeWindow time.Duration `yaml:"strike_window"`
}

// Default returns the configuration used for every key the file and environment leave unset.
func Default() Config {
	return Config{
		Listen:          ":9000",
		AdminListen:     "127.0.0.1:9001",
		ShutdownTimeout: 15 * time.Second,
		LogLevel:        "info",
		LogFormat:       "json",
		MaxBodyBytes:    64 << 10,
		HTTP: HTTPConfig{
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       15 * time.Second,
			WriteTimeout:      15 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    16 << 10,
			MaxConns:          10000,
		},
		Store: StoreConfig{
			Driver:      DriverEmbedded,
			Path:        "./data/ssogate.db",
			RedisPrefix: "ssogate:",
			Timeout:     time.Second,
			// One connection (Redis runs commands one at a time; the commands queued while a
			// write is on the wire leave together) and no gathering delay: a delay raises
			// the throughput at saturation but, since a short sleep often lasts a timer tick,
			// slows logins at low and moderate concurrency by up to 3.5 × (docs/benchmarks.md,
			// round two). An operator running Redis-bound at saturation can set one.
			RedisFlushDelay:  0,
			RedisConnections: 1,
		},
		Cache: CacheConfig{
			Size:           1_000_000,
			TTL:            time.Minute,
			StaleIfError:   time.Hour,
			ClusterRefresh: 10 * time.Second,
		},
		SSO: SSOConfig{
			ConnectTimeout:  3 * time.Second,
			Timeout:         10 * time.Second,
			MaxInFlight:     256,
			BreakerFailures: 5,
			BreakerOpenFor:  10 * time.Second,
		},
		Refresh: RefreshConfig{TTL: 30 * 24 * time.Hour},
		Tracing: TracingConfig{SampleRatio: 1, ServiceName: "ssogate"},
		RateLimit: RateLimitConfig{
			Enabled:      true,
			UserFailures: 10,
			UserWindow:   15 * time.Minute,
			IPFailures:   100,
			IPWindow:     15 * time.Minute,
			LockoutBase:  15 * time.Minute, // one user window, Keycloak's longest wait
			LockoutMax:   time.Hour,
			StrikeWindow: 24 * time.Hour,
		},
	}
}

// Store drivers.
const (
	DriverEmbedded = "embedded"
	DriverRedis    = "redis"
)

// redactedMark replaces secrets in Redacted.
const redactedMark = "***"

// Redacted returns a copy safe to print or log: admin_token and store.redis_password are
// replaced by "***" when set (left empty when unset, which tells the reader a token will be
// generated). Slices are copied, so the copy shares nothing mutable with c.
func (c Config) Redacted() Config {
	if c.AdminToken != "" {
		c.AdminToken = redactedMark
	}
	if c.Store.RedisPassword != "" {
		c.Store.RedisPassword = redactedMark
	}
	c.HTTP.TrustedProxies = slices.Clone(c.HTTP.TrustedProxies)
	c.Store.RedisAddrs = slices.Clone(c.Store.RedisAddrs)
	c.Clusters = slices.Clone(c.Clusters)
	c.AdminTokens = slices.Clone(c.AdminTokens)
	return c
}

// YAML renders the effective configuration, without secrets, in the file's format: what
// `serve --check-config` prints.
func (c Config) YAML() ([]byte, error) {
	return yaml.Marshal(c.Redacted())
}

// String is the redacted YAML, so printing a Config never shows a secret.
func (c Config) String() string {
	b, err := c.YAML()
	if err != nil {
		return "config: " + err.Error()
	}
	return string(b)
}

// LogValue keeps secrets out of structured logs too: slog.Any("config", cfg) logs the
// redacted configuration under its YAML keys.
func (c Config) LogValue() slog.Value {
	b, err := c.YAML()
	if err != nil {
		return slog.StringValue("config: " + err.Error())
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return slog.StringValue("config: " + err.Error())
	}
	return slog.AnyValue(m)
}

// SlogLevel is log_level as a slog.Level; info when it does not parse (Validate rejects that).
func (c Config) SlogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// TrustedProxyPrefixes returns http.trusted_proxies as prefixes, a bare IP becoming a
// single-address prefix; entries that do not parse (Validate rejects them) are skipped.
func (c Config) TrustedProxyPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(c.HTTP.TrustedProxies))
	for _, s := range c.HTTP.TrustedProxies {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// parsePrefix accepts a CIDR ("10.0.0.0/8") or a single IP ("10.1.2.3", "::1").
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
