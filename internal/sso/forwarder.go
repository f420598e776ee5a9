package sso

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/valyala/fasthttp"

	"github.com/ssogate/ssogate/internal/deadline"
	"github.com/ssogate/ssogate/internal/directory"
)

// Options tune forwarding; zero values take the defaults of SPEC section 4.
type Options struct {
	ConnectTimeout time.Duration // default 3 s
	Timeout        time.Duration // whole exchange, default 10 s
	MaxInFlight    int           // per cluster, default 256
	// BreakerFailures consecutive transport failures, timeouts or 5xx open the breaker
	// (default 5); it stays open for BreakerOpenFor (default 10 s) before a trial request.
	BreakerFailures uint32
	BreakerOpenFor  time.Duration
	// MaxResponseBytes bounds an SSO's answer (default 1 MiB).
	MaxResponseBytes int
	// Observe, when set, is called after each exchange that reached an answer or failed.
	Observe func(cluster string, status int, elapsed time.Duration)
	// OnBreakerChange, when set, is told about every state change of a cluster's breaker.
	OnBreakerChange func(cluster string, from, to string)
	// TLS is what https token URLs are verified against and the client certificate they get.
	TLS TLSOptions
}

func (o *Options) setDefaults() {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 3 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 256
	}
	if o.BreakerFailures == 0 {
		o.BreakerFailures = 5
	}
	if o.BreakerOpenFor <= 0 {
		o.BreakerOpenFor = 10 * time.Second
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 1 << 20
	}
}

// Unavailable is returned when an SSO could not give an answer: refused, timed out, answered
// garbage, or was not even tried (breaker open, too many requests in flight). The request may
// or may not have reached the SSO; it is never retried.
type Unavailable struct {
	Cluster string
	Reason  string // for logs and metrics; never shown verbatim to clients
	Err     error
}

func (e *Unavailable) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("sso of cluster %s unavailable: %s: %s", e.Cluster, e.Reason, RedactPeerBytes(e.Err.Error()))
	}
	return fmt.Sprintf("sso of cluster %s unavailable: %s", e.Cluster, e.Reason)
}

// RedactPeerBytes cuts a fasthttp error message where bytes the other side sent start:
// fasthttp's errors quote a malformed request or response line or header and a snippet of the
// buffer, which may hold a token, a password or an Authorization header, and these errors are
// logged (SPEC section 6). It serves both directions: the SSO's answers here, the clients'
// requests in the public listener's log (tokenapi).
func RedactPeerBytes(msg string) string {
	cut := len(msg)
	for _, marker := range []string{`"`, "'", "`", "buffer size=", "contents:"} {
		if i := strings.Index(msg, marker); i >= 0 && i < cut {
			cut = i
		}
	}
	if cut == len(msg) {
		return msg
	}
	return strings.TrimRight(msg[:cut], " :,") + " [peer bytes redacted]"
}

func (e *Unavailable) Unwrap() error { return e.Err }

// errServerError marks a 5xx answer as a failure for the breaker while its body is still used.
var errServerError = errors.New("sso answered 5xx")

// Forwarder holds one upstream (pool, breaker, in-flight bound) per cluster.
type Forwarder struct {
	opts      Options
	mu        sync.RWMutex
	upstreams map[string]*upstream // by cluster code
}

type upstream struct {
	tokenURL string
	client   *fasthttp.HostClient
	breaker  *gobreaker.CircuitBreaker[int]
	inFlight atomic.Int64

	// tlsFiles are the cluster's TLS file names the client was made with (tls.go).
	tlsFiles tlsFileSet
	// lastAlert is the last TLS alert an SSO sent on a connection (see alertConn).
	lastAlert atomic.Pointer[alertRecord]
}

// New returns a Forwarder.
func New(opts Options) *Forwarder {
	opts.setDefaults()
	return &Forwarder{opts: opts, upstreams: make(map[string]*upstream)}
}

// Call is one token request to forward.
type Call struct {
	Body          []byte // form-encoded parameters, clusterCode already removed
	Authorization []byte // as received, may be empty
	ForwardedFor  []byte // X-Forwarded-For to send (received value with the client appended)
	Proto         string // X-Forwarded-Proto
	RequestID     string
	// TraceParent and TraceState are sent as W3C Trace Context headers when set (the
	// client's, passed through, or the gateway's span from internal/tracing).
	TraceParent, TraceState []byte
	// Trace is the request's trace context for internal/tracing; nil when tracing is off.
	Trace context.Context
}

