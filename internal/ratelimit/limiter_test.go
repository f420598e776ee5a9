package ratelimit

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a fake time source moved by hand, so hours of lockouts run in microseconds.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newLimiter returns a limiter whose "shared" store is a Local on a fake clock.
func newLimiter(t *testing.T, o Options) (*Limiter, *Local, *clock) {
	t.Helper()
	clk := newClock()
	store := NewLocal(0, clk.Now)
	o.Now = clk.Now
	l := New(store, o)
	t.Cleanup(l.Close)
	return l, store, clk
}

// attempt begins an attempt and finishes it with outcome; it returns Begin's refusal.
func attempt(t *testing.T, l *Limiter, user, ip string, outcome Outcome) error {
	t.Helper()
	a, err := l.Begin(t.Context(), user, ip)
	if err != nil {
		var le *LimitedError
		if !errors.As(err, &le) || !errors.Is(err, ErrLimited) {
			t.Fatalf("Begin(%q, %q): %v, want a *LimitedError", user, ip, err)
		}
		if le.RetryAfter < time.Second || le.RetryAfter%time.Second != 0 {
			t.Fatalf("RetryAfter = %v, want whole seconds ≥ 1 s", le.RetryAfter)
		}
		return err
	}
	a.Done(t.Context(), outcome)
	l.Flush() // a success or neutral outcome is settled in the background
	return nil
}

func retryAfter(t *testing.T, err error) time.Duration {
	t.Helper()
	var le *LimitedError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a refusal", err)
	}
	return le.RetryAfter
}

func peek(t *testing.T, s Counters, key string) int64 {
	t.Helper()
	n, _, err := s.Peek(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDefaults(t *testing.T) {
	l := New(nil, Options{})
	o := l.Options()
	if o.UserFailures != 10 || o.UserWindow != 15*time.Minute || o.IPFailures != 100 ||
		o.IPWindow != 15*time.Minute || o.LockoutBase != 15*time.Minute || o.LockoutMax != time.Hour ||
		o.StrikeWindow != 24*time.Hour || o.StoreTimeout != time.Second || o.Logger == nil || o.Now == nil {
		t.Fatalf("defaults: %+v", o)
	}
	// A zero-option limiter with no shared store works on its own.
	for i := range 10 {
		if err := attempt(t, l, "alice", "192.0.2.1", Failure); err != nil {
			t.Fatalf("failure %d refused: %v", i+1, err)
		}
	}
	if err := attempt(t, l, "alice", "192.0.2.1", Failure); err == nil {
		t.Fatal("11th attempt allowed")
	}
	if s := l.Stats(); s.Fallbacks != 0 || s.Rejected != 1 || s.Lockouts != 1 {
		t.Fatalf("stats without a shared store: %+v", s)
	}
}

func TestFailureBoundPerHour(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want int
	}{
		// OWASP ASVS V2.2.1: at most 100 an hour. 5 windows of 15 min touch a sliding hour.
		{"defaults", Options{}, 50},
		{"hour window", Options{UserWindow: time.Hour}, 20},
		{"odd window", Options{UserFailures: 5, UserWindow: 25 * time.Minute}, 20},
		// A config a loader should refuse: far above 100.
		{"one minute window", Options{UserWindow: time.Minute}, 610},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.o.FailureBoundPerHour(); got != tc.want {
				t.Fatalf("FailureBoundPerHour = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestLimitReachedExactly(t *testing.T) {
	for _, n := range []int{1, 3, 10} {
		t.Run("limit "+strconv.Itoa(n), func(t *testing.T) {
			l, _, _ := newLimiter(t, Options{UserFailures: n})
			for i := range n {
				if err := attempt(t, l, "alice", "192.0.2.1", Failure); err != nil {
					t.Fatalf("failure %d of %d refused: %v", i+1, n, err)
				}
			}
			err := attempt(t, l, "alice", "192.0.2.1", Failure)
			var le *LimitedError
			if !errors.As(err, &le) || le.Scope != ScopeUser || le.RetryAfter != 15*time.Minute {
				t.Fatalf("after %d failures: %v, want a 15 min username refusal", n, err)
			}
			// Another user is not affected.
			if err := attempt(t, l, "bob", "192.0.2.1", Failure); err != nil {
				t.Fatalf("bob: %v", err)
			}
		})
	}
}

func TestLockoutGrowsCapsAndExpires(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want []time.Duration // Retry-After after each round of failures
	}{
		// Doubling from one window, capped at 1 h: the OWASP "exponential lockout".
		{"defaults", Options{}, []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, time.Hour, time.Hour}},
		{"custom", Options{UserFailures: 3, UserWindow: time.Minute, LockoutBase: time.Minute, LockoutMax: 5 * time.Minute},
			[]time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _, clk := newLimiter(t, tc.o)
			for round, want := range tc.want {
				for i := range l.Options().UserFailures {
					if err := attempt(t, l, "alice", "", Failure); err != nil {
						t.Fatalf("round %d failure %d refused: %v", round+1, i+1, err)
					}
				}
				err := attempt(t, l, "alice", "", Failure)
				if got := retryAfter(t, err); got != want {
					t.Fatalf("round %d: Retry-After %v, want %v", round+1, got, want)
				}
				// Still locked one second before the end, free at the end: never permanent.
				clk.Advance(want - time.Second)
				if err := attempt(t, l, "alice", "", Neutral); retryAfter(t, err) != time.Second {
					t.Fatalf("round %d: 1 s before the end: %v", round+1, err)
				}
				clk.Advance(time.Second)
			}
			if got := l.Stats().Lockouts; got != int64(len(tc.want)) {
				t.Fatalf("Lockouts = %d, want %d", got, len(tc.want))
			}
			// Strikes are forgotten after StrikeWindow: the next lockout is the base again.
			clk.Advance(l.Options().StrikeWindow)
			for range l.Options().UserFailures {
				if err := attempt(t, l, "alice", "", Failure); err != nil {
					t.Fatal(err)
				}
			}
			if got := retryAfter(t, attempt(t, l, "alice", "", Failure)); got != tc.want[0] {
				t.Fatalf("after the strike window: Retry-After %v, want %v", got, tc.want[0])
			}
		})
	}
}

func TestOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		outcome Outcome
		n       int   // attempts with this outcome
		want    int64 // username and IP counters after them
	}{
		// SPEC section 6: temporarily_unavailable does not count.
		{"neutral does not count", Neutral, 50, 0},
		// The zero Outcome counts, so a forgotten outcome errs toward refusing.
		{"zero value is a failure", Outcome(0), 5, 5},
		{"unknown outcome is a failure", Outcome(9), 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, store, _ := newLimiter(t, Options{})
			for i := range tc.n {
				if err := attempt(t, l, "alice", "192.0.2.1", tc.outcome); err != nil {
					t.Fatalf("attempt %d refused: %v", i+1, err)
				}
			}
			k := l.opts.Load().keys("alice", "192.0.2.1")
			if u, ip := peek(t, store, k.user), peek(t, store, k.ip); u != tc.want || ip != tc.want {
				t.Fatalf("counters user=%d ip=%d, want %d", u, ip, tc.want)
			}
		})
	}
}

