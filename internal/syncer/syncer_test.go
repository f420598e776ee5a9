package syncer_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/refsso"
	"github.com/ssogate/ssogate/internal/store/embedded"
	"github.com/ssogate/ssogate/internal/syncer"
)

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

type env struct {
	store *embedded.Store
	dir   *directory.Directory
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "s.db"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := directory.New(st, directory.Options{})
	if err := d.ReloadClusters(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &env{store: st, dir: d}
}

func (e *env) cluster(t *testing.T, code, url string) directory.Cluster {
	t.Helper()
	c := directory.Cluster{Code: code, Name: code, SSOURL: "http://127.0.0.1:1/sso", ServerURL: "http://127.0.0.1:1",
		Enabled: true, Sync: &directory.ClusterSync{URL: url, Interval: directory.Duration(time.Hour)}}
	c, err := e.dir.PutCluster(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) bind(t *testing.T, code string, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := e.dir.Bind(context.Background(), directory.NamespaceUser, n, code); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) users(t *testing.T, code string) []string {
	t.Helper()
	names, _, err := e.dir.ListUsers(context.Background(), directory.NamespaceUser, code, "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestSyncFromReferenceSSO: the reference SSO's user list becomes the cluster's bindings.
func TestSyncFromReferenceSSO(t *testing.T) {
	e := newEnv(t)
	sso, err := refsso.New(refsso.Config{Name: "r", Clients: map[string]string{"app": "s"}, Users: map[string]string{"alice": "a", "bob": "b", "carol": "c"},
		Prefix: "/sso", UsersToken: "list-secret"})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, sso.Handler().ServeHTTP) + "/sso/users"
	c := e.cluster(t, "A", url)
	c.Sync.HeaderName, c.Sync.HeaderValueEnv = "Authorization", "TEST_SYNC_AUTH"
	e.bind(t, "A", "alice", "gone")
	reg := prometheus.NewRegistry()
	logs := &syncBuffer{}
	s := syncer.New(syncer.Options{Directory: e.dir, Store: e.store, Registerer: reg, Instance: "i1",
		Getenv: func(k string) string {
			if k == "TEST_SYNC_AUTH" {
				return "Bearer list-secret"
			}
			return ""
		}, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	st := s.RunOnce(context.Background(), c)
	if st.Error != "" || st.Added != 2 || st.Removed != 1 || st.Unchanged != 1 || st.LastSuccess == nil || st.Instance != "i1" {
		t.Fatalf("status = %+v", st)
	}
	if got := e.users(t, "A"); !slices.Equal(got, []string{"alice", "bob", "carol"}) {
		t.Fatalf("bindings after sync: %q", got)
	}
	if v := value(s.RunsCounter("A", "success")); v != 1 {
		t.Fatalf("ssogate_sync_runs_total{result=success} = %v", v)
	}
	if strings.Contains(logs.String(), "list-secret") {
		t.Fatal("the sync header's value appears in the log")
	}
	// Without the header's variable: an error, nothing changed.
	c.Sync.HeaderValueEnv = "TEST_SYNC_UNSET"
	e.bind(t, "A", "kept")
	st = s.RunOnce(context.Background(), c)
	if !strings.Contains(st.Error, "TEST_SYNC_UNSET") || !slices.Contains(e.users(t, "A"), "kept") {
		t.Fatalf("status without the header variable = %+v", st)
	}
	// The status is shared through the store: any instance answers it.
	other := syncer.New(syncer.Options{Directory: e.dir, Store: e.store})
	v, err := other.Status(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	view := v.(syncer.View)
	if view.Runs != 2 || view.Error == "" || !view.Configured || view.LastSuccess == nil {
		t.Fatalf("status seen by another syncer = %+v", view)
	}
	if _, err := other.Status(context.Background(), "NOPE"); err == nil {
		t.Fatal("status of an unknown cluster did not fail")
	}
}

// TestBadSources pins SPEC section 8: a failing or garbage source never changes bindings,
// and says why in the status.
func TestBadSources(t *testing.T) {
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr + "/users"
	}()
	many := strings.Repeat("u\n", 10) // with 1,500 bound users, the guard trips
	tests := []struct {
		name    string
		handler http.HandlerFunc
		url     string
		wantErr string
	}{
		{name: "server error", handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }, wantErr: "HTTP 500"},
		{name: "html page", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body>login</body></html>"))
		}, wantErr: "text/html"},
		{name: "binary garbage", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(bytes.Repeat([]byte{0, 1, 2, 3, '\n'}, 100))
		}, wantErr: "does not look like a user list"},
		{name: "json not strings", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`["a", 1]`))
		}, wantErr: "not a string"},
		{name: "json object", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"users":["a"]}`))
		}, wantErr: "not an array"},
		{name: "truncated json", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`["a", "b"`))
		}, wantErr: "not closed"},
		{name: "empty list", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
		}, wantErr: "no usernames"},
		{name: "too large", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(bytes.Repeat([]byte("abcdefghij\n"), 1000))
		}, wantErr: "larger than"},
		{name: "slow source", handler: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, wantErr: "fetch"},
		{name: "truncated export", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(many))
		}, wantErr: "max_removals"},
		{name: "unreachable", url: closed, wantErr: "fetch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			url := tc.url
			if tc.handler != nil {
				url = serve(t, tc.handler)
			}
			c := e.cluster(t, "A", url)
			var bound []string
			for i := range 1500 {
				bound = append(bound, "user"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+itoa(i))
			}
			b, err := e.dir.BulkBind(context.Background(), directory.NamespaceUser, "A")
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range bound {
				if err := b.Add(context.Background(), n); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			s := syncer.New(syncer.Options{Directory: e.dir, Store: e.store, Registerer: reg,
				MaxBytes: 4096, FetchTimeout: 300 * time.Millisecond})
			st := s.RunOnce(context.Background(), c)
			if !strings.Contains(st.Error, tc.wantErr) {
				t.Fatalf("error = %q, want it to mention %q", st.Error, tc.wantErr)
			}
			if st.LastSuccess != nil || st.LastRun == nil {
				t.Fatalf("status = %+v", st)
			}
			if got := len(e.users(t, "A")); got != len(bound) {
				t.Fatalf("a bad source changed the bindings: %d left of %d", got, len(bound))
			}
			if v := value(s.RunsCounter("A", "error")); v != 1 {
				t.Fatalf("ssogate_sync_runs_total{result=error} = %v", v)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// TestOneInstanceSyncs: two syncers on one store (two gateway instances on one Redis behave
// the same, see the gateway's end-to-end test); only the lease holder ever runs the sync.
func TestOneInstanceSyncs(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	fetches := 0
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetches++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`["ann","ben"]`))
	})
	c := e.cluster(t, "A", url)
	c.Sync.Interval = directory.Duration(time.Second)
	if _, err := e.dir.PutCluster(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	syncers := make([]*syncer.Syncer, 2)
	for i := range syncers {
		syncers[i] = syncer.New(syncer.Options{Directory: e.dir, Store: e.store, Registerer: prometheus.NewRegistry(),
			Instance: []string{"one", "two"}[i], Tick: 50 * time.Millisecond})
		wg.Add(1)
		go func() { defer wg.Done(); syncers[i].Run(ctx) }()
	}
	time.Sleep(2500 * time.Millisecond)
	cancel()
	wg.Wait()
	a := value(syncers[0].RunsCounter("A", "success"))
	b := value(syncers[1].RunsCounter("A", "success"))
	if (a == 0) == (b == 0) || a+b < 2 || a+b > 4 {
		t.Fatalf("runs by instance: one %v, two %v; want every run (2 to 4 in 2.5 s at 1 s) by a single instance", a, b)
	}
	mu.Lock()
	defer mu.Unlock()
	if float64(fetches) != a+b {
		t.Fatalf("%d fetches for %v runs", fetches, a+b)
	}
	if got := e.users(t, "A"); !slices.Equal(got, []string{"ann", "ben"}) {
		t.Fatalf("bindings = %q", got)
	}
}
