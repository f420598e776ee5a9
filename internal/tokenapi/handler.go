package tokenapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ssogate/ssogate/internal/deadline"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/ratelimit"
	"github.com/ssogate/ssogate/internal/refresh"
	"github.com/ssogate/ssogate/internal/sso"
)

// Resolver finds clusters; *directory.Directory implements it. Route normalises a login's
// username once (the canonical name keys its rate limits) and resolves it afterwards.
type Resolver interface {
	Route(ns directory.Namespace, username string) (directory.Route, error)
	Cluster(inviteCode string) (directory.Cluster, error)
}

// Limiter reserves brute-force budget for a password login (SPEC section 6); a nil
// *ratelimit.Limiter, which allows everything, is a valid one.
type Limiter interface {
	Begin(ctx context.Context, username, ip string) (*ratelimit.Attempt, error)
}

var (
	_ Resolver = (*directory.Directory)(nil)
	_ Limiter  = (*ratelimit.Limiter)(nil)
)

// Forwarder sends a token request to a cluster's SSO; *sso.Forwarder implements it.
type Forwarder interface {
	Forward(c *directory.Cluster, call *sso.Call, resp *fasthttp.Response) error
}

// Recorder receives one observation per answered request (metrics).
type Recorder interface {
	Answered(code int, cluster string, elapsed time.Duration)
}

// ErrorRecorder, when the Recorder implements it, is also told the OAuth2 error word of each
// gateway-made 1002 answer (the alerts' temporarily_unavailable share, SPEC section 11).
type ErrorRecorder interface {
	GatewayError(word, cluster string)
}

// Options wire a Handler.
type Options struct {
	Directory Resolver
	Forwarder Forwarder
	// Refresh records refresh tokens handed out (nil: refresh grants need clusterCode).
	Refresh    refresh.Store
	RefreshTTL time.Duration // default 30 days
	// RefreshLocal says the Refresh store serves this one process (embedded): records
	// are visible at once from an in-process pending view and stored in batches. Otherwise
	// (a shared store) each record is written before its login answer is sent.
	RefreshLocal bool
	// Limiter applies brute-force limits to password logins (nil: disabled).
	Limiter        Limiter
	TrustedProxies []netip.Prefix
	StoreTimeout   time.Duration // default 1 s
	Recorder       Recorder
	Logger         *slog.Logger
	// AccessLog writes one line per request at info level.
	AccessLog bool
	// AccessJSON, when set, is the writer Logger's JSON handler writes to: the access line is
	// then encoded by hand, in the same shape, and written there directly (accesslog.go).
	AccessJSON io.Writer
	// MaxBodyBytes bounds a request body; larger ones get 413 (default 64 KiB).
	MaxBodyBytes int
	// Tracer makes the request's span (internal/tracing); nil: tracing off.
	Tracer Tracer
}

// Tracer starts and ends a token request's span (SPEC section 11). The access log line is
// written with the span's context, so that the logger can name the trace.
type Tracer interface {
	StartRequest(ctx *fasthttp.RequestCtx) context.Context
	EndRequest(ctx context.Context, code int, cluster string, httpStatus int)
}

// defaultMaxBody is max_body_bytes's default (SPEC section 2: 64 KiB).
const defaultMaxBody = 64 << 10

// Handler serves POST /oauth/token.
type Handler struct {
	opts     Options
	trusted  atomic.Pointer[[]netip.Prefix] // Options.TrustedProxies, replaceable at run time
	reqPool  sync.Pool
	recorder *refreshRecorder
	errors   ErrorRecorder // opts.Recorder's, or nil
	access   *accessJSON   // nil: the access line goes through Logger
}

// New returns a Handler. Close stops its background refresh-token writer.
func New(opts Options) *Handler {
	if opts.RefreshTTL <= 0 {
		opts.RefreshTTL = 30 * 24 * time.Hour
	}
	if opts.StoreTimeout <= 0 {
		opts.StoreTimeout = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = defaultMaxBody
	}
	if l, ok := opts.Limiter.(*ratelimit.Limiter); ok && l == nil {
		opts.Limiter = nil // limits off: no subject or address text made per login for nothing
	}
	h := &Handler{opts: opts}
	h.SetTrustedProxies(opts.TrustedProxies)
	h.errors, _ = opts.Recorder.(ErrorRecorder)
	if opts.AccessLog && opts.AccessJSON != nil {
		h.access = newAccessJSON(opts.AccessJSON, opts.Logger)
	}
	h.reqPool.New = func() any { return new(tokenRequest) }
	if opts.Refresh != nil {
		h.recorder = newRefreshRecorder(opts.Refresh, opts.RefreshTTL, opts.StoreTimeout, opts.Logger, opts.RefreshLocal, refreshQueue)
	}
	return h
}

