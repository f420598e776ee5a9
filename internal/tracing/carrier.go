package tracing

import (
	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/propagation"
)

// RequestCarrier reads and writes propagation headers of a fasthttp request: fasthttp has no
// OpenTelemetry instrumentation (valyala/fasthttp#940), so the headers are carried by hand.
type RequestCarrier struct{ H *fasthttp.RequestHeader }

var _ propagation.TextMapCarrier = RequestCarrier{}

// Get returns the header's value ("" when absent).
func (c RequestCarrier) Get(key string) string { return string(c.H.Peek(key)) }

// Set replaces the header.
func (c RequestCarrier) Set(key, value string) { c.H.Set(key, value) }

// Keys lists the header names present.
func (c RequestCarrier) Keys() []string {
	var keys []string
	for k := range c.H.All() {
		keys = append(keys, string(k))
	}
	return keys
}

// w3cHeaders captures what the W3C propagator injects, to hand to the SSO forwarder as bytes.
type w3cHeaders struct{ traceparent, tracestate string }

func (h *w3cHeaders) Get(key string) string {
	switch key {
	case "traceparent":
		return h.traceparent
	case "tracestate":
		return h.tracestate
	}
	return ""
}

func (h *w3cHeaders) Set(key, value string) {
	switch key {
	case "traceparent":
		h.traceparent = value
	case "tracestate":
		h.tracestate = value
	}
}

func (h *w3cHeaders) Keys() []string { return []string{"traceparent", "tracestate"} }
