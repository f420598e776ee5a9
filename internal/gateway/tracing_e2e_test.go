package gateway_test

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/tracing"
)

const (
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
)

// postTraced sends a token request with the given W3C headers (none when traceparent is "").
func (e *env) postTraced(traceparent, tracestate string, params ...string) reply {
	e.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		form.Add(params[i], params[i+1])
	}
	req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	if tracestate != "" {
		req.Header.Set("tracestate", tracestate)
	}
	return e.do(req)
}

// accessTraceID returns the trace_id of the access log line of the request with id rid
// ("" when the line has none).
func accessTraceID(t *testing.T, logs string, rid string) string {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "access" || rec["request_id"] != rid {
			continue
		}
		id, _ := rec["trace_id"].(string)
		return id
	}
	t.Fatalf("no access line for request %s", rid)
	return ""
}

// waitSpans polls the sink until spans named want have arrived (the exporter batches).
func waitSpans(t *testing.T, sink *tracing.Sink, want ...string) map[string]*tracepb.Span {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		byName := map[string]*tracepb.Span{}
		for _, s := range sink.Spans() {
			byName[s.Name] = s
		}
		missing := ""
		for _, name := range want {
			if byName[name] == nil {
				missing = name
			}
		}
		if missing == "" {
			return byName
		}
		if time.Now().After(deadline) {
			t.Fatalf("span %q never arrived; got %d spans", missing, len(sink.Spans()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key != key {
			continue
		}
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue
		case *commonpb.AnyValue_IntValue:
			return strconv.FormatInt(v.IntValue, 10)
		case *commonpb.AnyValue_BoolValue:
			return strconv.FormatBool(v.BoolValue)
		}
	}
	return ""
}

func hexID(b []byte) string { return hex.EncodeToString(b) }

// tracedWorld is a world whose gateway exports spans, sampled at ratio, to a sink of its own.
func tracedWorld(t *testing.T, ratio float64) (*world, *tracing.Sink) {
	t.Helper()
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50") // ms: spans leave the batcher quickly
	sink, err := tracing.NewSink("127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	w := newWorld(t, func(c *config.Config) {
		c.Tracing.OTLPEndpoint = sink.URL()
		c.Tracing.SampleRatio = ratio
	})
	return w, sink
}

