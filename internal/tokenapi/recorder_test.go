package tokenapi

import (
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/refresh"
	"github.com/ssogate/ssogate/internal/store/embedded"
)

// gatedStore holds batch writes until released: the writer is busy and its queue fills.
type gatedStore struct {
	*embedded.Store
	gate chan struct{}
}

func (g *gatedStore) PutRefreshBatch(ctx context.Context, records []refresh.Record, ttl time.Duration) error {
	<-g.gate
	return g.Store.PutRefreshBatch(ctx, records, ttl)
}

// TestRecorderQueueFull pins SPEC section 2 (issue 8 item 1): with the writer's queue full a
// record is written by its login instead — never dropped — and every record is routable
// from the moment record returns.
func TestRecorderQueueFull(t *testing.T) {
	store, err := embedded.Open(filepath.Join(t.TempDir(), "ssogate.db"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	g := &gatedStore{Store: store, gate: make(chan struct{})}
	r := newRefreshRecorder(g, time.Hour, time.Second, slog.New(slog.DiscardHandler), true, 2)
	ctx := context.Background()
	for i := range 20 {
		tok := "token-" + strconv.Itoa(i)
		r.record("req", tok, "TB")
		if code, err := r.lookup(ctx, refresh.Key(tok)); err != nil || code != "TB" {
			t.Fatalf("record %d not routable right after record: %q %v", i, code, err)
		}
	}
	close(g.gate)
	r.close()
	if n := r.failures.Load(); n != 0 {
		t.Fatalf("%d records failed", n)
	}
	for i := range 20 {
		if code, err := store.GetRefresh(ctx, refresh.Key("token-"+strconv.Itoa(i))); err != nil || code != "TB" {
			t.Fatalf("record %d not in the store after close: %q %v", i, code, err)
		}
	}
	if len(r.pending) != 0 {
		t.Fatalf("%d records still pending after close", len(r.pending))
	}
}

// TestRefreshWithClustersNotLoaded pins SPEC section 2: the issuing cluster unknown only because
// the cluster table is not loaded (a start with the store down) is temporarily_unavailable,
// never invalid_grant, which would log the user out.
func TestRefreshWithClustersNotLoaded(t *testing.T) {
	tb := newTestbed(t, testbedOptions{noClusterLoad: true})
	if err := tb.store.PutRefresh(context.Background(), refresh.Key("rt-1"), "TB", time.Hour); err != nil {
		t.Fatal(err)
	}
	a := tb.post(t, appBasic, "grant_type", "refresh_token", "refresh_token", "rt-1")
	if a.code() != CodeError || a.str("error") != "temporarily_unavailable" {
		t.Fatalf("got %s", a.raw)
	}
	// Once loaded, the same token routes.
	if err := tb.dir.ReloadClusters(context.Background()); err != nil {
		t.Fatal(err)
	}
	a = tb.post(t, appBasic, "grant_type", "refresh_token", "refresh_token", "rt-1")
	if a.str("error") == "temporarily_unavailable" || a.str("cluster_code") != "TB" {
		t.Fatalf("after loading: %s", a.raw)
	}
}

// A login still running after Close (a shutdown that timed out) writes its record itself
// instead of sending on the closed queue.
func TestRecorderAfterClose(t *testing.T) {
	store, err := embedded.Open(filepath.Join(t.TempDir(), "ssogate.db"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r := newRefreshRecorder(store, time.Hour, time.Second, slog.New(slog.DiscardHandler), true, 16)
	r.close()
	r.close() // twice is harmless
	r.record("req", "late-token", "TB")
	if code, err := store.GetRefresh(context.Background(), refresh.Key("late-token")); err != nil || code != "TB" {
		t.Fatalf("late record: %q %v", code, err)
	}
}
