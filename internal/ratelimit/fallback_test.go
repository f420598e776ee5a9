package ratelimit

import (
	"context"
	"errors"
	"sort"
	"sync/atomic"
	"testing"
	"time"
)

var errDown = errors.New("store down")

// faultyStore is a fault injector around a real Local: it fails or hangs on command and
// honours its context like a network client would.
type faultyStore struct {
	*Local
	fail, hang atomic.Bool
	calls      atomic.Int64
}

func (f *faultyStore) check(ctx context.Context) error {
	f.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.hang.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.fail.Load() {
		return errDown
	}
	return nil
}

func (f *faultyStore) Add(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	if err := f.check(ctx); err != nil {
		return 0, err
	}
	return f.Local.Add(ctx, key, delta, ttl)
}

func (f *faultyStore) Peek(ctx context.Context, key string) (int64, time.Duration, error) {
	if err := f.check(ctx); err != nil {
		return 0, 0, err
	}
	return f.Local.Peek(ctx, key)
}

func (f *faultyStore) Delete(ctx context.Context, key string) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Local.Delete(ctx, key)
}

// Batch keeps the faults: the embedded Local's Batch would bypass them.
func (f *faultyStore) Batch(ctx context.Context, ops []Op) []Result {
	if err := f.check(ctx); err != nil {
		out := make([]Result, len(ops))
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	return f.Local.Batch(ctx, ops)
}

func newFaulty(t *testing.T, o Options) (*Limiter, *faultyStore, *clock) {
	t.Helper()
	clk := newClock()
	f := &faultyStore{Local: NewLocal(0, clk.Now)}
	o.Now = clk.Now
	l := New(f, o)
	t.Cleanup(l.Close)
	return l, f, clk
}

// TestStoreFallback pins SPEC section 6: with the store down, per-instance counters take
// over — never fail open — and a down store costs one timeout per StoreRetry, not per login.
func TestStoreFallback(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(*faultyStore)
	}{
		{"store errors", func(f *faultyStore) { f.fail.Store(true) }},
		{"store hangs past StoreTimeout", func(f *faultyStore) { f.hang.Store(true) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, f, clk := newFaulty(t, Options{StoreTimeout: 20 * time.Millisecond})
			tc.fault(f)
			began := time.Now()
			for i := range 10 {
				if err := attempt(t, l, "alice", "192.0.2.1", Failure); err != nil {
					t.Fatalf("failure %d refused: %v", i+1, err)
				}
			}
			if err := attempt(t, l, "alice", "192.0.2.1", Failure); err == nil {
				t.Fatal("11th attempt allowed with the store down: failed open")
			}
			if el := time.Since(began); el > 500*time.Millisecond {
				t.Fatalf("11 attempts took %v with the store down", el)
			}
			// One reservation's calls (lock check and four additions — two counters, two
			// in-flight counters — one batch): the first failure rests the store for
			// StoreRetry. Ten
			// fallbacks: the 11th attempt is refused by the local lock before any counting.
			if s := l.Stats(); f.calls.Load() > 5 || s.StoreErrors != 1 || s.Fallbacks != 10 || s.Lockouts != 1 {
				t.Fatalf("store calls %d, stats %+v", f.calls.Load(), s)
			}

			// The store returns. After StoreRetry it is used again, and the lockout this
			// instance set meanwhile still holds.
			f.fail.Store(false)
			f.hang.Store(false)
			clk.Advance(l.Options().StoreRetry)
			if err := attempt(t, l, "alice", "192.0.2.1", Failure); err == nil {
				t.Fatal("local lockout forgotten when the store came back")
			}
			if err := attempt(t, l, "bob", "192.0.2.1", Failure); err != nil {
				t.Fatal(err)
			}
			if n := peek(t, f.Local, l.opts.Load().keys("bob", "").user); n != 1 {
				t.Fatalf("bob's failure not in the shared store (counter %d)", n)
			}
		})
	}
}

