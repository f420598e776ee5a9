package gateway_test

import (
	"io"
	"strings"
	"testing"
)

// SPEC section 6: requests by code and cluster, SSO latency per cluster, cache hits, breaker
// state and store errors are exported on the admin listener, without a token.
func TestMetricsCountWhatHappened(t *testing.T) {
	w := newWorld(t, nil)
	w.as(t).post(true, login("alice", "alice-pass")...)
	w.as(t).post(true, login("alice", "alice-pass")...)
	w.as(t).post(true, login("nobody", "x")...)
	resp, err := w.as(t).client().Get(w.adminBase + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	text := string(raw)
	for _, want := range []string{
		`ssogate_token_requests_total{cluster="TEST0525",code="200"} 2`,
		`ssogate_token_requests_total{cluster="",code="1004"} 1`,
		`ssogate_sso_request_duration_seconds_count{class="2xx",cluster="TEST0525"} 2`,
		`ssogate_directory_cache_hits_total 1`,
		`ssogate_directory_cache_misses_total 2`,
		`ssogate_store_errors_total 0`,
		`ssogate_ratelimit_rejected_total 0`,
		`ssogate_token_request_duration_seconds_bucket`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
