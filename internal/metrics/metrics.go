package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the gateway's collectors (SPEC section 6: requests by code and cluster, SSO
// latency per cluster, cache hit ratio, breaker state, store errors, rate-limit rejections).
type Metrics struct {
	registry   *prometheus.Registry
	requests   *prometheus.CounterVec
	duration   prometheus.Histogram
	ssoLatency *prometheus.HistogramVec
	breaker    *prometheus.GaugeVec
	errors     *prometheus.CounterVec

	// Children are cached so the hot path does no label hashing or allocation.
	requestCounters sync.Map // requestKey → prometheus.Counter
	ssoObservers    sync.Map // ssoKey → prometheus.Observer
	errorCounters   sync.Map // errorKey → prometheus.Counter
}

type errorKey struct{ word, cluster string }

type requestKey struct {
	code    int
	cluster string
}

type ssoKey struct {
	cluster string
	class   string
}

// New returns Metrics with Go runtime and process collectors registered.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssogate_token_requests_total",
			Help: "Answers of /oauth/token by answer code and cluster (empty when none was chosen).",
		}, []string{"code", "cluster"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ssogate_token_request_duration_seconds",
			Help:    "Time to answer /oauth/token, SSO included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		ssoLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ssogate_sso_request_duration_seconds",
			Help:    "Latency of forwarded token requests by cluster and answer class (2xx, 4xx, 5xx, error).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"cluster", "class"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ssogate_sso_breaker_state",
			Help: "Circuit breaker state per cluster: 0 closed, 1 half-open, 2 open.",
		}, []string{"cluster"}),
	}
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ssogate_token_gateway_errors_total",
		Help: "Code 1002 answers made by the gateway itself, by OAuth2 error word (a fixed set) and cluster (empty when none was chosen).",
	}, []string{"error", "cluster"})
	m.registry.MustRegister(m.requests, m.duration, m.ssoLatency, m.breaker, m.errors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Registry is exposed so other parts can register their own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Answered counts one answer of the token endpoint.
func (m *Metrics) Answered(code int, cluster string, elapsed time.Duration) {
	k := requestKey{code, cluster}
	c, ok := m.requestCounters.Load(k)
	if !ok {
		c, _ = m.requestCounters.LoadOrStore(k, m.requests.WithLabelValues(strconv.Itoa(code), cluster))
	}
	c.(prometheus.Counter).Inc()
	if elapsed > 0 {
		m.duration.Observe(elapsed.Seconds())
	}
}

// ObserveSSO records one forwarded request's latency; status 0 means no answer.
func (m *Metrics) ObserveSSO(cluster string, status int, elapsed time.Duration) {
	class := "error"
	switch {
	case status >= 500:
		class = "5xx"
	case status >= 400:
		class = "4xx"
	case status >= 200:
		class = "2xx"
	}
	k := ssoKey{cluster, class}
	o, ok := m.ssoObservers.Load(k)
	if !ok {
		o, _ = m.ssoObservers.LoadOrStore(k, m.ssoLatency.WithLabelValues(cluster, class))
	}
	o.(prometheus.Observer).Observe(elapsed.Seconds())
}

// BreakerChanged records a breaker's new state.
func (m *Metrics) BreakerChanged(cluster, _, to string) {
	v := 0.0
	switch to {
	case "half-open":
		v = 1
	case "open":
		v = 2
	}
	m.breaker.WithLabelValues(cluster).Set(v)
}

// CounterFunc registers a counter read from f at scrape time (directory and limiter stats).
func (m *Metrics) CounterFunc(name, help string, f func() float64) {
	m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// GaugeFunc registers a gauge read from f at scrape time.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// GatewayError counts one gateway-made 1002 answer by its error word (tokenapi.ErrorRecorder).
// The words are the gateway's own fixed set, so the label stays bounded.
func (m *Metrics) GatewayError(word, cluster string) {
	k := errorKey{word, cluster}
	c, ok := m.errorCounters.Load(k)
	if !ok {
		c, _ = m.errorCounters.LoadOrStore(k, m.errors.WithLabelValues(word, cluster))
	}
	c.(prometheus.Counter).Inc()
}

// CounterFuncWith registers a counter read from f at scrape time, with fixed labels; several
// may share a name with different label values (e.g. store errors by operation).
func (m *Metrics) CounterFuncWith(name, help string, labels prometheus.Labels, f func() float64) {
	m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, f))
}

// GaugeFuncWith is CounterFuncWith for a gauge.
func (m *Metrics) GaugeFuncWith(name, help string, labels prometheus.Labels, f func() float64) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, f))
}