// A failure whose Done cannot reach the store is counted by this instance instead.
func TestFallbackAtDone(t *testing.T) {
	l, f, _ := newFaulty(t, Options{})
	a, err := l.Begin(t.Context(), "alice", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	f.fail.Store(true)
	a.Done(t.Context(), Failure)
	k := l.opts.Load().keys("alice", "192.0.2.1")
	if u, ip := peek(t, l.local, k.user), peek(t, l.local, k.ip); u != 1 || ip != 1 {
		t.Fatalf("local counters user=%d ip=%d, want 1 1", u, ip)
	}
	// The reservation made before the outage stays in the shared store too.
	if n := peek(t, f.Local, k.user); n != 1 {
		t.Fatalf("shared counter %d, want 1", n)
	}
}

// A client hanging up must not make the store look down (which would switch every
// instance's accounting to per-instance counters for StoreRetry).
func TestCanceledContextIsNotAnOutage(t *testing.T) {
	l, f, _ := newFaulty(t, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	a, err := l.Begin(ctx, "alice", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	a.Done(ctx, Failure)
	if s := l.Stats(); s.StoreErrors != 0 || s.Fallbacks != 0 {
		t.Fatalf("stats %+v", s)
	}
	if n := peek(t, f.Local, l.opts.Load().keys("alice", "").user); n != 1 {
		t.Fatalf("shared counter %d, want 1", n)
	}
}

// TestASVSBound replays attackers against one account with the default options and checks
// OWASP ASVS V2.2.1: no more than 100 failed attempts in any hour (a sliding one).
func TestASVSBound(t *testing.T) {
	for _, tc := range []struct {
		name      string
		step      time.Duration // pause after each allowed attempt
		burst     int           // after this many, wait for the counter to expire (0: never)
		firstHour int           // exact count in the first hour, when pinned (-1: not)
	}{
		// Retrying the moment Retry-After allows: 10 at 0, 15 and 45 min.
		{"as soon as allowed", 0, 0, 30},
		{"one a second", time.Second, 0, 30},
		{"one every 90 s", 90 * time.Second, 0, -1},
		// Never filling the counter, so never locked: the window alone bounds it.
		{"nine a window", 0, 9, -1},
		{"nine a window, slowly", 100 * time.Second, 9, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, store, clk := newLimiter(t, Options{})
			start := clk.Now()
			var failures []time.Time
			inWindow := 0
			for clk.Now().Sub(start) < 6*time.Hour {
				if tc.burst > 0 && inWindow == tc.burst {
					_, ttl, _ := store.Peek(t.Context(), l.opts.Load().keys("alice", "").user)
					clk.Advance(ttl)
					inWindow = 0
					continue
				}
				if err := attempt(t, l, "alice", "", Failure); err != nil {
					clk.Advance(retryAfter(t, err))
					inWindow = 0
					continue
				}
				failures = append(failures, clk.Now())
				inWindow++
				clk.Advance(tc.step)
			}
			first, worst := slidingHour(failures, start)
			t.Logf("%d failures in 6 h, %d in the first hour, at most %d in any hour", len(failures), first, worst)
			if tc.firstHour >= 0 && first != tc.firstHour {
				t.Errorf("first hour: %d failures, want %d", first, tc.firstHour)
			}
			if bound := (Options{}).FailureBoundPerHour(); worst > bound || worst > 100 {
				t.Errorf("%d failures in one hour, above the bound %d or ASVS's 100", worst, bound)
			}
		})
	}
}

// slidingHour counts failures in the hour after start and the most in any 60 minutes.
func slidingHour(ts []time.Time, start time.Time) (first, worst int) {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	j := 0
	for i, t := range ts {
		if t.Sub(start) < time.Hour {
			first++
		}
		for !ts[j].Add(time.Hour).After(t) {
			j++
		}
		worst = max(worst, i-j+1)
	}
	return first, worst
}

// A settlement the store refused is owed and paid once it is back; one that timed out may
// have run on the server, so it is never paid twice (its reservation stays counted: the
// conservative side).
func TestOwedSettlements(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     func(*faultyStore)
		wantOwed  int64
		wantUser  int64 // shared counters once the store is back
		wantFlown int64
	}{
		{"store refuses", func(f *faultyStore) { f.fail.Store(true) }, 1, 0, 0},
		{"store hangs past StoreTimeout", func(f *faultyStore) { f.hang.Store(true) }, 0, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, f, clk := newFaulty(t, Options{StoreTimeout: 20 * time.Millisecond})
			a, err := l.Begin(t.Context(), "alice", "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			tc.fault(f)
			a.Done(t.Context(), Success)
			l.Flush()
			if n, _ := l.OwedSettlements(); n != tc.wantOwed {
				t.Fatalf("owed settlements %d, want %d", n, tc.wantOwed)
			}
			f.fail.Store(false)
			f.hang.Store(false)
			clk.Advance(time.Minute) // past StoreRetry
			b, err := l.Begin(t.Context(), "bob", "192.0.2.2")
			if err != nil {
				t.Fatal(err)
			}
			b.Done(t.Context(), Success)
			deadline := time.Now().Add(5 * time.Second)
			for n, _ := l.OwedSettlements(); n != 0; n, _ = l.OwedSettlements() {
				if time.Now().After(deadline) {
					t.Fatalf("%d settlements still owed", n)
				}
				time.Sleep(time.Millisecond)
			}
			k := l.opts.Load().keys("alice", "192.0.2.1")
			if u, fl := peek(t, f.Local, k.user), peek(t, f.Local, k.userFlight); u != tc.wantUser || fl != tc.wantFlown {
				t.Fatalf("shared counter %d, in flight %d; want %d, %d", u, fl, tc.wantUser, tc.wantFlown)
			}
		})
	}
}
