package ratelimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/ratelimit"
	"github.com/ssogate/ssogate/internal/store/redisstore"
)

// errCut is what a client sees from a server that went away (a failover's dead master).
var errCut = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

// cutStore is the real Redis store with its link cut on command: every call fails at once,
// like a master that died, and the data stays as Redis holds it (the replica's copy).
type cutStore struct {
	*redisstore.Store
	cut atomic.Bool
}

func (c *cutStore) Add(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	if c.cut.Load() {
		return 0, errCut
	}
	return c.Store.Add(ctx, key, delta, ttl)
}

func (c *cutStore) Peek(ctx context.Context, key string) (int64, time.Duration, error) {
	if c.cut.Load() {
		return 0, 0, errCut
	}
	return c.Store.Peek(ctx, key)
}

func (c *cutStore) Delete(ctx context.Context, key string) error {
	if c.cut.Load() {
		return errCut
	}
	return c.Store.Delete(ctx, key)
}

func (c *cutStore) Batch(ctx context.Context, ops []ratelimit.Op) []ratelimit.Result {
	if c.cut.Load() {
		out := make([]ratelimit.Result, len(ops))
		for i := range out {
			out[i].Err = errCut
		}
		return out
	}
	return c.Store.Batch(ctx, ops)
}

func openRedis(t *testing.T) *redisstore.Store {
	t.Helper()
	addr := os.Getenv("SSOGATE_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := redisstore.Open(ctx, redisstore.Options{Addrs: []string{addr}, Prefix: "ssogatetest:" + hex.EncodeToString(b) + ":"})
	if err != nil {
		t.Fatalf("open the test Redis at %s: %v", addr, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestStoreOutageBetweenReservationAndSettlement pins SPEC section 6 across a store outage (a
// Redis failover): logins reserved in the shared store whose settlement could not reach it
// (the master died while the SSO answered) must not stay "in flight" there. Before the fix
// they did, for the whole window: every later login from the same address (the per-IP
// budget; the failover tests' users all share 127.0.0.1) waited SettleWait for attempts that
// never settle and was refused — a lockout of users who never typed a wrong password. A wrong
// password settled during the outage still counts once the store is back (never fail open).
func TestStoreOutageBetweenReservationAndSettlement(t *testing.T) {
	store := &cutStore{Store: openRedis(t)}
	const ip = "127.0.0.1"
	l := ratelimit.New(store, ratelimit.Options{
		UserFailures: 3, IPFailures: 4, SettleWait: 500 * time.Millisecond,
		StoreTimeout: 2 * time.Second, StoreRetry: 50 * time.Millisecond,
	})
	t.Cleanup(l.Close)
	users := []string{"user:a", "user:b", "user:c", "user:d"}
	outcomes := []ratelimit.Outcome{ratelimit.Success, ratelimit.Neutral, ratelimit.Success, ratelimit.Failure}

	// The logins begin with the store up; it goes away before they are answered.
	var attempts []*ratelimit.Attempt
	for _, u := range users {
		a, err := l.Begin(t.Context(), u, ip)
		if err != nil {
			t.Fatalf("Begin(%s) with the store up: %v", u, err)
		}
		attempts = append(attempts, a)
	}
	store.cut.Store(true)
	for i, a := range attempts {
		a.Done(t.Context(), outcomes[i])
	}
	l.Flush() // the settlements queued in the background meet the outage too
	store.cut.Store(false)
	time.Sleep(100 * time.Millisecond) // past StoreRetry: the shared store is tried again

	// Every user logs in again from the same address; none may be refused or kept waiting
	// for the settlements lost in the outage.
	for _, u := range users[:3] {
		began := time.Now()
		a, err := l.Begin(t.Context(), u, ip)
		if err != nil {
			t.Fatalf("Begin(%s) after the outage: %v (waited %v): attempts settled during the outage are still in flight",
				u, err, time.Since(began).Round(time.Millisecond))
		}
		a.Done(t.Context(), ratelimit.Success)
	}
	l.Flush()
	waitOwedPaid(t, l)

	// Nothing is left in flight, and only the one wrong password is recorded.
	st, err := l.IPState(t.Context(), ip)
	if err != nil {
		t.Fatal(err)
	}
	if st.InFlight != 0 || st.Failures != 1 || st.Locked() {
		t.Errorf("IP state after the outage: %+v, want 0 in flight, 1 failure, not locked", st)
	}
	for i, u := range users {
		st, err := l.UserState(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		want := int64(0)
		if outcomes[i] == ratelimit.Failure {
			want = 1 // the wrong password typed during the outage still counts
		}
		if st.InFlight != 0 || st.Failures != want || st.Locked() {
			t.Errorf("%s after the outage: %+v, want 0 in flight, %d failures, not locked", u, st, want)
		}
	}
}

func waitOwedPaid(t *testing.T, l *ratelimit.Limiter) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second) // hang detector only
	for {
		pending, dropped := l.OwedSettlements()
		if pending == 0 {
			if dropped != 0 {
				t.Fatalf("%d owed settlements dropped", dropped)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d settlements still owed to the store after 5 s", pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
