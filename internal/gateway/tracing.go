package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/ssogate/ssogate/internal/ratelimit"
	"github.com/ssogate/ssogate/internal/tokenapi"
	"github.com/ssogate/ssogate/internal/tracing"
)

// initTracing starts the OTLP exporter when tracing.otlp_endpoint is set (SPEC section 11);
// otherwise g.tracer stays nil and no hook is wired.
func (g *Gateway) initTracing() error {
	t, err := tracing.New(tracing.Config{
		OTLPEndpoint: g.cfg.Tracing.OTLPEndpoint,
		SampleRatio:  g.cfg.Tracing.SampleRatio,
		ServiceName:  g.cfg.Tracing.ServiceName,
		Logger:       g.logger,
	})
	if err != nil {
		return err
	}
	g.tracer = t
	if t != nil {
		g.logger.Info("tracing on", "otlp_endpoint", g.cfg.Tracing.OTLPEndpoint, "sample_ratio", g.cfg.Tracing.SampleRatio)
	}
	return nil
}

// storeTrace is directory.Options.Trace: nil when tracing is off.
func (g *Gateway) storeTrace() func(ctx context.Context, op string) (context.Context, func(error)) {
	if g.tracer == nil {
		return nil
	}
	return g.tracer.StoreSpan
}

// traceTokenAPI puts the tracing wrappers around what the token handler calls.
func (g *Gateway) traceTokenAPI(o *tokenapi.Options) {
	if g.tracer == nil {
		return
	}
	o.Tracer = g.tracer
	o.Logger = slog.New(tracing.LogHandler(o.Logger.Handler())) // trace_id on the access line
	o.AccessJSON = nil                                          // the hand-encoded line has no trace_id
	o.Directory = g.tracer.WrapResolver(g.dir)
	o.Forwarder = g.tracer.WrapForwarder(g.fwd)
	if o.Refresh != nil {
		o.Refresh = g.tracer.WrapRefresh(o.Refresh)
	}
}

// tracedCounters puts store spans around the limiter's shared counters when tracing is on.
func (g *Gateway) tracedCounters(c ratelimit.Counters) ratelimit.Counters {
	if g.tracer == nil {
		return c
	}
	return g.tracer.WrapCounters(c)
}

// closeTracing flushes the spans still queued, bounded so a dead collector never holds up a stop.
func (g *Gateway) closeTracing() {
	if g.tracer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.tracer.Shutdown(ctx); err != nil {
		g.logger.Warn("tracing: flushing spans failed", "err", err)
	}
	g.tracer = nil
}
