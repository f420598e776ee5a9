package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gatedStore is a real Local whose batches can be held at a gate, like a store whose answer
// is still on the wire; it counts the batches and the operations in them.
type gatedStore struct {
	*Local
	mu      sync.Mutex
	gate    chan struct{} // nil: open
	batches atomic.Int64
	ops     atomic.Int64
	entered chan int // each held batch's size, as it reaches the gate
}

func (g *gatedStore) hold() {
	g.mu.Lock()
	g.gate = make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedStore) release() {
	g.mu.Lock()
	close(g.gate)
	g.gate = nil
	g.mu.Unlock()
}

func (g *gatedStore) Batch(ctx context.Context, ops []Op) []Result {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		g.entered <- len(ops)
		<-gate
	}
	g.batches.Add(1)
	g.ops.Add(int64(len(ops)))
	return g.Local.Batch(ctx, ops)
}

func newGated(t *testing.T) (*Limiter, *gatedStore) {
	t.Helper()
	g := &gatedStore{Local: NewLocal(0, time.Now), entered: make(chan int, 64)}
	l := New(g, Options{UserFailures: 5, IPFailures: 100})
	t.Cleanup(l.Close)
	return l, g
}

// doneWhileHeld settles a while g holds its batches: it must return without waiting for them.
func doneWhileHeld(t *testing.T, g *gatedStore, a *Attempt, outcome Outcome) {
	t.Helper()
	returned := make(chan struct{})
	go func() { a.Done(t.Context(), outcome); close(returned) }()
	select {
	case <-returned:
	case <-time.After(5 * time.Second): // generous: Done queues and returns
		g.release()
		t.Fatalf("Done(%v) waited for the store", outcome)
	}
}

func begin(t *testing.T, l *Limiter, user, ip string) *Attempt {
	t.Helper()
	a, err := l.Begin(t.Context(), user, ip)
	if err != nil {
		t.Fatalf("Begin(%s): %v", user, err)
	}
	return a
}

// wantSettled checks that nothing of the users' attempts is left counted or in flight.
func wantSettled(t *testing.T, l *Limiter, users []string, ip string) {
	t.Helper()
	for _, u := range users {
		st, err := l.UserState(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		if st.Failures != 0 || st.InFlight != 0 {
			t.Errorf("%s: %+v, want nothing counted or in flight", u, st)
		}
	}
	st, err := l.IPState(t.Context(), ip)
	if err != nil {
		t.Fatal(err)
	}
	if st.Failures != 0 || st.InFlight != 0 {
		t.Errorf("ip %s: %+v, want nothing counted or in flight", ip, st)
	}
}

// A success or neutral settlement does not wait for the store, and the settlements queued
// while one batch is on the wire go to the store together, as one batch.
func TestSettlementsLeaveTheLatencyPathTogether(t *testing.T) {
	l, g := newGated(t)
	const ip = "192.0.2.7"
	var users []string
	var attempts []*Attempt
	for i := range 11 {
		u := fmt.Sprintf("user%d", i)
		users = append(users, u)
		attempts = append(attempts, begin(t, l, u, ip))
	}
	g.hold()
	batches, ops := g.batches.Load(), g.ops.Load()
	doneWhileHeld(t, g, attempts[0], Success) // its batch waits at the gate
	select {
	case n := <-g.entered:
		if n != 4 {
			t.Fatalf("first batch: %d operations, want 4 (reset, IP give-back, two in-flight)", n)
		}
	case <-time.After(10 * time.Second): // hang detector
		t.Fatal("the first settlement never reached the store")
	}
	for i, a := range attempts[1:] {
		outcome := Success
		if i%2 == 1 {
			outcome = Neutral
		}
		doneWhileHeld(t, g, a, outcome)
	}
	g.release()
	l.Flush()
	if got := g.batches.Load() - batches; got != 2 {
		t.Errorf("%d batches for 11 settlements, 10 of them queued behind the first; want 2", got)
	}
	if got := g.ops.Load() - ops; got != 4*11 {
		t.Errorf("%d operations sent, want %d", got, 4*11)
	}
	wantSettled(t, l, users, ip)
}

// A failure is settled before Done returns (its lock must be in place before the answer),
// also while successes are queued.
func TestFailureSettlesAtOnce(t *testing.T) {
	l, _ := newGated(t)
	const ip = "192.0.2.8"
	for i := range 5 {
		a := begin(t, l, "mallory", ip)
		a.Done(t.Context(), Failure)
		st, err := l.UserState(t.Context(), "mallory")
		if err != nil {
			t.Fatal(err)
		}
		if st.Failures != int64(i+1) || st.InFlight != 0 {
			t.Fatalf("after failure %d, before any flush: %+v", i+1, st)
		}
	}
	st, _ := l.UserState(t.Context(), "mallory")
	if !st.Locked() {
		t.Fatalf("five failures did not lock at once: %+v", st)
	}
}

// Close sends what is queued; settlements after it are made in Done.
func TestCloseSendsQueuedSettlements(t *testing.T) {
	l, g := newGated(t)
	const ip = "192.0.2.9"
	users := []string{"a", "b", "c"}
	var attempts []*Attempt
	for _, u := range users {
		attempts = append(attempts, begin(t, l, u, ip))
	}
	g.hold()
	doneWhileHeld(t, g, attempts[0], Success)
	<-g.entered
	doneWhileHeld(t, g, attempts[1], Success)
	closed := make(chan struct{})
	go func() { l.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned with a batch still on the wire")
	case <-time.After(50 * time.Millisecond):
	}
	g.release()
	select {
	case <-closed:
	case <-time.After(10 * time.Second): // hang detector
		t.Fatal("Close never returned")
	}
	before := g.batches.Load()
	attempts[2].Done(t.Context(), Success) // after Close: settled here, at once
	if g.batches.Load() != before+1 {
		t.Error("a settlement after Close was not made in Done")
	}
	wantSettled(t, l, users, ip)
	l.Close() // again: nothing to do
}

// Queued settlements the store refuses are owed and paid once it is back, as Done's are.
func TestQueuedSettlementsOwedOnOutage(t *testing.T) {
	l, f, clk := newFaulty(t, Options{StoreTimeout: time.Second})
	const ip = "192.0.2.10"
	users := []string{"u1", "u2", "u3"}
	var attempts []*Attempt
	for _, u := range users {
		attempts = append(attempts, begin(t, l, u, ip))
	}
	f.fail.Store(true)
	for _, a := range attempts {
		a.Done(t.Context(), Success)
	}
	l.Flush()
	if n, _ := l.OwedSettlements(); n != 3 {
		t.Fatalf("owed settlements %d, want 3", n)
	}
	f.fail.Store(false)
	clk.Advance(time.Minute) // past StoreRetry
	begin(t, l, "later", "192.0.2.11").Done(t.Context(), Neutral)
	l.Flush()
	deadline := time.Now().Add(5 * time.Second) // hang detector
	for n, _ := l.OwedSettlements(); n != 0; n, _ = l.OwedSettlements() {
		if time.Now().After(deadline) {
			t.Fatalf("%d settlements still owed", n)
		}
		time.Sleep(time.Millisecond)
	}
	for _, u := range users {
		k := l.opts.Load().keys(u, ip)
		if fl := peek(t, f.Local, k.userFlight); fl != 0 {
			t.Errorf("%s still in flight in the shared store: %d", u, fl)
		}
	}
	if n := peek(t, f.Local, l.opts.Load().keys("", ip).ip); n != 0 {
		t.Errorf("IP counter %d after the owed give-backs were paid, want 0", n)
	}
}
