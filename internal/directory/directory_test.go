package directory_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/store/embedded"
)

// flaky wraps a real store and fails lookups while down is set: the store outage of SPEC
// section 3 without stopping a process.
type flaky struct {
	directory.Store
	down    atomic.Bool
	lookups atomic.Int64
}

var errDown = errors.New("store down")

func (f *flaky) Lookup(ctx context.Context, ns directory.Namespace, name string) ([]string, error) {
	f.lookups.Add(1)
	if f.down.Load() {
		return nil, errDown
	}
	return f.Store.Lookup(ctx, ns, name)
}

func (f *flaky) ListClusters(ctx context.Context) ([]directory.Cluster, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Store.ListClusters(ctx)
}

func newDirectory(t *testing.T, opts directory.Options) (*directory.Directory, *flaky) {
	t.Helper()
	s, err := embedded.Open(filepath.Join(t.TempDir(), "d.db"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &flaky{Store: s}
	d := directory.New(f, opts)
	ctx := context.Background()
	for _, c := range []directory.Cluster{
		{Code: "b", Name: "B", SSOURL: "http://127.0.0.1:1/sso", ServerURL: "http://127.0.0.1:1/s", Enabled: true},
		{Code: "a", Name: "A", SSOURL: "http://127.0.0.1:2/sso", ServerURL: "http://127.0.0.1:2/s", Enabled: true},
	} {
		if _, err := d.PutCluster(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	return d, f
}

func TestResolve(t *testing.T) {
	d, _ := newDirectory(t, directory.Options{})
	ctx := context.Background()
	must(t, d.Bind(ctx, directory.NamespaceUser, "one", "A"))
	must(t, d.Bind(ctx, directory.NamespaceUser, "two", "B"))
	must(t, d.Bind(ctx, directory.NamespaceUser, "two", "a"))
	must(t, d.Bind(ctx, directory.NamespaceManager, "boss", "B"))

	var amb *directory.AmbiguousError
	for _, tc := range []struct {
		name, ns, user, invite, want string
		err                          error
	}{
		{name: "one cluster", user: "one", want: "A"},
		{name: "trimmed username", user: "  one ", want: "A"},
		{name: "case matters by default", user: "ONE", err: directory.ErrUnknownUser},
		{name: "unknown user", user: "zed", err: directory.ErrUnknownUser},
		{name: "two clusters", user: "two", err: amb},
		{name: "invite picks one", user: "two", invite: " b ", want: "B"},
		{name: "invite not bound", user: "one", invite: "B", err: directory.ErrBadInviteCode},
		{name: "invite unknown", user: "one", invite: "C", err: directory.ErrBadInviteCode},
		{name: "invite malformed", user: "one", invite: "a b", err: directory.ErrBadInviteCode},
		{name: "manager namespace", ns: "manager", user: "boss", want: "B"},
		{name: "namespaces are separate", user: "boss", err: directory.ErrUnknownUser},
		{name: "invalid username", user: "a\x00b", err: directory.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := directory.NamespaceFor(tc.ns)
			c, err := d.Resolve(ctx, ns, tc.user, tc.invite)
			switch {
			case tc.err == amb:
				if !errors.As(err, &amb) || len(amb.Choices) != 2 || amb.Choices[0].Code != "A" || amb.Choices[1].Code != "B" {
					t.Fatalf("want 2 choices ordered by code, got %v", err)
				}
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
			case err != nil || c.Code != tc.want:
				t.Fatalf("got %q, %v; want %q", c.Code, err, tc.want)
			}
		})
	}
}

func TestCaseInsensitiveFoldsUsernames(t *testing.T) {
	d, _ := newDirectory(t, directory.Options{CaseInsensitive: true})
	ctx := context.Background()
	must(t, d.Bind(ctx, directory.NamespaceUser, "Alice", "A"))
	if c, err := d.Resolve(ctx, directory.NamespaceUser, "ALICE", ""); err != nil || c.Code != "A" {
		t.Fatalf("got %v %v", c.Code, err)
	}
}

func TestCacheServesHitsAndIsInvalidatedByWrites(t *testing.T) {
	d, f := newDirectory(t, directory.Options{})
	ctx := context.Background()
	if _, err := d.Resolve(ctx, directory.NamespaceUser, "late", ""); !errors.Is(err, directory.ErrUnknownUser) {
		t.Fatal(err)
	}
	before := f.lookups.Load()
	if _, err := d.Resolve(ctx, directory.NamespaceUser, "late", ""); !errors.Is(err, directory.ErrUnknownUser) {
		t.Fatal(err)
	}
	if f.lookups.Load() != before {
		t.Fatal("a negative answer was not cached")
	}
	// A bind must be visible at once, despite the cached "unknown".
	must(t, d.Bind(ctx, directory.NamespaceUser, "late", "A"))
	if c, err := d.Resolve(ctx, directory.NamespaceUser, "late", ""); err != nil || c.Code != "A" {
		t.Fatalf("after bind: %v %v", c.Code, err)
	}
	must(t, d.Unbind(ctx, directory.NamespaceUser, "late", "A"))
	if _, err := d.Resolve(ctx, directory.NamespaceUser, "late", ""); !errors.Is(err, directory.ErrUnknownUser) {
		t.Fatalf("after unbind: %v", err)
	}
	if s := d.Stats(); s.CacheHits == 0 || s.CacheMisses == 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestStoreOutageServesLastKnownGoodAndNeverAWrong1004(t *testing.T) {
	d, f := newDirectory(t, directory.Options{CacheTTL: time.Millisecond, StaleIfError: time.Hour})
	ctx := context.Background()
	must(t, d.Bind(ctx, directory.NamespaceUser, "cached", "A"))
	if _, err := d.Resolve(ctx, directory.NamespaceUser, "cached", ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // the entry is past its TTL: the store is asked again
	f.down.Store(true)
	if c, err := d.Resolve(ctx, directory.NamespaceUser, "cached", ""); err != nil || c.Code != "A" {
		t.Fatalf("cached user during the outage: %v %v", c.Code, err)
	}
	_, err := d.Resolve(ctx, directory.NamespaceUser, "uncached", "")
	if !directory.IsUnavailable(err) || errors.Is(err, directory.ErrUnknownUser) {
		t.Fatalf("uncached user during the outage: %v (must be unavailable, never unknown)", err)
	}
	if d.Stats().StaleServed == 0 {
		t.Fatal("stale answers not counted")
	}
	f.down.Store(false)
	if _, err := d.Resolve(ctx, directory.NamespaceUser, "uncached", ""); !errors.Is(err, directory.ErrUnknownUser) {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestStaleIfErrorIsBounded(t *testing.T) {
	d, f := newDirectory(t, directory.Options{CacheTTL: time.Millisecond, StaleIfError: 20 * time.Millisecond})
	ctx := context.Background()
	must(t, d.Bind(ctx, directory.NamespaceUser, "u", "A"))
	if _, err := d.Resolve(ctx, directory.NamespaceUser, "u", ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(40 * time.Millisecond)
	f.down.Store(true)
	if _, err := d.Resolve(ctx, directory.NamespaceUser, "u", ""); !directory.IsUnavailable(err) {
		t.Fatalf("an answer older than stale_if_error was served: %v", err)
	}
}

// cache.stale_if_error: 0 means "never serve stale" (issue 8 item 5: zero was taken as "unset"
// and served stale answers for an hour).
func TestStaleIfErrorZeroNeverServesStale(t *testing.T) {
	d, f := newDirectory(t, directory.Options{CacheTTL: time.Millisecond, StaleIfError: 0})
	ctx := context.Background()
	must(t, d.Bind(ctx, directory.NamespaceUser, "u", "A"))
	if _, err := d.Resolve(ctx, directory.NamespaceUser, "u", ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // past the TTL: the store must be asked
	f.down.Store(true)
	if c, err := d.Resolve(ctx, directory.NamespaceUser, "u", ""); !directory.IsUnavailable(err) {
		t.Fatalf("stale_if_error 0 served a stale answer: %v %v", c.Code, err)
	}
	if n := d.Stats().StaleServed; n != 0 {
		t.Fatalf("stale answers counted: %d", n)
	}
}

func TestCacheIsBounded(t *testing.T) {
	d, _ := newDirectory(t, directory.Options{CacheSize: 640})
	ctx := context.Background()
	for i := range 5000 {
		d.Resolve(ctx, directory.NamespaceUser, fmt.Sprintf("user%d", i), "")
	}
	if n := d.Stats().CachedUsernames; n > 640 || n < 320 {
		t.Fatalf("cache holds %d usernames, bound 640", n)
	}
}

func TestDeleteClusterLeavesAnswersAtOnce(t *testing.T) {
	d, _ := newDirectory(t, directory.Options{})
	ctx := context.Background()
	must(t, d.Bind(ctx, directory.NamespaceUser, "u", "A"))
	must(t, d.Bind(ctx, directory.NamespaceUser, "u", "B"))
	must(t, d.DeleteCluster(ctx, "b"))
	if c, err := d.Resolve(ctx, directory.NamespaceUser, "u", ""); err != nil || c.Code != "A" {
		t.Fatalf("got %v %v", c.Code, err)
	}
	if err := d.Bind(ctx, directory.NamespaceUser, "u", "B"); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("binding to a deleted cluster: %v", err)
	}
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    directory.Cluster
		ok   bool
	}{
		{"valid", directory.Cluster{Code: "ok_1-x", Name: "n", SSOURL: "https://sso.example/sso", ServerURL: "http://s"}, true},
		{"code too long", directory.Cluster{Code: string(make([]byte, 65)), Name: "n", SSOURL: "http://a", ServerURL: "http://s"}, false},
		{"code with a dot", directory.Cluster{Code: "a.b", Name: "n", SSOURL: "http://a", ServerURL: "http://s"}, false},
		{"no name", directory.Cluster{Code: "a", SSOURL: "http://a", ServerURL: "http://s"}, false},
		{"relative sso url", directory.Cluster{Code: "a", Name: "n", SSOURL: "/sso", ServerURL: "http://s"}, false},
		{"credentials in url", directory.Cluster{Code: "a", Name: "n", SSOURL: "http://u:p@a", ServerURL: "http://s"}, false},
		{"ftp token url", directory.Cluster{Code: "a", Name: "n", SSOURL: "http://a", ServerURL: "http://s", TokenURL: "ftp://x"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v", err)
			}
			if err != nil && !errors.Is(err, directory.ErrInvalid) {
				t.Fatalf("not ErrInvalid: %v", err)
			}
		})
	}
}

// A refused URL is named in the error (it reaches the admin API's caller and the logs) without
// the credentials that made it refused.
func TestValidationNeverEchoesCredentials(t *testing.T) {
	for _, raw := range []string{"http://ops:s3cret-pass@sso.example/sso", "https://tok3n-only@sso.example/sso", "ftp://u:s3cret-pass@x"} {
		c := directory.Cluster{Code: "a", Name: "n", SSOURL: raw, ServerURL: "http://s"}
		err := c.Validate()
		if err == nil {
			t.Fatalf("%s accepted", raw)
		}
		if msg := err.Error(); strings.Contains(msg, "s3cret") || strings.Contains(msg, "tok3n") || !strings.Contains(msg, "sso.example") && !strings.Contains(msg, "ftp://") {
			t.Fatalf("error for %s: %q; want the URL named without its credentials", raw, msg)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// SPEC section 7: the in-process cache costs at most 200 bytes per cached username.
func TestCacheMemoryPerUsername(t *testing.T) {
	d, _ := newDirectory(t, directory.Options{CacheSize: 1 << 20})
	ctx := context.Background()
	const n = 100_000
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("user%07d@example.com", i)
	}
	bb, err := d.BulkBind(ctx, directory.NamespaceUser, "A")
	must(t, err)
	for _, name := range names[:n/2] {
		must(t, bb.Add(ctx, name))
	}
	must(t, bb.Flush(ctx))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, name := range names {
		d.Resolve(ctx, directory.NamespaceUser, name, "")
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := d.Stats().CachedUsernames; got < n*9/10 {
		t.Fatalf("only %d of %d usernames cached", got, n)
	}
	perEntry := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.0f bytes of heap per cached username (21-byte usernames)", perEntry)
	if perEntry > 200 {
		t.Fatalf("%.0f bytes per cached username, SPEC allows 200", perEntry)
	}
	runtime.KeepAlive(names)
}

// A reload changes cache.stale_if_error on the running directory (SetCacheTimes); 0 then
// stops serving stale answers at once.
func TestSetCacheTimesAppliesStaleIfError(t *testing.T) {
	d, f := newDirectory(t, directory.Options{CacheTTL: time.Millisecond, StaleIfError: time.Hour})
	ctx := context.Background()
	must(t, d.Bind(ctx, directory.NamespaceUser, "u", "A"))
	if _, err := d.Resolve(ctx, directory.NamespaceUser, "u", ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	f.down.Store(true)
	if _, err := d.Resolve(ctx, directory.NamespaceUser, "u", ""); err != nil {
		t.Fatalf("stale_if_error 1h: %v", err)
	}
	d.SetCacheTimes(time.Millisecond, 0)
	if _, err := d.Resolve(ctx, directory.NamespaceUser, "u", ""); !directory.IsUnavailable(err) {
		t.Fatalf("after SetCacheTimes(_, 0) a stale answer was served: %v", err)
	}
	f.down.Store(false)
	d.SetCacheTimes(time.Hour, 0)
	if _, err := d.Resolve(ctx, directory.NamespaceUser, "u", ""); err != nil {
		t.Fatal(err)
	}
	f.down.Store(true)
	if _, err := d.Resolve(ctx, directory.NamespaceUser, "u", ""); err != nil {
		t.Fatalf("a fresh answer within the new ttl (1h) was not served: %v", err)
	}
}

// A reload changes cache.cluster_refresh of a running directory: the ticker follows at once.
func TestSetClusterRefreshAppliesToARunningDirectory(t *testing.T) {
	d, f := newDirectory(t, directory.Options{ClusterRefresh: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	// A cluster written behind the directory's back (another tool, no Watcher): only the
	// periodic reload can find it.
	if err := f.Store.PutCluster(ctx, directory.Cluster{Code: "C", Name: "C", SSOURL: "http://127.0.0.1:3/sso", ServerURL: "http://127.0.0.1:3/s", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := d.Cluster("C"); err == nil {
		t.Fatal("the cluster table was reloaded although cluster_refresh is 1 h")
	}
	d.SetClusterRefresh(20 * time.Millisecond)
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, err := d.Cluster("C"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the new cluster_refresh (20 ms) was not applied within 3 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
