package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Config selects the exporter and the sampling (config key tracing.*).
type Config struct {
	// OTLPEndpoint is the collector's OTLP/HTTP URL; /v1/traces is added when it has no path.
	// Empty: tracing off (New returns nil).
	OTLPEndpoint string
	// SampleRatio is the share of new traces recorded; a sampled parent is always followed.
	SampleRatio float64
	// ServiceName is the service.name resource attribute (default "ssogate").
	ServiceName string
	// Version, when set, is service.version.
	Version string
	// Logger receives the exporter's errors (a collector down); nil: slog.Default().
	Logger *slog.Logger
}

// Tracer makes the gateway's spans. A nil *Tracer means tracing is off; the gateway then
// wires none of its hooks.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
}

// New starts the OTLP/HTTP exporter and the tracer provider, or returns nil, nil when
// cfg.OTLPEndpoint is empty. Shutdown flushes the spans still queued.
func New(cfg Config) (*Tracer, error) {
	if cfg.OTLPEndpoint == "" {
		return nil, nil
	}
	endpoint, err := tracesURL(cfg.OTLPEndpoint)
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(endpoint),
		otlptracehttp.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("tracing: otlp exporter for %s: %w", endpoint, err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	// OpenTelemetry reports export failures through one process-wide handler; the spans are
	// dropped, logins are never held up by a collector.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("tracing: span export failed", "err", err)
	}))
	return NewWithExporter(cfg, exp), nil
}

// NewWithExporter is New with any span exporter (tests, other transports).
func NewWithExporter(cfg Config, exp sdktrace.SpanExporter) *Tracer {
	name := cfg.ServiceName
	if name == "" {
		name = "ssogate"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if cfg.Version != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.Version))
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		// A client's sampling decision is followed, so that one trace is whole or absent.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
	)
	return &Tracer{
		provider: tp,
		tracer:   tp.Tracer("github.com/ssogate/ssogate"),
		prop:     propagation.TraceContext{},
	}
}

// tracesURL adds the OTLP traces path to an endpoint given without one.
func tracesURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("tracing: otlp_endpoint %q: not an http(s) URL", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// Shutdown flushes queued spans and stops the exporter; safe on a nil Tracer.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// ForceFlush exports every span ended so far (tests, shutdown).
func (t *Tracer) ForceFlush(ctx context.Context) error {
	return t.provider.ForceFlush(ctx)
}

// StartRequest starts the span of one token request, continuing the client's trace when its
// traceparent is valid, else a new one. It is the tokenapi.Tracer hook.
func (t *Tracer) StartRequest(ctx *fasthttp.RequestCtx) context.Context {
	parent := t.prop.Extract(context.Background(), RequestCarrier{&ctx.Request.Header})
	sctx, span := t.tracer.Start(parent, "POST /oauth/token", trace.WithSpanKind(trace.SpanKindServer))
	// Attributes only on a sampled span: the sampler does not read them, and building them
	// is most of what an unsampled request would pay.
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("http.request.method", string(ctx.Method())),
			attribute.String("url.path", string(ctx.Path())),
		)
	}
	return sctx
}

// EndRequest ends the request's span with its answer. No username, password, token or client
// address is ever put on a span.
func (t *Tracer) EndRequest(ctx context.Context, code int, cluster string, httpStatus int) {
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		span.SetAttributes(
			attribute.Int("ssogate.code", code),
			attribute.String("ssogate.cluster", cluster),
			attribute.Int("http.response.status_code", httpStatus),
		)
	}
	span.End()
}
