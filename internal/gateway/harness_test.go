package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/apidoc"
	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/gateway"
	"github.com/ssogate/ssogate/internal/refsso"
)

const (
	clientID     = "app"
	clientSecret = "app-secret"
)

// received is what a reference SSO was sent, recorded by a wrapper around its real handler.
type received struct {
	Form          url.Values
	Authorization string
	XFF, Proto    string
	RequestID     string
	// Traceparent and Tracestate are the W3C Trace Context headers (SPEC section 11).
	Traceparent, Tracestate string
}

// ssoServer is a real reference SSO on a loopback port that records requests.
type ssoServer struct {
	URL string
	mu  sync.Mutex
	got []received
	srv *http.Server
}

func (s *ssoServer) last(t *testing.T) received {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) == 0 {
		t.Fatal("the SSO received no request")
	}
	return s.got[len(s.got)-1]
}

func (s *ssoServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func startSSO(t *testing.T, name string, users map[string]string, logs io.Writer) *ssoServer {
	t.Helper()
	rs, err := refsso.New(refsso.Config{
		Name: name, Prefix: "/sso", Users: users,
		Clients: map[string]string{clientID: clientSecret, "public": ""},
		Logger:  slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &ssoServer{}
	inner := rs.Handler()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		s.mu.Lock()
		s.got = append(s.got, received{Form: form, Authorization: r.Header.Get("Authorization"),
			XFF: r.Header.Get("X-Forwarded-For"), Proto: r.Header.Get("X-Forwarded-Proto"), RequestID: r.Header.Get("X-Request-Id"),
			Traceparent: r.Header.Get("traceparent"), Tracestate: r.Header.Get("tracestate")})
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		inner.ServeHTTP(w, r)
	})
	s.URL, s.srv = serveHTTP(t, handler)
	return s
}

// serveHTTP serves h on a loopback port until the test ends.
func serveHTTP(t *testing.T, h http.Handler) (string, *http.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), srv
}

// syncBuffer collects logs written from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a running gateway with its SSOs.
type env struct {
	t          *testing.T
	g          *gateway.Gateway
	base       string // http://127.0.0.1:port
	adminBase  string
	adminToken string
	logs       *syncBuffer
	cancel     context.CancelFunc
	done       chan error
	stopOnce   *sync.Once
	runErr     error
}

// startGateway runs a gateway on loopback ports with a fresh embedded store.
func startGateway(t *testing.T, logs *syncBuffer, clusters []directory.Cluster, tweak func(*config.Config)) *env {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.AdminListen = "127.0.0.1:0"
	cfg.AdminToken = "test-admin-token"
	cfg.Store.Path = filepath.Join(t.TempDir(), "ssogate.db")
	cfg.SSO.Timeout = 2 * time.Second
	cfg.SSO.ConnectTimeout = time.Second
	cfg.HTTP.WriteTimeout = 5 * time.Second
	cfg.Clusters = clusters
	if tweak != nil {
		tweak(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	g, err := gateway.New(ctx, cfg, gateway.Options{Logger: logger})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e := &env{t: t, g: g, base: "http://" + g.PublicAddr(), adminBase: "http://" + g.AdminAddr(),
		adminToken: cfg.AdminToken, logs: logs, cancel: cancel, done: make(chan error, 1), stopOnce: new(sync.Once)}
	go func() { e.done <- g.Run(ctx) }()
	t.Cleanup(func() {
		e.stop()
		g.Close()
	})
	return e
}

// as returns a view of e that reports failures to t (a subtest).
func (e *env) as(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// stop cancels the gateway's context and waits for Run to return; it may be called twice.
func (e *env) stop() {
	e.stopOnce.Do(func() {
		e.cancel()
		select {
		case e.runErr = <-e.done:
		case <-time.After(20 * time.Second):
			e.t.Error("gateway did not stop within 20 s")
		}
	})
}

func (e *env) bind(ns directory.Namespace, user, code string) {
	e.t.Helper()
	if err := e.g.Directory().Bind(context.Background(), ns, user, code); err != nil {
		e.t.Fatal(err)
	}
}

// reply is a decoded token answer.
type reply struct {
	Status int
	Header http.Header
	Raw    string
	Body   map[string]any
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// client is httpClient validating every exchange against docs/openapi.yaml (SPEC section 11):
// an answer or a served request that the document does not describe fails the test.
func (e *env) client() *http.Client { return apidoc.Client(e.t, httpClient) }

// post sends a token request; params are key, value pairs.
func (e *env) post(basic bool, params ...string) reply {
	e.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		form.Add(params[i], params[i+1])
	}
	req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(clientID, clientSecret)
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) reply {
	e.t.Helper()
	resp, err := e.client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if err := json.Unmarshal(raw, &r.Body); err != nil {
		e.t.Fatalf("%s %s: answer is not a JSON object: %v: %q", req.Method, req.URL, err, raw)
	}
	return r
}

func login(user, pass string, extra ...string) []string {
	return append([]string{"grant_type", "password", "username", user, "password", pass}, extra...)
}

// code returns the answer's code field.
func (r reply) code() int {
	f, _ := r.Body["code"].(float64)
	return int(f)
}

func (r reply) str(key string) string {
	s, _ := r.Body[key].(string)
	return s
}

// wantExact compares the whole answer with want, field by field, after JSON decoding.
func wantExact(t *testing.T, r reply, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want: %v", err)
	}
	got, _ := json.Marshal(r.Body)
	exp, _ := json.Marshal(w)
	if !bytes.Equal(got, exp) {
		t.Fatalf("answer\n got %s\nwant %s", got, exp)
	}
}

func jsonNewDecoder(resp *http.Response) *json.Decoder { return json.NewDecoder(resp.Body) }
