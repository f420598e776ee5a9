package conformance

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/refresh"
)

var recordTests = []subtest{
	{"Refresh/PutGet", testRefreshPutGet},
	{"Refresh/Unknown", testRefreshUnknown},
	{"Refresh/Expiry", testRefreshExpiry},
	{"Refresh/Batch", testRefreshBatch},
	{"Counters/Add", testCountersAdd},
	{"Counters/TTLKeptOnLaterAdds", testCountersTTL},
	{"Counters/PeekMissing", testCountersPeekMissing},
	{"Counters/Delete", testCountersDelete},
	{"Counters/Expiry", testCountersExpiry},
	{"Counters/Atomic", testCountersAtomic},
}

// shortTTL is the lifetime of records in the expiry tests: long enough for a remote store to
// see them alive, short enough to keep the suite fast. expiryWait bounds the polling after it.
const (
	shortTTL   = time.Second
	expiryWait = 3 * time.Second
)

func testRefreshPutGet(t *testing.T, s Backend) {
	k1, k2 := refresh.Key("token-one"), refresh.Key("token-two")
	if err := s.PutRefresh(ctx(t), k1, "A", time.Hour); err != nil {
		t.Fatalf("PutRefresh: %v", err)
	}
	if err := s.PutRefresh(ctx(t), k2, "BJEDU", time.Hour); err != nil {
		t.Fatalf("PutRefresh: %v", err)
	}
	for key, want := range map[string]string{k1: "A", k2: "BJEDU"} {
		got, err := s.GetRefresh(ctx(t), key)
		if err != nil || got != want {
			t.Fatalf("GetRefresh = %q, %v; want %q", got, err, want)
		}
	}
	// Putting the same key again replaces the record.
	if err := s.PutRefresh(ctx(t), k1, "B", time.Hour); err != nil {
		t.Fatalf("PutRefresh again: %v", err)
	}
	if got, err := s.GetRefresh(ctx(t), k1); err != nil || got != "B" {
		t.Fatalf("GetRefresh after replace = %q, %v; want B", got, err)
	}
}

func testRefreshUnknown(t *testing.T, s Backend) {
	if _, err := s.GetRefresh(ctx(t), refresh.Key("never handed out")); !isNotFound(err) {
		t.Fatalf("GetRefresh(unknown) error = %v, want ErrNotFound", err)
	}
}

func testRefreshExpiry(t *testing.T, s Backend) {
	short, long := refresh.Key("short"), refresh.Key("long")
	if err := s.PutRefresh(ctx(t), short, "A", shortTTL); err != nil {
		t.Fatalf("PutRefresh: %v", err)
	}
	if err := s.PutRefresh(ctx(t), long, "A", time.Hour); err != nil {
		t.Fatalf("PutRefresh: %v", err)
	}
	if got, err := s.GetRefresh(ctx(t), short); err != nil || got != "A" {
		t.Fatalf("GetRefresh before expiry = %q, %v; want A", got, err)
	}
	expired := eventually(expiryWait, func() bool {
		_, err := s.GetRefresh(ctx(t), short)
		return isNotFound(err)
	})
	if !expired {
		t.Fatalf("refresh record with ttl %s still readable after %s", shortTTL, expiryWait)
	}
	if got, err := s.GetRefresh(ctx(t), long); err != nil || got != "A" {
		t.Fatalf("GetRefresh of an unexpired record = %q, %v; want A", got, err)
	}
}

func add(t *testing.T, s Backend, key string, delta int64, ttl time.Duration) int64 {
	t.Helper()
	v, err := s.Add(ctx(t), key, delta, ttl)
	if err != nil {
		t.Fatalf("Add(%q, %d): %v", key, delta, err)
	}
	return v
}

func peek(t *testing.T, s Backend, key string) (int64, time.Duration) {
	t.Helper()
	v, ttl, err := s.Peek(ctx(t), key)
	if err != nil {
		t.Fatalf("Peek(%q): %v", key, err)
	}
	return v, ttl
}

func testCountersAdd(t *testing.T, s Backend) {
	steps := []struct {
		delta, want int64
	}{{1, 1}, {1, 2}, {5, 7}, {-3, 4}, {0, 4}}
	for _, st := range steps {
		if got := add(t, s, "user:alice", st.delta, time.Minute); got != st.want {
			t.Fatalf("Add(%d) = %d, want %d", st.delta, got, st.want)
		}
	}
	if v, _ := peek(t, s, "user:alice"); v != 4 {
		t.Fatalf("Peek = %d, want 4", v)
	}
	// Keys are independent, including keys that share a prefix.
	if got := add(t, s, "user:alice:x", 2, time.Minute); got != 2 {
		t.Fatalf("Add to another key = %d, want 2", got)
	}
	if got := add(t, s, "ip:192.0.2.1", 1, time.Minute); got != 1 {
		t.Fatalf("Add to another key = %d, want 1", got)
	}
}