// SPEC section 11: with tracing on, the client's trace continues through the gateway into
// the SSO, the spans reach an OTLP/HTTP collector with their parent/child links, and the
// access log line names the trace.
func TestTracingFollowsALoginIntoTheSSO(t *testing.T) {
	w, sink := tracedWorld(t, 1)

	r := w.postTraced("00-"+clientTraceID+"-"+clientSpanID+"-01", "vendor=abc", login("alice", "alice-pass")...)
	if r.code() != 200 {
		t.Fatalf("login: %s", r.Raw)
	}
	got := w.test0525.last(t)
	parts := strings.Split(got.Traceparent, "-")
	if len(parts) != 4 || parts[1] != clientTraceID || parts[2] == clientSpanID || parts[3] != "01" {
		t.Fatalf("the SSO received traceparent %q; want the client's trace %s continued by a gateway span", got.Traceparent, clientTraceID)
	}
	if got.Tracestate != "vendor=abc" {
		t.Fatalf("the SSO received tracestate %q", got.Tracestate)
	}
	if id := accessTraceID(t, w.logs.String(), r.Header.Get("X-Request-Id")); id != clientTraceID {
		t.Fatalf("access log trace_id %q, want %s", id, clientTraceID)
	}

	spans := waitSpans(t, sink, "POST /oauth/token", "directory.resolve", "store.lookup", "sso.forward")
	req, dir, store, fwd := spans["POST /oauth/token"], spans["directory.resolve"], spans["store.lookup"], spans["sso.forward"]
	for _, s := range []*tracepb.Span{req, dir, store, fwd} {
		if hexID(s.TraceId) != clientTraceID {
			t.Errorf("span %s in trace %s, want %s", s.Name, hexID(s.TraceId), clientTraceID)
		}
	}
	links := []struct{ child, parent string }{
		{hexID(req.ParentSpanId), clientSpanID},
		{hexID(dir.ParentSpanId), hexID(req.SpanId)},
		{hexID(store.ParentSpanId), hexID(dir.SpanId)},
		{hexID(fwd.ParentSpanId), hexID(req.SpanId)},
		// The SSO's parent is the gateway's client span.
		{parts[2], hexID(fwd.SpanId)},
	}
	for i, l := range links {
		if l.child != l.parent {
			t.Errorf("link %d: parent %s, want %s", i, l.child, l.parent)
		}
	}
	if req.Kind != tracepb.Span_SPAN_KIND_SERVER || fwd.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("kinds: request %v, sso %v", req.Kind, fwd.Kind)
	}
	for _, c := range []struct {
		span      *tracepb.Span
		key, want string
	}{
		{fwd, "ssogate.cluster", "TEST0525"},
		{fwd, "http.response.status_code", "200"},
		{fwd, "ssogate.breaker.state", "closed"},
		{req, "ssogate.code", "200"},
		{req, "ssogate.cluster", "TEST0525"},
		{dir, "ssogate.outcome", "cluster"},
	} {
		if got := attr(c.span, c.key); got != c.want {
			t.Errorf("span %s: %s = %q, want %q", c.span.Name, c.key, got, c.want)
		}
	}
	// Never a secret, username or password on a span.
	for _, s := range sink.Spans() {
		for _, kv := range s.Attributes {
			if v := kv.Value.String(); strings.Contains(v, "alice") || strings.Contains(v, "app-secret") {
				t.Errorf("span %s attribute %s carries %q", s.Name, kv.Key, v)
			}
		}
	}

	// A refresh without clusterCode reads the refresh record: a store span under the request.
	rt := r.str("refresh_token")
	var r2 reply
	// Until issue 8's fix lands the record is written in the background: wait for it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r2 = w.postTraced("", "", "grant_type", "refresh_token", "refresh_token", rt)
		if r2.code() == 200 || time.Now().After(deadline) {
			break
		}
	}
	if r2.code() != 200 {
		t.Fatalf("refresh: %s", r2.Raw)
	}
	tid := accessTraceID(t, w.logs.String(), r2.Header.Get("X-Request-Id"))
	if len(tid) != 32 || tid == clientTraceID {
		t.Fatalf("a request without traceparent starts its own trace; access log trace_id %q", tid)
	}
	if tp := w.test0525.last(t).Traceparent; !strings.HasPrefix(tp, "00-"+tid+"-") {
		t.Fatalf("the SSO received %q for trace %s", tp, tid)
	}
	var refreshReq, getRefresh *tracepb.Span
	for deadline := time.Now().Add(15 * time.Second); refreshReq == nil || getRefresh == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("spans of trace %s: request %v, store.get_refresh %v", tid, refreshReq, getRefresh)
		}
		for _, s := range sink.Spans() {
			if hexID(s.TraceId) != tid {
				continue
			}
			switch s.Name {
			case "POST /oauth/token":
				refreshReq = s
			case "store.get_refresh":
				getRefresh = s
			}
		}
	}
	if len(refreshReq.ParentSpanId) != 0 {
		t.Fatalf("the refresh's request span is not a root: parent %s", hexID(refreshReq.ParentSpanId))
	}
	if hexID(getRefresh.ParentSpanId) != hexID(refreshReq.SpanId) {
		t.Fatalf("store.get_refresh parent %s, want the request span %s", hexID(getRefresh.ParentSpanId), hexID(refreshReq.SpanId))
	}
}

// SPEC section 11 at a low sample ratio: a request the sampler leaves out records no span of
// ours (that is what makes 1 % sampling cheap), yet the SSO still continues the client's
// trace, unsampled, so a downstream that samples by itself stays in the same trace.
func TestUnsampledLoginContinuesTheTraceWithoutSpans(t *testing.T) {
	w, sink := tracedWorld(t, 0) // only a sampled parent is recorded (parent-based)
	const unsampledTrace = "5bf92f3577b34da6a3ce929d0e0e4736"
	r := w.postTraced("00-"+unsampledTrace+"-"+clientSpanID+"-00", "vendor=abc", login("alice", "alice-pass")...)
	if r.code() != 200 {
		t.Fatalf("login: %s", r.Raw)
	}
	got := w.test0525.last(t)
	parts := strings.Split(got.Traceparent, "-")
	if len(parts) != 4 || parts[1] != unsampledTrace || parts[2] == clientSpanID || parts[3] != "00" {
		t.Fatalf("the SSO received traceparent %q; want trace %s continued, unsampled, by the gateway", got.Traceparent, unsampledTrace)
	}
	if got.Tracestate != "vendor=abc" {
		t.Fatalf("the SSO received tracestate %q", got.Tracestate)
	}
	// A sampled login afterwards: once its spans are exported, any of the first would be too.
	if r := w.postTraced("00-"+clientTraceID+"-"+clientSpanID+"-01", "", login("alice", "alice-pass")...); r.code() != 200 {
		t.Fatalf("sampled login: %s", r.Raw)
	}
	waitSpans(t, sink, "POST /oauth/token", "directory.resolve", "sso.forward")
	for _, s := range sink.Spans() {
		if hexID(s.TraceId) == unsampledTrace {
			t.Errorf("span %s of the unsampled trace was exported", s.Name)
		}
	}
}

