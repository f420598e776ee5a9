package config

import (
	"fmt"
	"net/url"
)

// TracingConfig turns on OpenTelemetry tracing (SPEC section 11). Off by default: with no
// otlp_endpoint, no span is made and the client's traceparent/tracestate are passed to the
// SSO unchanged.
type TracingConfig struct {
	// OTLPEndpoint is the OTLP/HTTP collector, e.g. http://127.0.0.1:4318 (the path
	// /v1/traces is added when the URL has none). Empty: tracing off.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// SampleRatio is the share of new traces (no sampled parent) that are recorded, 0 to 1;
	// a request whose traceparent says sampled is always recorded. 0 records only those.
	SampleRatio float64 `yaml:"sample_ratio"`
	// ServiceName is the service.name resource attribute (default "ssogate").
	ServiceName string `yaml:"service_name"`
}

// validateTracing reports problems of the tracing keys.
func (c *Config) validateTracing(v *validator) {
	t := &c.Tracing
	if t.SampleRatio < 0 || t.SampleRatio > 1 {
		v.add("tracing.sample_ratio", "must be between 0 and 1, got %v", t.SampleRatio)
	}
	if t.OTLPEndpoint != "" {
		u, err := url.Parse(t.OTLPEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add("tracing.otlp_endpoint", "must be an http(s) URL such as http://127.0.0.1:4318, got %s", fmt.Sprintf("%q", t.OTLPEndpoint))
		}
	}
}