func testCountersTTL(t *testing.T, s Backend) {
	const ttl = 10 * time.Second
	add(t, s, "k", 1, ttl)
	_, left := peek(t, s, "k")
	if left <= 0 || left > ttl {
		t.Fatalf("Peek ttl after creation = %s, want in (0, %s]", left, ttl)
	}
	// A later Add with a longer ttl keeps the first expiry: a lockout window starts at the
	// first failure and is not stretched by every further attempt (ratelimit.Counters).
	add(t, s, "k", 1, time.Hour)
	v, left := peek(t, s, "k")
	if v != 2 || left <= 0 || left > ttl {
		t.Fatalf("Peek after second Add = %d, %s; want 2 and ttl in (0, %s]", v, left, ttl)
	}
	// Given back to 0 it keeps its expiry; the next addition to a counter holding 0 starts a
	// new window (it counts nothing until then).
	add(t, s, "k", -2, time.Hour)
	if v, left := peek(t, s, "k"); v != 0 || left <= 0 || left > ttl {
		t.Fatalf("Peek after giving back to 0 = %d, %s; want 0 and ttl in (0, %s]", v, left, ttl)
	}
	add(t, s, "k", 1, time.Hour)
	if v, left := peek(t, s, "k"); v != 1 || left <= ttl || left > time.Hour {
		t.Fatalf("Peek after adding to a counter at 0 = %d, %s; want 1 and a new ttl in (%s, 1h]", v, left, ttl)
	}
	// A counter driven below 0 (a give-back after it expired) gets a window too.
	add(t, s, "neg", -1, ttl)
	if v, left := peek(t, s, "neg"); v != -1 || left <= 0 || left > ttl {
		t.Fatalf("Peek of a new counter at -1 = %d, %s; want -1 and ttl in (0, %s]", v, left, ttl)
	}
}

func testCountersPeekMissing(t *testing.T, s Backend) {
	v, left, err := s.Peek(ctx(t), "missing")
	if err != nil || v != 0 || left != 0 {
		t.Fatalf("Peek(missing) = %d, %s, %v; want 0, 0, nil", v, left, err)
	}
}

func testCountersDelete(t *testing.T, s Backend) {
	add(t, s, "k", 3, time.Minute)
	add(t, s, "other", 1, time.Minute)
	if err := s.Delete(ctx(t), "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if v, left := peek(t, s, "k"); v != 0 || left != 0 {
		t.Fatalf("Peek after Delete = %d, %s; want 0, 0", v, left)
	}
	if err := s.Delete(ctx(t), "k"); err != nil {
		t.Fatalf("Delete of a missing key: %v, want nil", err)
	}
	if v, _ := peek(t, s, "other"); v != 1 {
		t.Fatalf("Delete touched another key: Peek = %d, want 1", v)
	}
	// A deleted counter starts again from zero with a fresh ttl.
	if got := add(t, s, "k", 1, time.Minute); got != 1 {
		t.Fatalf("Add after Delete = %d, want 1", got)
	}
}

func testCountersExpiry(t *testing.T, s Backend) {
	add(t, s, "short", 5, shortTTL)
	add(t, s, "long", 5, time.Hour)
	expired := eventually(expiryWait, func() bool {
		v, left, err := s.Peek(ctx(t), "short")
		return err == nil && v == 0 && left == 0
	})
	if !expired {
		t.Fatalf("counter with ttl %s still present after %s", shortTTL, expiryWait)
	}
	// An expired counter starts again from zero, with the ttl of the new Add.
	if got := add(t, s, "short", 1, time.Minute); got != 1 {
		t.Fatalf("Add after expiry = %d, want 1", got)
	}
	if _, left := peek(t, s, "short"); left <= shortTTL || left > time.Minute {
		t.Fatalf("ttl after re-creation = %s, want the new Add's (%s)", left, time.Minute)
	}
	if v, _ := peek(t, s, "long"); v != 5 {
		t.Fatalf("unexpired counter = %d, want 5", v)
	}
}

func testCountersAtomic(t *testing.T, s Backend) {
	// A parallel burst must never get more attempts through than the limit (SPEC section 6):
	// every Add sees a distinct running value and none is lost.
	const workers, adds = 50, 20
	var (
		mu   sync.Mutex
		seen = make(map[int64]bool, workers*adds)
		errs []error
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for range adds {
				v, err := s.Add(ctx(t), "burst", 1, time.Minute)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if seen[v] {
					errs = append(errs, fmt.Errorf("two Adds returned the same value %d", v))
				}
				seen[v] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d concurrent Adds failed, first: %v", len(errs), errs[0])
	}
	if v, _ := peek(t, s, "burst"); v != workers*adds {
		t.Fatalf("after %d concurrent Adds the counter is %d", workers*adds, v)
	}
	for i := int64(1); i <= workers*adds; i++ {
		if !seen[i] {
			t.Fatalf("no Add returned %d", i)
		}
	}
}

// testRefreshBatch pins refresh.Batcher: every record of a batch is readable, and records
// expire.
func testRefreshBatch(t *testing.T, b Backend) {
	s := b
	var recs []refresh.Record
	for i := range 2500 {
		recs = append(recs, refresh.Record{Key: refresh.Key(fmt.Sprint("token-", i)), ClusterCode: fmt.Sprint("C", i%7)})
	}
	if err := b.PutRefreshBatch(ctx(t), recs, time.Hour); err != nil {
		t.Fatalf("PutRefreshBatch: %v", err)
	}
	for _, i := range []int{0, 1, 1249, 2499} {
		got, err := s.GetRefresh(ctx(t), recs[i].Key)
		if err != nil || got != recs[i].ClusterCode {
			t.Fatalf("record %d: got %q, %v; want %q", i, got, err, recs[i].ClusterCode)
		}
	}
	if err := b.PutRefreshBatch(ctx(t), []refresh.Record{{Key: "short", ClusterCode: "A"}}, time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, err := s.GetRefresh(ctx(t), "short")
		if errors.Is(err, directory.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a batched record with a 1 s ttl still answers after 3 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
