package tracing

import (
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Sink is a minimal OTLP/HTTP trace receiver on a loopback port: it decodes each export
// (protobuf, optionally gzip) and keeps the spans, or only counts them. The tests use it to
// see what the gateway exports and the benchmark uses it as a collector that costs little.
type Sink struct {
	srv   *http.Server
	ln    net.Listener
	keep  bool
	mu    sync.Mutex
	spans []*tracepb.Span
	count atomic.Int64
}

// NewSink listens on addr (e.g. 127.0.0.1:0); keep says whether spans are kept or only counted.
func NewSink(addr string, keep bool) (*Sink, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Sink{ln: ln, keep: keep}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// URL is the endpoint to configure as tracing.otlp_endpoint.
func (s *Sink) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the receiver.
func (s *Sink) Close() error { return s.srv.Close() }

// Count is the number of spans received.
func (s *Sink) Count() int64 { return s.count.Load() }

// Spans returns the spans kept so far.
func (s *Sink) Spans() []*tracepb.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*tracepb.Span(nil), s.spans...)
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.Error(w, "OTLP/HTTP traces only: POST /v1/traces", http.StatusNotFound)
		return
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, 32<<20)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var got []*tracepb.Span
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			got = append(got, ss.Spans...)
		}
	}
	s.count.Add(int64(len(got)))
	if s.keep {
		s.mu.Lock()
		s.spans = append(s.spans, got...)
		s.mu.Unlock()
	}
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}