// With tracing off (the default) nothing is exported, the client's trace headers reach the
// SSO unchanged (the gateway is transparent to the trace) and the access log has no trace id.
func TestTracingOffPassesTraceContextThrough(t *testing.T) {
	w := newWorld(t, nil)
	tp := "00-" + clientTraceID + "-" + clientSpanID + "-01"
	r := w.postTraced(tp, "vendor=abc", login("alice", "alice-pass")...)
	if r.code() != 200 {
		t.Fatalf("login: %s", r.Raw)
	}
	if got := w.test0525.last(t); got.Traceparent != tp || got.Tracestate != "vendor=abc" {
		t.Fatalf("the SSO received traceparent %q tracestate %q, want the client's unchanged", got.Traceparent, got.Tracestate)
	}
	if id := accessTraceID(t, w.logs.String(), r.Header.Get("X-Request-Id")); id != "" {
		t.Fatalf("access log trace_id %q with tracing off", id)
	}
}

// On the Redis store every store call of a login is a network round trip: the directory
// lookup and the limiter's counters each get a span under the request's.
func TestTracingSpansStoreCallsOnRedis(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	sink, err := tracing.NewSink("127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	w := newWorld(t, onRedis(testRedisAddr(), uniqueRedisPrefix(t), func(c *config.Config) {
		c.Tracing.OTLPEndpoint = sink.URL()
	}))
	r := w.postTraced("00-"+clientTraceID+"-"+clientSpanID+"-01", "", login("alice", "alice-pass")...)
	if r.code() != 200 {
		t.Fatalf("login: %s", r.Raw)
	}
	spans := waitSpans(t, sink, "POST /oauth/token", "directory.resolve", "store.lookup", "store.counter_batch")
	req := spans["POST /oauth/token"]
	if p := hexID(spans["store.lookup"].ParentSpanId); p != hexID(spans["directory.resolve"].SpanId) {
		t.Errorf("store.lookup parent %s, want directory.resolve", p)
	}
	var counters int
	for _, s := range sink.Spans() {
		if s.Name == "store.counter_batch" {
			counters++
			if hexID(s.ParentSpanId) != hexID(req.SpanId) || hexID(s.TraceId) != clientTraceID {
				t.Errorf("store.counter_batch parent %s trace %s, want the request span", hexID(s.ParentSpanId), hexID(s.TraceId))
			}
		}
	}
	if counters == 0 {
		t.Fatal("no limiter store span")
	}
}

// A collector that is down never holds up a login or the stop: spans are queued and dropped
// in the background, and the final flush is bounded.
func TestTracingWithTheCollectorDown(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	var stopped time.Time
	// Registered first, so it runs last: after the harness's Close, which flushes the spans.
	t.Cleanup(func() {
		if d := time.Since(stopped); d > 10*time.Second {
			t.Errorf("closing the gateway with the collector down took %v", d)
		}
	})
	w := newWorld(t, func(c *config.Config) { c.Tracing.OTLPEndpoint = deadURL(t) })
	for range 20 {
		if r := w.postTraced("", "", login("alice", "alice-pass")...); r.code() != 200 {
			t.Fatalf("login with the collector down: %s", r.Raw)
		}
	}
	stopped = time.Now()
	w.stop()
	if d := time.Since(stopped); d > 10*time.Second {
		t.Fatalf("stopping with the collector down took %v", d)
	}
	stopped = time.Now()
}
