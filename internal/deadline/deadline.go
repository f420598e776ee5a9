// Package deadline bounds store calls and connections' I/O on the hot path without a timer per
// call: After for contexts, Watch (conn.go) for connections' deadlines.
//
// context.WithTimeout arms a runtime timer and allocates a context for every call, and stops
// the timer again when the call returns; a login on the Redis store bounds three to six calls
// that way (the limiter's reservation and settlement, the refresh-token record, each store
// operation inside them), ~5 % of its CPU in the profile (docs/benchmarks.md). After returns a
// context shared by every call that starts within the same short interval: the calls with
// the same timeout that start in one slot (1/64 of the timeout, at least 1 ms) share one
// context and one timer, and end together, at the slot's start plus the timeout. So a call is
// bounded by at most its timeout and at least one slot less: 1 s becomes 984 ms to 1 s. (Never
// more: a bound the caller reads as longer than its own timeout makes rueidis wrap it in a
// timer of its own, and its handshake then takes a slower path on a stalled server.)
package deadline

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// After returns a context that ends DeadlineExceeded between d minus a slot and d from now,
// carrying parent's values. parent must not be cancellable for the shared path (the usual
// case: context.Background, context.WithoutCancel, or a context of values over them); a
// cancellable parent gets context.WithTimeout, so its cancellation still counts. The
// CancelFunc releases nothing on the shared path (the slot's timer ends it) and must still be
// called, as context.WithTimeout's.
func After(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithTimeout(parent, d)
	}
	now := time.Now()
	if s := slotOf(parent); s != nil && !s.deadline.After(now.Add(d)) {
		return parent, noop // the outer bound is already at most this one
	}
	if parent.Done() != nil {
		return context.WithTimeout(parent, d)
	}
	s := slots(d).current(now)
	if parent == context.Background() {
		return s, noop
	}
	return &valued{Context: parent, slot: s}, noop
}

func noop() {}

// slotOf is ctx's slot when ctx is one of ours, else nil.
func slotOf(ctx context.Context) *slot {
	switch c := ctx.(type) {
	case *slot:
		return c
	case *valued:
		return c.slot
	}
	return nil
}

func slotLength(d time.Duration) time.Duration { return max(d/64, time.Millisecond) }

// timeline hands out the slots of one timeout.
type timeline struct {
	d, length time.Duration
	cur       atomic.Pointer[slot]
	mu        sync.Mutex // held while a new slot is made
}

var timelines sync.Map // time.Duration -> *timeline

func slots(d time.Duration) *timeline {
	if t, ok := timelines.Load(d); ok {
		return t.(*timeline)
	}
	t, _ := timelines.LoadOrStore(d, &timeline{d: d, length: slotLength(d)})
	return t.(*timeline)
}

// current returns the slot for a call starting at now: its deadline is within
// [now+d-length, now+d].
func (t *timeline) current(now time.Time) *slot {
	latest := now.Add(t.d)
	fits := func(s *slot) bool {
		return s != nil && !s.deadline.After(latest) && s.deadline.After(latest.Add(-t.length))
	}
	if s := t.cur.Load(); fits(s) {
		return s
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.cur.Load(); fits(s) {
		return s
	}
	s := &slot{deadline: latest, done: make(chan struct{})}
	time.AfterFunc(s.deadline.Sub(now), s.end)
	t.cur.Store(s)
	return s
}

// slot is the context shared by the calls of one interval.
type slot struct {
	deadline time.Time
	done     chan struct{}
	ended    atomic.Bool

	mu    sync.Mutex
	after map[*func()]struct{} // AfterFunc callbacks not yet run
}

func (s *slot) Deadline() (time.Time, bool) { return s.deadline, true }
func (s *slot) Done() <-chan struct{}       { return s.done }
func (s *slot) Value(any) any               { return nil }

// Err is DeadlineExceeded from the deadline on, even if the slot's timer has not run yet: a
// caller whose socket deadline (the same instant) fired first must not read the context as
// live and retry (rueidis retries a read-only command on a network error unless ctx.Err()).
func (s *slot) Err() error {
	if s.ended.Load() {
		return context.DeadlineExceeded
	}
	if !time.Now().Before(s.deadline) {
		s.end() // Done is closed before Err says so
		return context.DeadlineExceeded
	}
	return nil
}

func (s *slot) String() string { return "deadline.After(" + s.deadline.String() + ")" }

func (s *slot) end() {
	s.mu.Lock()
	if s.ended.Load() {
		s.mu.Unlock()
		return
	}
	after := s.after
	s.after = nil
	close(s.done)
	s.ended.Store(true)
	s.mu.Unlock()
	for f := range after {
		go (*f)()
	}
}

// AfterFunc lets context.WithCancel and friends, given a slot as parent, register a callback
// instead of starting a goroutine per derived context (context's afterFuncer).
func (s *slot) AfterFunc(f func()) (stop func() bool) {
	s.mu.Lock()
	if s.ended.Load() {
		s.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	if s.after == nil {
		s.after = make(map[*func()]struct{})
	}
	key := &f
	s.after[key] = struct{}{}
	s.mu.Unlock()
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, waiting := s.after[key]
		delete(s.after, key)
		return waiting
	}
}

// valued is a slot with the values of a parent (a span, for tracing).
type valued struct {
	context.Context // the parent: its values
	slot            *slot
}

func (v *valued) Deadline() (time.Time, bool)           { return v.slot.Deadline() }
func (v *valued) Done() <-chan struct{}                 { return v.slot.Done() }
func (v *valued) Err() error                            { return v.slot.Err() }
func (v *valued) AfterFunc(f func()) (stop func() bool) { return v.slot.AfterFunc(f) }
