package tracing

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/trace"
)

func TestTracesURL(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "no path gets the OTLP traces path", in: "http://127.0.0.1:4318", want: "http://127.0.0.1:4318/v1/traces"},
		{name: "root path too", in: "http://127.0.0.1:4318/", want: "http://127.0.0.1:4318/v1/traces"},
		// A collector behind a path prefix keeps it as given.
		{name: "explicit path kept", in: "https://otel.example:443/otlp/v1/traces", want: "https://otel.example:443/otlp/v1/traces"},
		{name: "not a URL", in: "127.0.0.1:4318", wantErr: true},
		{name: "wrong scheme", in: "grpc://127.0.0.1:4317", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tracesURL(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("tracesURL(%q) = %q, %v", tc.in, got, err)
			}
		})
	}
}

// Off by default: no endpoint, no tracer (the gateway then wires no hook at all).
func TestNewWithoutEndpointIsOff(t *testing.T) {
	tr, err := New(Config{SampleRatio: 1})
	if tr != nil || err != nil {
		t.Fatalf("New without endpoint = %v, %v; want nil, nil", tr, err)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRequestCarrier(t *testing.T) {
	var h fasthttp.RequestHeader
	h.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	c := RequestCarrier{&h}
	if got := c.Get("traceparent"); got != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Fatalf("Get is case-insensitive as HTTP headers are: %q", got)
	}
	c.Set("tracestate", "a=b")
	if string(h.Peek("Tracestate")) != "a=b" {
		t.Fatal("Set did not set the header")
	}
	keys := map[string]bool{}
	for _, k := range c.Keys() {
		keys[k] = true
	}
	if !keys["Traceparent"] || !keys["Tracestate"] {
		t.Fatalf("Keys = %v", c.Keys())
	}
}

// The sampling ratio applies to new traces; a client's sampled flag is followed, its
// unsampled flag too, and the SSO receives the trace either way.
func TestSamplingFollowsTheParent(t *testing.T) {
	sink, err := NewSink("127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	tr, err := New(Config{OTLPEndpoint: sink.URL(), SampleRatio: 0})
	if err != nil {
		t.Fatal(err)
	}
	start := func(traceparent string) (traceID string) {
		var ctx fasthttp.RequestCtx
		if traceparent != "" {
			ctx.Request.Header.Set("traceparent", traceparent)
		}
		sctx := tr.StartRequest(&ctx)
		tr.EndRequest(sctx, 200, "C", 200)
		return trace.SpanContextFromContext(sctx).TraceID().String()
	}
	sampled := start("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	unsampled := start("00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
	root := start("")
	if sampled != "4bf92f3577b34da6a3ce929d0e0e4736" || unsampled != "5bf92f3577b34da6a3ce929d0e0e4736" || len(root) != 32 {
		t.Fatalf("trace ids %q %q %q", sampled, unsampled, root)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	spans := sink.Spans()
	if len(spans) != 1 {
		t.Fatalf("ratio 0 exported %d spans, want only the one with a sampled parent", len(spans))
	}
}

func TestLogHandlerNamesTheTrace(t *testing.T) {
	var buf strings.Builder
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil)))
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	log.InfoContext(ctx, "access", "code", 200)
	log.InfoContext(context.Background(), "other")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"`) ||
		!strings.Contains(lines[0], `"span_id":"00f067aa0ba902b7"`) || strings.Contains(lines[1], "trace_id") {
		t.Fatalf("log lines:\n%s", buf.String())
	}
}
