package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ssogate/ssogate/internal/admin"
	"github.com/ssogate/ssogate/internal/apidoc"
	"github.com/ssogate/ssogate/internal/audit"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/store/embedded"
)

const testToken = "t0ken-for-admin-tests"

// env is an admin API over a real embedded store, served on a real socket.
type env struct {
	srv   *httptest.Server
	dir   *directory.Directory
	store *embedded.Store
	logs  *syncBuffer
}

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

func newEnv(t *testing.T, configure ...func(*admin.Options)) *env {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "ssogate.db"), embedded.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	d := directory.New(st, directory.Options{Audit: audit.NewRecorder(st, audit.DefaultRetention, nil)})
	if err := d.ReloadClusters(context.Background()); err != nil {
		t.Fatalf("reload clusters: %v", err)
	}
	logs := &syncBuffer{}
	opts := admin.Options{
		Directory: d,
		Token:     testToken,
		Logger:    slog.New(slog.NewJSONHandler(logs, nil)),
	}
	for _, c := range configure {
		c(&opts)
	}
	srv := httptest.NewServer(admin.New(opts))
	t.Cleanup(srv.Close)
	return &env{srv: srv, dir: d, store: st, logs: logs}
}

// result is a decoded answer.
type result struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do calls the API with the test token; body may be nil, a string or an io.Reader.
func (e *env) do(t *testing.T, method, path string, body any) result {
	t.Helper()
	return e.doWith(t, method, path, body, map[string]string{"Authorization": "Bearer " + testToken})
}

func (e *env) doWith(t *testing.T, method, path string, body any, headers map[string]string) result {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case io.Reader:
		rd = b
	default:
		t.Fatalf("unsupported body type %T", body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	// Every exchange is checked against docs/openapi.yaml (SPEC section 11).
	resp, err := apidoc.Client(t, e.srv.Client()).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	r := result{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
			if err := json.Unmarshal(raw, &r.body); err != nil {
				t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
			}
		}
	}
	return r
}

// want checks the status and, for errors, that the body is the API's JSON error shape.
func (r result) want(t *testing.T, status int) result {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	if status >= 400 {
		if r.body == nil || r.body["error"] == nil || r.body["message"] == nil {
			t.Fatalf("error answer is not {error,message} JSON: %q (Content-Type %q)", r.raw, r.header.Get("Content-Type"))
		}
	}
	return r
}

func (r result) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

// putCluster registers a cluster with fixed URLs.
func (e *env) putCluster(t *testing.T, code, name string) {
	t.Helper()
	body := `{"name":"` + name + `","sso_url":"http://sso.example/` + code + `","server_url":"http://api.example/` + code + `"}`
	r := e.do(t, http.MethodPut, "/admin/clusters/"+code, body)
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		t.Fatalf("put cluster %s: %d %s", code, r.status, r.raw)
	}
}

// lookup returns the cluster codes a username is bound to, through the API.
func (e *env) lookup(t *testing.T, username, query string) []string {
	t.Helper()
	r := e.do(t, http.MethodGet, "/admin/users/"+url.PathEscape(username)+query, nil).want(t, http.StatusOK)
	list, ok := r.body["clusters"].([]any)
	if !ok {
		t.Fatalf("clusters is not a list: %s", r.raw)
	}
	codes := []string{}
	for _, c := range list {
		codes = append(codes, c.(map[string]any)["cluster_code"].(string))
	}
	return codes
}