func TestSuccessResets(t *testing.T) {
	l, store, _ := newLimiter(t, Options{})
	k := l.opts.Load().keys("alice", "192.0.2.1")
	for range 9 {
		if err := attempt(t, l, "alice", "192.0.2.1", Failure); err != nil {
			t.Fatal(err)
		}
	}
	if err := attempt(t, l, "alice", "192.0.2.1", Success); err != nil {
		t.Fatal(err)
	}
	// The username starts over; the IP keeps its 9 failures but not the success, so an
	// office behind one NAT address does not use its budget up by logging in.
	if u, ip := peek(t, store, k.user), peek(t, store, k.ip); u != 0 || ip != 9 {
		t.Fatalf("after success: user=%d ip=%d, want 0 9", u, ip)
	}
	for i := range 10 {
		if err := attempt(t, l, "alice", "192.0.2.1", Failure); err != nil {
			t.Fatalf("failure %d after the success refused: %v", i+1, err)
		}
	}
	if err := attempt(t, l, "alice", "192.0.2.1", Failure); err == nil {
		t.Fatal("11th failure after the success allowed")
	}
}

func TestDoneOnce(t *testing.T) {
	l, store, _ := newLimiter(t, Options{})
	a, err := l.Begin(t.Context(), "alice", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	a.Done(t.Context(), Failure)
	a.Done(t.Context(), Neutral) // ignored: a second call must not give the failure back
	if n := peek(t, store, l.opts.Load().keys("alice", "").user); n != 1 {
		t.Fatalf("counter %d, want 1", n)
	}
	var nilAttempt *Attempt
	nilAttempt.Done(t.Context(), Failure)
}

func TestDisabled(t *testing.T) {
	var l *Limiter // ratelimit.enabled: false
	a, err := l.Begin(t.Context(), "alice", "192.0.2.1")
	if a != nil || err != nil {
		t.Fatalf("nil limiter: %v %v", a, err)
	}
	a.Done(t.Context(), Failure)
	if l.Stats() != (Stats{}) {
		t.Fatal("nil limiter has stats")
	}
}

// TestParallelBurst pins SPEC section 6: "a parallel burst never gets more attempts through
// than the limit" — the check-then-increment race.
func TestParallelBurst(t *testing.T) {
	for _, tc := range []struct {
		name string
		hold bool // finish the allowed attempts only after every Begin has run
	}{
		{"done as answered", false},
		{"all in flight together", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The refused 190 would wait for the held 10 to settle: keep that wait short.
			l, store, _ := newLimiter(t, Options{UserFailures: 10, IPFailures: 1000, SettleWait: 50 * time.Millisecond})
			var allowed atomic.Int64
			var held sync.Mutex
			var pending []*Attempt
			start := make(chan struct{})
			var wg sync.WaitGroup
			for range 200 {
				wg.Go(func() {
					<-start
					a, err := l.Begin(context.Background(), "alice", "192.0.2.1")
					if err != nil {
						return
					}
					allowed.Add(1)
					if tc.hold {
						held.Lock()
						pending = append(pending, a)
						held.Unlock()
						return
					}
					a.Done(context.Background(), Failure)
				})
			}
			close(start)
			wg.Wait()
			for _, a := range pending {
				a.Done(context.Background(), Failure)
			}
			if got := allowed.Load(); got != 10 {
				t.Fatalf("%d attempts allowed, want exactly 10", got)
			}
			k := l.opts.Load().keys("alice", "192.0.2.1")
			// One lockout, not one per simultaneous failure.
			if s, strikes := l.Stats(), peek(t, store, k.strikes); s.Lockouts != 1 || strikes != 1 || s.Rejected != 190 {
				t.Fatalf("stats %+v, strikes %d", s, strikes)
			}
			if n := peek(t, store, k.user); n != 10 {
				t.Fatalf("user counter %d, want 10", n)
			}
		})
	}
}

