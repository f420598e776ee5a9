package embedded

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openT(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "ssogate.db"), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func countKeys(t *testing.T, s *Store, bucket []byte) int {
	t.Helper()
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucket).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatalf("count %s: %v", bucket, err)
	}
	return n
}

func TestSweepDeletesOnlyExpired(t *testing.T) {
	s := openT(t, Options{})
	ctx := t.Context()
	// More records than one sweep transaction handles, so resuming between slices is tested.
	const n = sweepBatch*2 + 17
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i := range n {
			if err := tx.Bucket(bucketRefresh).Put(fmt.Appendf(nil, "r%06d", i), make([]byte, 9)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Records written with a zero expiry above are long expired; these two are not.
	if err := s.PutRefresh(ctx, "live", "A", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, "live", 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, "soon", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	deleted, err := s.sweep(time.Now().Add(30 * time.Minute))
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	if deleted != n+1 {
		t.Fatalf("sweep deleted %d records, want %d", deleted, n+1)
	}
	if got := countKeys(t, s, bucketRefresh); got != 1 {
		t.Fatalf("%d refresh records left, want 1", got)
	}
	if got := countKeys(t, s, bucketCounters); got != 1 {
		t.Fatalf("%d counters left, want 1", got)
	}
	if code, err := s.GetRefresh(ctx, "live"); err != nil || code != "A" {
		t.Fatalf("GetRefresh(live) after sweep = %q, %v", code, err)
	}
}

func TestBackgroundSweep(t *testing.T) {
	s := openT(t, Options{SweepInterval: 20 * time.Millisecond})
	ctx := t.Context()
	if err := s.PutRefresh(ctx, "r", "A", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, "c", 1, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for countKeys(t, s, bucketRefresh)+countKeys(t, s, bucketCounters) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("expired records still in the file after 2s of sweeping every 20ms")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A write stuck behind another (a bulk import, a stalled fsync) must give up at the caller's
// deadline: the login path bounds every store call (SPEC section 3, store.timeout).
func TestWriteHonoursDeadline(t *testing.T) {
	s := openT(t, Options{})
	release := make(chan struct{})
	holding := make(chan struct{})
	go s.db.Update(func(*bolt.Tx) error {
		close(holding)
		<-release
		return nil
	})
	<-holding
	defer close(release)

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Add(ctx, "k", 1, time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Add behind a held writer lock: %v, want DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("Add returned after %s, want about its 50ms deadline", took)
	}
}
