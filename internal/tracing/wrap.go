package tracing

import (
	"context"
	"errors"
	"time"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/ratelimit"
	"github.com/ssogate/ssogate/internal/refresh"
	"github.com/ssogate/ssogate/internal/sso"
)

// Resolver is what the token endpoint asks the directory (tokenapi.Resolver).
type Resolver interface {
	Route(ns directory.Namespace, username string) (directory.Route, error)
	Cluster(inviteCode string) (directory.Cluster, error)
	ResolveNormalized(ctx context.Context, ns directory.Namespace, name, inviteCode string) (directory.Cluster, error)
}

// WrapResolver returns r with a "directory.resolve" span around each resolution.
func (t *Tracer) WrapResolver(r Resolver) Resolver { return &tracedResolver{t: t, Resolver: r} }

type tracedResolver struct {
	t *Tracer
	Resolver
}

// Route normalises as the directory does and resolves through the span below.
func (r *tracedResolver) Route(ns directory.Namespace, username string) (directory.Route, error) {
	rt, err := r.Resolver.Route(ns, username)
	if err != nil {
		return rt, err
	}
	return rt.Via(r), nil
}

func (r *tracedResolver) ResolveNormalized(ctx context.Context, ns directory.Namespace, name, inviteCode string) (directory.Cluster, error) {
	if !recording(ctx) {
		return r.Resolver.ResolveNormalized(ctx, ns, name, inviteCode)
	}
	ctx, span := r.t.tracer.Start(ctx, "directory.resolve", trace.WithAttributes(
		attribute.String("ssogate.namespace", string(ns)),
		attribute.Bool("ssogate.invite_code", inviteCode != "")))
	c, err := r.Resolver.ResolveNormalized(ctx, ns, name, inviteCode)
	var amb *directory.AmbiguousError
	switch {
	case err == nil:
		span.SetAttributes(attribute.String("ssogate.outcome", "cluster"), attribute.String("ssogate.cluster", c.Code))
	case errors.Is(err, directory.ErrUnknownUser):
		span.SetAttributes(attribute.String("ssogate.outcome", "unknown_user"))
	case errors.Is(err, directory.ErrBadInviteCode):
		span.SetAttributes(attribute.String("ssogate.outcome", "bad_invite_code"))
	case errors.As(err, &amb):
		span.SetAttributes(attribute.String("ssogate.outcome", "ambiguous"), attribute.Int("ssogate.clusters", len(amb.Choices)))
	default:
		span.SetStatus(codes.Error, "directory unavailable")
	}
	span.End()
	return c, err
}

// recording reports whether ctx's span is sampled. The sampler is parent-based, so a child
// of an unsampled span would never be recorded either: the wrappers skip creating it, which
// is what makes a low sample ratio cheap for the requests it leaves out.
func recording(ctx context.Context) bool { return trace.SpanFromContext(ctx).IsRecording() }

// noEnd is the end of a span that was not started.
func noEnd(error) {}

// StoreSpan starts a span for one store operation when ctx carries a sampled span (a store
// call made for a traced request); background calls and unsampled requests stay untraced.
// It is directory.Options.Trace.
func (t *Tracer) StoreSpan(ctx context.Context, op string) (context.Context, func(error)) {
	if !recording(ctx) {
		return ctx, noEnd
	}
	ctx, span := t.tracer.Start(ctx, "store."+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("ssogate.store.operation", op)))
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, "store failed")
		}
		span.End()
	}
}

// WrapRefresh returns s with store spans around the refresh-token records' reads and writes,
// keeping its batch writer when it has one.
func (t *Tracer) WrapRefresh(s refresh.Store) refresh.Store {
	ts := &tracedRefresh{t: t, Store: s}
	if b, ok := s.(refresh.Batcher); ok {
		return &tracedRefreshBatcher{tracedRefresh: ts, b: b}
	}
	return ts
}

type tracedRefresh struct {
	t *Tracer
	refresh.Store
}

func (r *tracedRefresh) GetRefresh(ctx context.Context, key string) (string, error) {
	ctx, end := r.t.StoreSpan(ctx, "get_refresh")
	code, err := r.Store.GetRefresh(ctx, key)
	if errors.Is(err, directory.ErrNotFound) {
		end(nil) // an unknown token is an answer, not a store failure
	} else {
		end(err)
	}
	return code, err
}

func (r *tracedRefresh) PutRefresh(ctx context.Context, key, clusterCode string, ttl time.Duration) error {
	ctx, end := r.t.StoreSpan(ctx, "put_refresh")
	err := r.Store.PutRefresh(ctx, key, clusterCode, ttl)
	end(err)
	return err
}