// Close writes the refresh-token records still pending and stops their writer.
func (h *Handler) Close() {
	if h.recorder != nil {
		h.recorder.close()
	}
}

// RefreshRecordFailures counts refresh-token records that could not be written.
func (h *Handler) RefreshRecordFailures() uint64 {
	if h.recorder == nil {
		return 0
	}
	return h.recorder.failures.Load()
}

// exchange is the state of one request, for the answer and the access log.
type exchange struct {
	ctx       *fasthttp.RequestCtx
	req       *tokenRequest
	requestID string
	origin    origin // client address, forwarded chain and proto, derived once
	cluster   string
	code      int
	ssoStatus int
	grantWord string // x.grant(), kept for the access log once req is back in the pool

	// trace is the request's span context when tracing is on, else nil.
	trace context.Context
	// errWord is the error word of a gateway-made 1002 answer, for the metrics.
	errWord string
}

// context is the context of the request's store and directory calls: its span's when traced.
func (x *exchange) context() context.Context {
	if x.trace != nil {
		return x.trace
	}
	return context.Background()
}

// ServeFastHTTP answers one request on the public listener.
func (h *Handler) ServeFastHTTP(ctx *fasthttp.RequestCtx) {
	start := ctx.Time() // read by fasthttp just before the handler: one clock read fewer
	if start.IsZero() {
		start = time.Now()
	}
	x := exchange{ctx: ctx, requestID: requestID(ctx.Request.Header.Peek("X-Request-Id"))}
	h.deriveOrigin(ctx, &x.origin)
	ctx.Response.Header.SetCanonical(headerRequestID, []byte(x.requestID)) // (copied: no allocation)
	if h.opts.Tracer != nil {
		x.trace = h.opts.Tracer.StartRequest(ctx)
	}
	defer func() {
		elapsed := time.Since(start)
		if x.trace != nil {
			h.opts.Tracer.EndRequest(x.trace, x.code, x.cluster, ctx.Response.StatusCode())
		}
		if h.opts.Recorder != nil {
			h.opts.Recorder.Answered(x.code, x.cluster, elapsed)
		}
		if h.errors != nil && x.errWord != "" {
			h.errors.GatewayError(x.errWord, x.cluster)
		}
		if h.access != nil {
			var ip [48]byte
			h.access.write(&line{now: start.Add(elapsed), requestID: x.requestID, ip: x.origin.client.AppendTo(ip[:0]),
				grant: x.grantWord, cluster: x.cluster, code: x.code, ssoStatus: x.ssoStatus, elapsed: elapsed})
		} else if h.opts.AccessLog {
			h.opts.Logger.LogAttrs(x.context(), slog.LevelInfo, "access",
				slog.String("request_id", x.requestID), slog.String("ip", x.origin.client.String()),
				slog.String("grant", x.grantWord), slog.String("cluster", x.cluster),
				slog.Int("code", x.code), slog.Int("sso_status", x.ssoStatus),
				slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000))
		}
	}()

	if !isTokenPath(ctx) {
		h.writeError(&x, errNoSuchPath)
		return
	}
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		h.writeError(&x, errMethodNotAllowed)
		return
	}
	if len(ctx.Request.Body()) > h.opts.MaxBodyBytes {
		h.writeError(&x, errBodyTooLarge)
		return
	}
	req := h.reqPool.Get().(*tokenRequest)
	defer func() {
		// The access log runs after this, when req may already serve another request.
		x.grantWord, x.req = x.grant(), nil
		req.reset()
		h.reqPool.Put(req)
	}()
	x.req = req
	if e := parseRequest(ctx, req); e != nil {
		h.writeError(&x, e)
		return
	}
	switch req.grantType {
	case "":
		h.writeError(&x, errMissingGrant)
	case "password":
		h.password(&x)
	case "refresh_token":
		h.refreshGrant(&x)
	default:
		h.otherGrant(&x)
	}
}

func (x *exchange) grant() string {
	if x.req == nil {
		return ""
	}
	if g := x.req.grantType; g == "" || slices.Contains(grantTypes[:], g) {
		return g
	}
	return "other" // never log free text a client chose
}

