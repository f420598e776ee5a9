package ratelimit

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"
)

// burst begins n attempts at once (users[i] from ips[i]), holds each for hold, finishes it
// with outcome and returns Begin's errors.
func burst(l *Limiter, users, ips []string, hold time.Duration, outcome Outcome) []error {
	errs := make([]error, len(users))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() {
			<-start
			a, err := l.Begin(context.Background(), users[i], ips[i])
			errs[i] = err
			if err == nil {
				time.Sleep(hold) // the SSO hashing the password
				a.Done(context.Background(), outcome)
			}
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestInFlightIsNotALockout pins SPEC section 6 (issue 8 item 4): attempts still in flight
// may fill the budget, but an attempt refused only because of them waits for them to settle
// instead of getting a false lockout with a 15-minute Retry-After.
func TestInFlightIsNotALockout(t *testing.T) {
	t.Run("eight correct logins after four failures", func(t *testing.T) {
		l, _, _ := newLimiter(t, Options{})
		for range 4 {
			if err := attempt(t, l, "alice", "192.0.2.1", Failure); err != nil {
				t.Fatal(err)
			}
		}
		for i, err := range burst(l, repeat("alice", 8), repeat("192.0.2.1", 8), 50*time.Millisecond, Success) {
			if err != nil {
				t.Errorf("login %d refused: %v", i+1, err)
			}
		}
		if s := l.Stats(); s.Rejected != 0 || s.Lockouts != 0 || s.Waits == 0 {
			t.Fatalf("stats %+v: want no refusal, no lockout, some waits", s)
		}
	})
	t.Run("many users behind one NAT address", func(t *testing.T) {
		l, _, _ := newLimiter(t, Options{IPFailures: 5})
		for i := range 3 {
			if err := attempt(t, l, "typo"+strconv.Itoa(i), "198.51.100.7", Failure); err != nil {
				t.Fatal(err)
			}
		}
		users := make([]string, 8)
		for i := range users {
			users[i] = "user" + strconv.Itoa(i)
		}
		for i, err := range burst(l, users, repeat("198.51.100.7", 8), 50*time.Millisecond, Success) {
			if err != nil {
				t.Errorf("login %d refused: %v", i+1, err)
			}
		}
		if s := l.Stats(); s.Rejected != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("wrong passwords in flight still lock exactly at the limit", func(t *testing.T) {
		// Waiting must not undo atomicity: 8 wrong passwords at once after 4 failures get
		// 6 through (10 in all), and the others are refused by the lock they set, with its
		// real length.
		l, _, _ := newLimiter(t, Options{})
		for range 4 {
			if err := attempt(t, l, "alice", "192.0.2.1", Failure); err != nil {
				t.Fatal(err)
			}
		}
		refused := 0
		for _, err := range burst(l, repeat("alice", 8), repeat("192.0.2.1", 8), 20*time.Millisecond, Failure) {
			if err != nil {
				refused++
				if got := retryAfter(t, err); got != 15*time.Minute {
					t.Errorf("Retry-After %v, want the 15 min lock", got)
				}
			}
		}
		if refused != 2 || l.Stats().Lockouts != 1 {
			t.Fatalf("%d refused, stats %+v; want 2 refused and one lockout", refused, l.Stats())
		}
	})
	t.Run("a failure among attempts in flight does not lock early", func(t *testing.T) {
		// The counter holds 4 failures + 8 in flight; a 5th failure settling is not the 10th.
		l, _, _ := newLimiter(t, Options{SettleWait: time.Millisecond})
		for range 4 {
			attempt(t, l, "alice", "", Failure)
		}
		var held []*Attempt
		for range 6 {
			a, err := l.Begin(t.Context(), "alice", "")
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, a)
		}
		held[0].Done(t.Context(), Failure)
		if s := l.Stats(); s.Lockouts != 0 {
			t.Fatalf("locked with 5 recorded failures: %+v", s)
		}
		for _, a := range held[1:] {
			a.Done(t.Context(), Success)
		}
		if err := attempt(t, l, "alice", "", Success); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wait is bounded and says 1 s", func(t *testing.T) {
		l, _, _ := newLimiter(t, Options{UserFailures: 2, SettleWait: 30 * time.Millisecond})
		a1, _ := l.Begin(t.Context(), "alice", "")
		a2, _ := l.Begin(t.Context(), "alice", "")
		began := time.Now()
		_, err := l.Begin(t.Context(), "alice", "")
		if el := time.Since(began); el < 30*time.Millisecond || el > 5*time.Second {
			t.Errorf("waited %v, want about SettleWait", el)
		}
		var le *LimitedError
		if !errors.As(err, &le) || le.RetryAfter != time.Second {
			t.Fatalf("got %v, want a refusal with Retry-After 1 s (no lock exists)", err)
		}
		a1.Done(t.Context(), Success)
		a2.Done(t.Context(), Success)
	})
}

// TestSetOptions pins the reload hook: new figures apply to the next attempt, also while
// attempts run concurrently (go test -race).
func TestSetOptions(t *testing.T) {
	l, _, _ := newLimiter(t, Options{UserFailures: 3, Prefix: "p:"})
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() { attempt(t, l, "bob"+strconv.Itoa(i), "", Success) })
	}
	l.SetOptions(Options{UserFailures: 5, Prefix: "ignored:"})
	wg.Wait()
	if o := l.Options(); o.UserFailures != 5 || o.Prefix != "p:" || o.UserWindow != DefaultUserWindow {
		t.Fatalf("options after SetOptions: %+v", o)
	}
	for i := range 5 {
		if err := attempt(t, l, "alice", "", Failure); err != nil {
			t.Fatalf("failure %d refused under the new limit 5: %v", i+1, err)
		}
	}
	if err := attempt(t, l, "alice", "", Failure); err == nil {
		t.Fatal("6th failure allowed")
	}
}
