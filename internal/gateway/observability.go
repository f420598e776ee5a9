package gateway

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// registerObservabilityMetrics adds what the alerts and the dashboard of deploy/ need beyond
// the metrics of SPEC section 6 (docs/metrics.md lists every metric).
func (g *Gateway) registerObservabilityMetrics() {
	timeout := min(g.cfg.Store.Timeout, 2*time.Second)
	g.metrics.GaugeFunc("ssogate_ready", "1 when the instance is ready (store reachable, cluster table loaded), as /readyz; 0 otherwise.",
		func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			if g.Ready(ctx) != nil {
				return 0
			}
			return 1
		})
	const storeErrors = "ssogate_store_operation_errors_total"
	const storeHelp = "Failed or timed-out store operations by what they were for: directory (lookups, cluster table), refresh_record (refresh-token records), ratelimit (shared brute-force counters)."
	g.metrics.CounterFuncWith(storeErrors, storeHelp, prometheus.Labels{"operation": "directory"},
		func() float64 { return float64(g.dir.Stats().StoreErrors) })
	g.metrics.CounterFuncWith(storeErrors, storeHelp, prometheus.Labels{"operation": "refresh_record"},
		func() float64 { return float64(g.token.RefreshRecordFailures()) })
	if g.limiter != nil {
		g.metrics.CounterFuncWith(storeErrors, storeHelp, prometheus.Labels{"operation": "ratelimit"},
			func() float64 { return float64(g.limiter.Stats().StoreErrors) })
		g.metrics.CounterFunc("ssogate_ratelimit_lockouts_total", "Temporary lockouts started by this instance (a username or IP reached its failure limit).",
			func() float64 { return float64(g.limiter.Stats().Lockouts) })
	}
}