// password handles grant_type=password (SPEC section 2, checks 3 to 7).
func (h *Handler) password(x *exchange) {
	req := x.req
	if req.username == "" {
		h.writeError(x, errEmptyUsername)
		return
	}
	if req.password == "" {
		h.writeError(x, errEmptyPassword)
		return
	}
	route, err := h.opts.Directory.Route(directory.NamespaceFor(req.client), req.username)
	if err != nil {
		h.writeError(x, errBadUsername)
		return
	}
	bg := x.context()
	outcome := ratelimit.Neutral
	if h.opts.Limiter != nil {
		attempt, err := h.opts.Limiter.Begin(bg, ratelimit.UserSubject(string(route.Namespace), route.Name), x.origin.client.String())
		if limited, ok := errors.AsType[*ratelimit.LimitedError](err); ok {
			secs := int((limited.RetryAfter + time.Second - 1) / time.Second)
			x.ctx.Response.Header.Set("Retry-After", strconv.Itoa(secs))
			h.writeError(x, tooManyRequests(secs))
			return
		}
		if attempt != nil {
			defer func() { attempt.Done(bg, outcome) }()
		}
	}
	resolved, err := route.Resolve(bg, req.clusterCode)
	if err != nil {
		outcome = h.writeResolveError(x, err)
		return
	}
	cluster := resolved // escapes (forward hands it on): allocated only when forwarding
	outcome = h.forward(x, &cluster)
}

// writeResolveError answers a failed resolution and says how the attempt counts: unknown
// users and wrong invite codes are failures (they are how directories get enumerated).
func (h *Handler) writeResolveError(x *exchange, err error) ratelimit.Outcome {
	// errors.AsType: no *AmbiguousError escapes to the heap on the 1004 and 1001 paths.
	switch amb, isAmb := errors.AsType[*directory.AmbiguousError](err); {
	case errors.Is(err, directory.ErrUnknownUser):
		h.write(x, CodeUnknownUser, appendNoData(h.body(x), CodeUnknownUser, msgUnknownUser))
		return ratelimit.Failure
	case errors.Is(err, directory.ErrBadInviteCode):
		h.write(x, CodeBadInvite, appendNoData(h.body(x), CodeBadInvite, msgBadInvite))
		return ratelimit.Failure
	case isAmb:
		h.write(x, CodeChooseCluster, appendChoices(h.body(x), amb.Choices))
	case errors.Is(err, directory.ErrInvalid):
		h.writeError(x, errBadUsername)
	default:
		h.opts.Logger.Warn("directory unavailable", "request_id", x.requestID, "err", err)
		h.writeError(x, errDirUnavailable)
	}
	return ratelimit.Neutral
}

// refreshGrant routes grant_type=refresh_token to clusterCode's cluster or to the cluster that
// issued the token.
func (h *Handler) refreshGrant(x *exchange) {
	req := x.req
	if req.refreshToken == "" {
		h.writeError(x, errMissingRefresh)
		return
	}
	if req.clusterCode != "" {
		h.forwardToCode(x, req.clusterCode)
		return
	}
	if h.opts.Refresh == nil {
		h.writeError(x, errUnknownRefresh)
		return
	}
	ctx, cancel := deadline.After(x.context(), h.opts.StoreTimeout)
	code, err := h.recorder.lookup(ctx, refresh.Key(req.refreshToken))
	cancel()
	switch {
	case isNotFound(err):
		h.writeError(x, errUnknownRefresh)
		return
	case err != nil:
		// Store down or slow: say so, never invalid_grant (apps log the user out on it).
		h.opts.Logger.Warn("refresh record unavailable", "request_id", x.requestID, "err", err)
		h.writeError(x, errDirUnavailable)
		return
	}
	cluster, err := h.opts.Directory.Cluster(code)
	switch {
	case errors.Is(err, directory.ErrUnavailable):
		// The cluster table is not loaded (a start with the store down): the token may well
		// be valid, and invalid_grant would log the user out (SPEC section 2).
		h.opts.Logger.Warn("refresh: cluster table unavailable", "request_id", x.requestID, "err", err)
		h.writeError(x, errDirUnavailable)
		return
	case err != nil:
		h.writeError(x, errUnknownRefresh) // the issuing cluster is gone or disabled
		return
	}
	h.forward(x, &cluster)
}

