package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/ssogate/ssogate/internal/directory"
)

// ErrInvalid is wrapped by every FieldError: errors.Is(err, ErrInvalid) tells a bad
// configuration from an unreadable file.
var ErrInvalid = errors.New("invalid configuration")

// FieldError is one problem with one key. Validate and Load join them, one per problem, so an
// operator fixes a file in one pass (SPEC section 6: "a message naming the key").
type FieldError struct {
	// Source is where the value came from when known: "ssogate.yaml:12" or "SSOGATE_SSO_TIMEOUT".
	Source string
	// Key is the dotted YAML key, e.g. "store.driver" or "clusters[1].sso_url".
	Key string
	Msg string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *FieldError) Unwrap() error { return ErrInvalid }

// Validate checks the whole configuration and reports every problem at once (errors.Join of
// *FieldError), each naming its key. It also normalises: log_level, log_format and
// store.driver are lower-cased, and clusters go through directory.Cluster.Validate (codes
// upper-cased, names trimmed). Rate-limit values are checked even when ratelimit.enabled is
// false, so turning it on cannot reveal a broken setting in production.
func (c *Config) Validate() error {
	v := &validator{}

	v.listenAddr("listen", c.Listen)
	v.listenAddr("admin_listen", c.AdminListen)
	if c.Listen == c.AdminListen && !strings.HasSuffix(c.Listen, ":0") {
		v.add("admin_listen", "must differ from listen (%q)", c.Listen)
	}
	if strings.ContainsFunc(c.AdminToken, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		// The value is a secret: never echo it.
		v.add("admin_token", "must not contain spaces or control characters")
	}
	positive(v, "shutdown_timeout", c.ShutdownTimeout)
	c.validateTracing(v)
	c.LogLevel = strings.ToLower(strings.TrimSpace(c.LogLevel))
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		v.add("log_level", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	c.LogFormat = strings.ToLower(strings.TrimSpace(c.LogFormat))
	if c.LogFormat != "json" && c.LogFormat != "text" {
		v.add("log_format", `must be "json" or "text", got %q`, c.LogFormat)
	}
	positive(v, "max_body_bytes", c.MaxBodyBytes)

	h := &c.HTTP
	positive(v, "http.read_header_timeout", h.ReadHeaderTimeout)
	positive(v, "http.read_timeout", h.ReadTimeout)
	positive(v, "http.write_timeout", h.WriteTimeout)
	positive(v, "http.idle_timeout", h.IdleTimeout)
	positive(v, "http.max_header_bytes", h.MaxHeaderBytes)
	if h.MaxConns < 0 {
		v.add("http.max_conns", "must not be negative (0 means no limit), got %d", h.MaxConns)
	}
	for i, p := range h.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			v.add(fmt.Sprintf("http.trusted_proxies[%d]", i), "must be an IP address or a CIDR, got %q", p)
		}
	}
	// A write timeout shorter than the SSO's would cut off
	// answers the SSO is still allowed to give (SPEC section 4).
	if h.WriteTimeout > 0 && c.SSO.Timeout > 0 && h.WriteTimeout <= c.SSO.Timeout {
		v.add("http.write_timeout", "must be longer than sso.timeout (%s), got %s", c.SSO.Timeout, h.WriteTimeout)
	}

	s := &c.Store
	s.Driver = strings.ToLower(strings.TrimSpace(s.Driver))
	switch s.Driver {
	case DriverEmbedded:
		if strings.TrimSpace(s.Path) == "" {
			v.add("store.path", "required when store.driver is embedded")
		}
	case DriverRedis:
		if len(s.RedisAddrs) == 0 {
			v.add("store.redis_addrs", "required when store.driver is redis")
		}
		for i, a := range s.RedisAddrs {
			if !validDialAddr(a) {
				v.add(fmt.Sprintf("store.redis_addrs[%d]", i), "must be host:port, got %q", a)
			}
		}
		if s.RedisPrefix == "" {
			// Refused rather than taken as "the default": an empty value must not mean
			// something the operator did not write (SPEC section 6).
			v.add("store.redis_prefix", `must not be empty (default "ssogate:"); it starts every key and the change channel`)
		}
	default:
		v.add("store.driver", `must be "embedded" or "redis", got %q`, s.Driver)
	}
	if s.RedisDB < 0 {
		v.add("store.redis_db", "must not be negative, got %d", s.RedisDB)
	}
	positive(v, "store.timeout", s.Timeout)
	if s.RedisFlushDelay < 0 || s.RedisFlushDelay > time.Millisecond {
		v.add("store.redis_flush_delay", "must be between 0 and 1ms, got %s", s.RedisFlushDelay)
	}
	if n := s.RedisConnections; n < 0 || n > 256 || n&(n-1) != 0 {
		v.add("store.redis_connections", "must be 0 (the client's choice) or a power of two up to 256, got %d", n)
	}

	positive(v, "cache.size", c.Cache.Size)
	positive(v, "cache.ttl", c.Cache.TTL)
	if c.Cache.StaleIfError < 0 {
		v.add("cache.stale_if_error", "must not be negative, got %s", c.Cache.StaleIfError)
	}
	positive(v, "cache.cluster_refresh", c.Cache.ClusterRefresh)

	o := &c.SSO
	positive(v, "sso.connect_timeout", o.ConnectTimeout)
	positive(v, "sso.timeout", o.Timeout)
	if o.ConnectTimeout > 0 && o.Timeout > 0 && o.ConnectTimeout > o.Timeout {
		v.add("sso.connect_timeout", "must not exceed sso.timeout (%s), got %s", o.Timeout, o.ConnectTimeout)
	}
	positive(v, "sso.max_in_flight", o.MaxInFlight)
	positive(v, "sso.breaker_failures", o.BreakerFailures)
	positive(v, "sso.breaker_open_for", o.BreakerOpenFor)

	positive(v, "refresh.ttl", c.Refresh.TTL)

	r := &c.RateLimit
	positive(v, "ratelimit.user_failures", r.UserFailures)
	positive(v, "ratelimit.user_window", r.UserWindow)
	positive(v, "ratelimit.ip_failures", r.IPFailures)
	positive(v, "ratelimit.ip_window", r.IPWindow)
	positive(v, "ratelimit.lockout_base", r.LockoutBase)
	positive(v, "ratelimit.lockout_max", r.LockoutMax)
	positive(v, "ratelimit.strike_window", r.StrikeWindow)
	if r.LockoutBase > 0 && r.LockoutMax > 0 && r.LockoutMax < r.LockoutBase {
		v.add("ratelimit.lockout_max", "must not be shorter than ratelimit.lockout_base (%s), got %s", r.LockoutBase, r.LockoutMax)
	}

	v.tls(c)
	v.clusters(c.Clusters)
	v.adminTokens(c.AdminTokens)
	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// positive rejects zero and negative counts, sizes and durations.
