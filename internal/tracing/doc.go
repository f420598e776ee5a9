// Package tracing follows a login through ssogate with OpenTelemetry (SPEC section 11): the
// W3C traceparent/tracestate of a token request is read through a carrier over fasthttp's
// headers, spans are made for the request, the directory lookup, the store calls and the call
// to the SSO (which receives the continued traceparent), and they are exported over OTLP/HTTP.
//
// Tracing is off unless an OTLP endpoint is configured; then New returns nil and the gateway
// wires none of this, so the hot path pays one nil check per hook.
package tracing