// otherGrant forwards any other grant type; it must name its cluster.
func (h *Handler) otherGrant(x *exchange) {
	if x.req.clusterCode == "" {
		h.writeError(x, errNeedClusterCode)
		return
	}
	h.forwardToCode(x, x.req.clusterCode)
}

func (h *Handler) forwardToCode(x *exchange, code string) {
	cluster, err := h.opts.Directory.Cluster(code)
	if err != nil {
		h.writeResolveError(x, err)
		return
	}
	h.forward(x, &cluster)
}

// forward sends the request to the cluster's SSO and answers with what it said (SPEC
// section 2, steps 6 and 7).
func (h *Handler) forward(x *exchange, c *directory.Cluster) ratelimit.Outcome {
	x.cluster = c.Code
	var xff [64]byte
	call := sso.Call{
		Body:          x.req.appendForwarded(nil, x.ctx),
		Authorization: x.req.authorization,
		ForwardedFor:  x.origin.appendXFF(xff[:0]),
		Proto:         x.origin.proto,
		RequestID:     x.requestID,
		// Passed through as received; internal/tracing replaces them with its span's.
		TraceParent: x.ctx.Request.Header.Peek("traceparent"),
		TraceState:  x.ctx.Request.Header.Peek("tracestate"),
		Trace:       x.trace,
	}
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if err := h.opts.Forwarder.Forward(c, &call, resp); err != nil {
		h.opts.Logger.Warn("sso unavailable", "request_id", x.requestID, "cluster", c.Code, "err", err)
		h.writeError(x, errSSOUnavailable)
		return ratelimit.Neutral
	}
	x.ssoStatus = resp.StatusCode()
	var obj ssoObject
	ok := parseSSOObject(resp.Body(), &obj)
	ok2xx := x.ssoStatus >= 200 && x.ssoStatus < 300
	switch {
	case ok && ok2xx:
		if _, has := obj.stringValue("access_token"); has {
			if rt, has := obj.stringValue("refresh_token"); has && rt != "" && h.recorder != nil {
				h.recorder.record(x.requestID, rt, c.Code)
			}
			h.write(x, CodeOK, appendSuccess(h.body(x), &obj, c))
			return ratelimit.Success
		}
	case ok && !ok2xx:
		if _, has := obj.get("error"); has {
			h.write(x, CodeError, appendSSOError(h.body(x), &obj, c.Code))
			if x.ssoStatus >= 500 {
				return ratelimit.Neutral
			}
			return ratelimit.Failure
		}
	}
	h.opts.Logger.Warn("sso answered something unusable", "request_id", x.requestID, "cluster", c.Code, "status", x.ssoStatus)
	h.writeError(x, errSSOUnavailable)
	return ratelimit.Neutral
}

// body returns the response's body buffer, emptied, to append an answer to.
func (h *Handler) body(x *exchange) []byte {
	return x.ctx.Response.SwapBody(nil)[:0]
}

func (h *Handler) writeError(x *exchange, e *gatewayError) {
	x.code = CodeError
	x.errWord = e.word
	if e.status != 0 {
		x.ctx.SetStatusCode(e.status)
	}
	h.write(x, CodeError, appendGatewayError(h.body(x), e, x.cluster))
}

// write is the one place answers leave the gateway (SPEC section 2: JSON, no caching).
func (h *Handler) write(x *exchange, code int, body []byte) {
	x.code = code
	r := &x.ctx.Response
	r.Header.SetContentTypeBytes(jsonContentType)
	r.Header.SetCanonical(headerCacheControl, noStore)
	r.Header.SetCanonical(headerPragma, noCache)
	r.SwapBody(body)
}

// The answer's fixed headers, canonical already: Set would normalise each key again on every
// answer.
var (
	jsonContentType    = []byte("application/json;charset=UTF-8")
	headerCacheControl = []byte("Cache-Control")
	noStore            = []byte("no-store")
	headerPragma       = []byte("Pragma")
	noCache            = []byte("no-cache")
	headerRequestID    = []byte("X-Request-Id")
)

// requestID keeps a client's X-Request-Id when it is short and plain, else makes one.
func requestID(in []byte) string {
	if n := len(in); n > 0 && n <= 128 {
		ok := true
		for _, c := range in {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
				ok = false
				break
			}
		}
		if ok {
			return string(in)
		}
	}
	const hex = "0123456789abcdef"
	var b [16]byte
	v := rand.Uint64()
	for i := range b {
		b[i] = hex[v&0xf]
		v >>= 4
	}
	return string(b[:])
}