func positive[T ~int | ~int64](v *validator, key string, n T) {
	if n <= 0 {
		v.add(key, "must be positive, got %v", n)
	}
}

// listenAddr accepts what net.Listen("tcp", …) takes: host:port with an optional host and a
// numeric port, 0 meaning any free port (the end-to-end tests listen on ":0").
func (v *validator) listenAddr(key, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil || strings.ContainsAny(host, " /") {
		v.add(key, `must be host:port such as ":9000" or "127.0.0.1:9001", got %q`, addr)
	}
}

// validDialAddr reports whether addr is host:port with a host and a port from 1 to 65535.
func validDialAddr(addr string) bool {
	host, port, err := net.SplitHostPort(strings.TrimSpace(addr))
	if err != nil || host == "" {
		return false
	}
	p, err := strconv.ParseUint(port, 10, 16)
	return err == nil && p > 0
}

// clusters checks every entry field by field, so each problem names its key, then lets
// directory.Cluster.Validate — the rule the admin API applies too — normalise it and have the
// last word.
func (v *validator) clusters(cs Clusters) {
	seen := map[string]int{}
	for i := range cs {
		cl := &cs[i]
		key := fmt.Sprintf("clusters[%d]", i)
		before := len(v.errs)
		if code, err := directory.NormalizeCode(cl.Code); err != nil {
			v.add(key+".code", "must be 1 to 64 letters, digits, '_' or '-', got %q", cl.Code)
		} else if j, dup := seen[code]; dup {
			v.add(key+".code", "duplicates clusters[%d].code (%s; codes ignore case)", j, code)
		} else {
			seen[code] = i
		}
		if strings.TrimSpace(cl.Name) == "" {
			v.add(key+".name", "required")
		}
		v.url(key+".sso_url", cl.SSOURL, true)
		v.url(key+".server_url", cl.ServerURL, true)
		v.url(key+".token_url", cl.TokenURL, false)
		v.clusterTLS(key, cl)
		if cl.Sync != nil {
			v.url(key+".sync.url", cl.Sync.URL, true)
			if d := time.Duration(cl.Sync.Interval); d < directory.MinSyncInterval {
				v.add(key+".sync.interval", "must be at least %s, got %s", directory.MinSyncInterval, d)
			}
		}
		if len(v.errs) > before {
			continue
		}
		if err := cl.Validate(); err != nil {
			v.add(key, "%v", err)
		}
	}
}

func (v *validator) url(key, raw string, required bool) {
	if raw == "" {
		if required {
			v.add(key, "required")
		}
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		// Not the parser's message: it quotes the URL, credentials included.
		v.add(key, "must be an absolute http(s) URL")
		return
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		// Redacted: a URL with credentials must not print them.
		v.add(key, "must be an absolute http(s) URL without credentials, got %q", u.Redacted())
	}
}