// Forward sends call to the cluster's token URL and fills resp with the SSO's answer. A nil
// error means the SSO answered (any status, including 5xx with a body); *Unavailable otherwise.
func (f *Forwarder) Forward(c *directory.Cluster, call *Call, resp *fasthttp.Response) error {
	up, err := f.upstream(c)
	if err != nil {
		if reason, ok := tlsFailure(err); ok {
			return &Unavailable{Cluster: c.Code, Reason: reason, Err: err}
		}
		return &Unavailable{Cluster: c.Code, Reason: "bad token url", Err: err}
	}
	if n := up.inFlight.Add(1); n > int64(f.opts.MaxInFlight) {
		up.inFlight.Add(-1)
		return &Unavailable{Cluster: c.Code, Reason: "too many requests in flight"}
	}
	defer up.inFlight.Add(-1)

	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI(up.tokenURL)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if len(call.Authorization) > 0 {
		req.Header.SetBytesV("Authorization", call.Authorization)
	}
	if len(call.ForwardedFor) > 0 {
		req.Header.SetBytesV("X-Forwarded-For", call.ForwardedFor)
	}
	if call.Proto != "" {
		req.Header.Set("X-Forwarded-Proto", call.Proto)
	}
	if call.RequestID != "" {
		req.Header.Set("X-Request-Id", call.RequestID)
	}
	if len(call.TraceParent) > 0 {
		req.Header.SetBytesV("traceparent", call.TraceParent)
		if len(call.TraceState) > 0 {
			req.Header.SetBytesV("tracestate", call.TraceState)
		}
	}
	req.SetBodyRaw(call.Body)

	start := time.Now()
	status, err := up.breaker.Execute(func() (int, error) {
		if err := up.client.DoTimeout(req, resp, f.opts.Timeout); err != nil {
			return 0, err
		}
		if resp.StatusCode() >= 500 {
			return resp.StatusCode(), errServerError
		}
		return resp.StatusCode(), nil
	})
	if f.opts.Observe != nil {
		f.opts.Observe(c.Code, status, time.Since(start))
	}
	switch {
	case err == nil, errors.Is(err, errServerError):
		return nil
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		return &Unavailable{Cluster: c.Code, Reason: "circuit open", Err: err}
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout):
		return &Unavailable{Cluster: c.Code, Reason: "timeout", Err: err}
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return &Unavailable{Cluster: c.Code, Reason: "too many requests in flight", Err: err}
	}
	if alert := up.recentAlert(); alert != nil && errors.Is(err, fasthttp.ErrConnectionClosed) {
		err = fmt.Errorf("%w (after %w)", err, alert)
	}
	if reason, ok := tlsFailure(err); ok {
		return &Unavailable{Cluster: c.Code, Reason: reason, Err: err}
	}
	return &Unavailable{Cluster: c.Code, Reason: "transport", Err: err}
}

// BreakerState returns "closed", "half-open" or "open" for a cluster's breaker, or "" when the
// cluster has not been called yet.
func (f *Forwarder) BreakerState(code string) string {
	f.mu.RLock()
	up := f.upstreams[code]
	f.mu.RUnlock()
	if up == nil {
		return ""
	}
	return up.breaker.State().String()
}

// InFlight returns the number of requests in flight to a cluster's SSO.
func (f *Forwarder) InFlight(code string) int {
	f.mu.RLock()
	up := f.upstreams[code]
	f.mu.RUnlock()
	if up == nil {
		return 0
	}
	return int(up.inFlight.Load())
}

// upstream returns the cluster's upstream, creating it on first use and replacing it when the
// cluster's token URL changed. Only registered clusters' URLs ever get here (SPEC section 4).
func (f *Forwarder) upstream(c *directory.Cluster) (*upstream, error) {
	tokenURL := c.EffectiveTokenURL()
	f.mu.RLock()
	up := f.upstreams[c.Code]
	f.mu.RUnlock()
	if up != nil && up.tokenURL == tokenURL && up.tlsFiles == tlsFiles(c) {
		return up, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if up = f.upstreams[c.Code]; up != nil && up.tokenURL == tokenURL && up.tlsFiles == tlsFiles(c) {
		return up, nil
	}
	up, err := f.newUpstream(c.Code, tokenURL)
	if err == nil {
		err = f.setTLS(up, c)
	}
	if err != nil {
		return nil, err
	}
	if old := f.upstreams[c.Code]; old != nil {
		old.client.CloseIdleConnections()
	}
	f.upstreams[c.Code] = up
	return up, nil
}

func (f *Forwarder) newUpstream(code, tokenURL string) (*upstream, error) {
	u, err := url.Parse(tokenURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("token url %q of cluster %s: not an absolute http(s) URL", tokenURL, code)
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	connectTimeout := f.opts.ConnectTimeout
	client := &fasthttp.HostClient{
		Addr:  addr,
		IsTLS: u.Scheme == "https",
		DialTimeout: func(addr string, timeout time.Duration) (net.Conn, error) {
			c, err := fasthttp.DialTimeout(addr, min(timeout, connectTimeout))
			if err != nil {
				return nil, err
			}
			return deadline.Watch(c), nil // deadlines watched, not timed: moved twice a request
		},
		MaxConns:            f.opts.MaxInFlight,
		MaxIdleConnDuration: 5 * time.Second, // below common SSO keep-alive timeouts
		MaxResponseBodySize: f.opts.MaxResponseBytes,
		ReadBufferSize:      8192,
		// A POST that may have reached the SSO is never sent twice (SPEC section 2, step 6).
		MaxIdemponentCallAttempts: 1,
		RetryIfErr:                func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		NoDefaultUserAgentHeader:  true,
		DisablePathNormalizing:    true,
		SecureErrorLogMessage:     true, // errors leave the SSO's bytes out (see RedactPeerBytes)
	}
	settings := gobreaker.Settings{
		Name:        code,
		MaxRequests: 1,
		Timeout:     f.opts.BreakerOpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= f.opts.BreakerFailures
		},
		// SPEC section 4: refusing a request because the pool has no free connection is the
		// in-flight bound at work, not a failure of the SSO; counted, a burst would open the
		// breaker of a healthy cluster.
		IsExcluded: func(err error) bool { return errors.Is(err, fasthttp.ErrNoFreeConns) },
	}
	if f.opts.OnBreakerChange != nil {
		settings.OnStateChange = func(name string, from, to gobreaker.State) {
			f.opts.OnBreakerChange(name, from.String(), to.String())
		}
	}
	return &upstream{tokenURL: tokenURL, client: client, breaker: gobreaker.NewCircuitBreaker[int](settings)}, nil
}

// CloseIdleConnections closes every pooled connection not in use (at shutdown).
func (f *Forwarder) CloseIdleConnections() {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, up := range f.upstreams {
		up.client.CloseIdleConnections()
	}
}