type tracedRefreshBatcher struct {
	*tracedRefresh
	b refresh.Batcher
}

func (r *tracedRefreshBatcher) PutRefreshBatch(ctx context.Context, records []refresh.Record, ttl time.Duration) error {
	ctx, end := r.t.StoreSpan(ctx, "put_refresh_batch")
	err := r.b.PutRefreshBatch(ctx, records, ttl)
	end(err)
	return err
}

// SSOForwarder is what the token endpoint needs from the SSO client, plus its breaker state.
type SSOForwarder interface {
	Forward(c *directory.Cluster, call *sso.Call, resp *fasthttp.Response) error
	BreakerState(code string) string
}

// WrapForwarder returns f with an "sso.forward" client span around each call; the span's
// context is what the SSO receives in traceparent/tracestate.
func (t *Tracer) WrapForwarder(f SSOForwarder) *Forwarder { return &Forwarder{t: t, inner: f} }

// Forwarder is a traced SSO forwarder (tokenapi.Forwarder).
type Forwarder struct {
	t     *Tracer
	inner SSOForwarder
}

// Forward forwards call inside a span continuing call.Trace and injects that span's context.
func (f *Forwarder) Forward(c *directory.Cluster, call *sso.Call, resp *fasthttp.Response) error {
	parent := call.Trace
	if parent == nil {
		parent = context.Background()
	}
	if !recording(parent) {
		// Unsampled: no span of ours, but the SSO still continues the trace (sampled flag
		// off), with the request's span as its parent.
		f.inject(parent, call)
		return f.inner.Forward(c, call, resp)
	}
	ctx, span := f.t.tracer.Start(parent, "sso.forward", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("ssogate.cluster", c.Code)))
	f.inject(ctx, call)
	err := f.inner.Forward(c, call, resp)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("ssogate.breaker.state", f.inner.BreakerState(c.Code)))
		var un *sso.Unavailable
		switch {
		case err == nil:
			status := resp.StatusCode()
			span.SetAttributes(attribute.Int("http.response.status_code", status))
			if status >= 500 {
				span.SetStatus(codes.Error, "sso answered 5xx")
			}
		case errors.As(err, &un):
			span.SetAttributes(attribute.String("error.type", un.Reason))
			span.SetStatus(codes.Error, "sso unavailable: "+un.Reason)
		default:
			span.SetStatus(codes.Error, "sso unavailable")
		}
	}
	span.End()
	return err
}

// inject puts ctx's trace context into the headers the SSO receives.
func (f *Forwarder) inject(ctx context.Context, call *sso.Call) {
	var h w3cHeaders
	f.t.prop.Inject(ctx, &h)
	call.TraceParent, call.TraceState = []byte(h.traceparent), []byte(h.tracestate)
}

// WrapCounters returns c with store spans around the brute-force limiter's shared counters,
// keeping its batch interface when it has one; a nil c (the limiter's own in-memory counters)
// stays nil.
func (t *Tracer) WrapCounters(c ratelimit.Counters) ratelimit.Counters {
	if c == nil {
		return nil
	}
	tc := &tracedCounters{t: t, Counters: c}
	if b, ok := c.(ratelimit.BatchCounters); ok {
		return &tracedBatchCounters{tracedCounters: tc, b: b}
	}
	return tc
}

type tracedCounters struct {
	t *Tracer
	ratelimit.Counters
}

func (c *tracedCounters) Add(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	ctx, end := c.t.StoreSpan(ctx, "counter_add")
	v, err := c.Counters.Add(ctx, key, delta, ttl)
	end(err)
	return v, err
}

func (c *tracedCounters) Peek(ctx context.Context, key string) (int64, time.Duration, error) {
	ctx, end := c.t.StoreSpan(ctx, "counter_peek")
	v, ttl, err := c.Counters.Peek(ctx, key)
	end(err)
	return v, ttl, err
}

func (c *tracedCounters) Delete(ctx context.Context, key string) error {
	ctx, end := c.t.StoreSpan(ctx, "counter_delete")
	err := c.Counters.Delete(ctx, key)
	end(err)
	return err
}

type tracedBatchCounters struct {
	*tracedCounters
	b ratelimit.BatchCounters
}

func (c *tracedBatchCounters) Batch(ctx context.Context, ops []ratelimit.Op) []ratelimit.Result {
	ctx, end := c.t.StoreSpan(ctx, "counter_batch")
	res := c.b.Batch(ctx, ops)
	var err error
	for _, r := range res {
		if r.Err != nil {
			err = r.Err
			break
		}
	}
	end(err)
	return res
}