func TestIPBudget(t *testing.T) {
	l, store, _ := newLimiter(t, Options{})
	// Password spraying: one failure on each of many usernames from one address.
	for i := range 100 {
		if err := attempt(t, l, "user"+strconv.Itoa(i), "2001:db8::1", Failure); err != nil {
			t.Fatalf("failure %d refused: %v", i+1, err)
		}
	}
	for _, tc := range []struct {
		name, ip string
		limited  bool
	}{
		{"same address", "2001:db8::1", true},
		// One host holds a whole /64, so the budget is the prefix's.
		{"same /64", "2001:db8::ffff", true},
		{"other /64", "2001:db8:0:1::1", false},
		{"other IPv4", "192.0.2.7", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := attempt(t, l, "victim-"+tc.name, tc.ip, Neutral)
			if !tc.limited {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var le *LimitedError
			if !errors.As(err, &le) || le.Scope != ScopeIP || le.RetryAfter != 15*time.Minute {
				t.Fatalf("got %v, want a 15 min IP refusal", err)
			}
			// The refused attempt gave its username reservation back.
			if n := peek(t, store, l.opts.Load().keys("victim-"+tc.name, "").user); n != 0 {
				t.Fatalf("username counter %d after an IP refusal", n)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	l, store, _ := newLimiter(t, Options{Prefix: "sg:"})
	// The caller namespaces the username: the manager app's alice is another account.
	for range 10 {
		if err := attempt(t, l, UserSubject("manager", "alice"), "::ffff:192.0.2.1", Failure); err != nil {
			t.Fatal(err)
		}
	}
	if err := attempt(t, l, UserSubject("user", "alice"), "192.0.2.2", Failure); err != nil {
		t.Fatalf("user namespace shares the manager's budget: %v", err)
	}
	h := hashHex("manager:alice")
	for key, want := range map[string]int64{"sg:{u:" + h + "}c": 10, "sg:{ip:192.0.2.1}c": 10, "sg:{u:" + h + "}l": 1,
		"sg:{u:" + h + "}s": 1, "sg:{u:" + h + "}f": 0, "sg:{ip:192.0.2.1}f": 0} {
		if n := peek(t, store, key); n != want {
			t.Errorf("%s = %d, want %d", key, n, want)
		}
	}
	// SPEC section 6: a hash of the username, never the name; a "{…}" in a name must not
	// become the key's Redis Cluster hash tag (the first {…} of a key).
	for _, name := range []string{"{victim}1", "user:{x}", "a}{b", "alice"} {
		k := l.opts.Load().keys(name, "192.0.2.9")
		for _, key := range []string{k.user, k.userFlight, k.lock, k.strikes} {
			if strings.Contains(key, name) {
				t.Errorf("key %q carries the raw username %q", key, name)
			}
			tag := key[strings.IndexByte(key, '{')+1 : strings.IndexByte(key, '}')]
			if tag != "u:"+hashHex(name) {
				t.Errorf("key %q: hash tag %q, want the username's hash", key, tag)
			}
		}
	}
	// Begin runs before usernames are validated: a huge one must not make a huge key.
	huge := string(make([]byte, 64<<10))
	if k := l.opts.Load().keys(huge, ""); len(k.user) > 100 {
		t.Fatalf("key for a 64 KiB username is %d bytes", len(k.user))
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    time.Duration
		want int
	}{
		{"zero is one second", 0, 1},
		{"rounded up", 1500 * time.Millisecond, 2},
		{"whole", 15 * time.Minute, 900},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (&LimitedError{RetryAfter: tc.d}).RetryAfterSeconds(); got != tc.want {
				t.Fatalf("RetryAfterSeconds(%v) = %d, want %d", tc.d, got, tc.want)
			}
		})
	}
}
