package tokenapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/ratelimit"
	"github.com/ssogate/ssogate/internal/refsso"
	"github.com/ssogate/ssogate/internal/sso"
	"github.com/ssogate/ssogate/internal/store/embedded"
)

// testbed is a Handler wired to real parts — an embedded store, the directory, the reference
// SSO, the forwarder — and served on a loopback port by NewServer.
type testbed struct {
	h     *Handler
	dir   *directory.Directory
	store *embedded.Store
	base  string // http://127.0.0.1:port
	sso   string // the reference SSO's base URL
	srv   *Server
}

type testbedOptions struct {
	noClusterLoad bool // leave the directory's cluster table unloaded
	tweak         func(*Options)
	limits        Limits
}

func newTestbed(t *testing.T, to testbedOptions) *testbed {
	t.Helper()
	store, err := embedded.Open(filepath.Join(t.TempDir(), "ssogate.db"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	rs, err := refsso.New(refsso.Config{Name: "TB", Prefix: "/sso", Users: map[string]string{"alice": "alice-pass"},
		Clients: map[string]string{"app": "app-secret"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ssoBase := serveNetHTTP(t, rs.Handler())
	ctx := context.Background()
	// A second directory over the same store writes the cluster and bindings, so that the
	// one under test may stay unloaded.
	seed := directory.New(store, directory.Options{})
	if _, err := seed.PutCluster(ctx, directory.Cluster{Code: "TB", Name: "测试", SSOURL: ssoBase + "/sso", ServerURL: ssoBase + "/server", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := seed.Bind(ctx, directory.NamespaceUser, "alice", "TB"); err != nil {
		t.Fatal(err)
	}
	dir := directory.New(store, directory.Options{})
	if !to.noClusterLoad {
		if err := dir.ReloadClusters(ctx); err != nil {
			t.Fatal(err)
		}
	}
	opts := Options{Directory: dir, Forwarder: sso.New(sso.Options{Timeout: 5 * time.Second}), Refresh: store, RefreshLocal: true,
		Limiter: ratelimit.New(nil, ratelimit.Options{})}
	if to.tweak != nil {
		to.tweak(&opts)
	}
	h := New(opts)
	t.Cleanup(h.Close)
	limits := to.limits
	if limits.MaxBodyBytes == 0 {
		limits.MaxBodyBytes = opts.MaxBodyBytes
	}
	srv := NewServer(h, limits, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return &testbed{h: h, dir: dir, store: store, base: "http://" + ln.Addr().String(), sso: ssoBase, srv: srv}
}

func serveNetHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (a answer) str(k string) string { s, _ := a.body[k].(string); return s }
func (a answer) code() int           { f, _ := a.body["code"].(float64); return int(f) }

// post sends form (key, value pairs) with Basic app:app-secret unless basic is "" (then no
// header) and returns the decoded answer.
func (tb *testbed) post(t *testing.T, basic string, kv ...string) answer {
	t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	req, _ := http.NewRequest(http.MethodPost, tb.base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != "" {
		req.Header.Set("Authorization", basic)
	}
	return doRequest(t, req)
}

var testClient = &http.Client{Timeout: 10 * time.Second}

func doRequest(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("answer is not JSON: %v: %q", err, raw)
	}
	return a
}

const appBasic = "Basic YXBwOmFwcC1zZWNyZXQ=" // app:app-secret
