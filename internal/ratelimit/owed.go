package ratelimit

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Settlements owed to the shared store.
//
// An attempt reserved in the shared store raises its counters and their in-flight counters
// there. If the store is down when the attempt settles, that settlement is lost unless it is
// kept: the reservation would stay in the counter AND in flight until the window ends (15 min
// by default). Every later attempt over the limit would then wait SettleWait for attempts
// that never settle, and be refused — after a store outage or failover, every user behind one
// address (the per-IP budget) could be refused although nobody typed a wrong password. So a
// settlement the store did not take is owed to it, and paid as soon as the store answers
// again (SPEC section 6: temporarily_unavailable counts as no failure; a login refused only
// because others are in flight waits for them, which needs them to settle).

// maxOwed bounds the settlements kept per instance (a long outage under heavy load). Beyond
// it the oldest are dropped: their reservations stay counted until their window ends, which
// errs toward refusing, never toward failing open.
const maxOwed = 16384

// owedSettlement is what an attempt's settlement left undone in the shared store: give-backs
// (Add -1) and, for a failure, the lock check.
type owedSettlement struct {
	a       *Attempt
	ops     []Op
	failure bool
}

// owedQueue holds the settlements in the order they were owed.
type owedQueue struct {
	mu      sync.Mutex
	q       []owedSettlement
	n       atomic.Int64 // len(q), read without the lock on the hot path
	paying  atomic.Bool  // one payer at a time
	dropped atomic.Int64
}

// owe keeps what a's settlement left undone (a.owe, and the lock check of a failure).
func (l *Limiter) owe(a *Attempt, outcome Outcome) {
	w := &l.owed
	w.mu.Lock()
	if len(w.q) >= maxOwed {
		w.q = w.q[1:]
		w.dropped.Add(1)
	}
	w.q = append(w.q, owedSettlement{a, a.owe, outcome == Failure})
	w.n.Store(int64(len(w.q)))
	w.mu.Unlock()
}

// mayBeOwed reports whether a failed settlement may be replayed without being applied twice:
// a store that was skipped (resting) or refused the connection never ran it. A call that
// timed out may have run on the server with its answer lost; paying it again would give back
// someone else's reservation, so it is left counted (the conservative side).
func mayBeOwed(err error) bool {
	if err == errStoreResting {
		return true
	}
	var ne net.Error
	return !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout())
}

// payOwed settles what is owed, in order, in the background; it runs whenever a shared-store
// call succeeded (storeOK). A failure stops it, keeping the rest for the next success.
func (l *Limiter) payOwed() {
	w := &l.owed
	if w.n.Load() == 0 || !w.paying.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer w.paying.Store(false)
		for {
			w.mu.Lock()
			if len(w.q) == 0 {
				w.mu.Unlock()
				return
			}
			s := w.q[0]
			w.q = w.q[1:]
			w.mu.Unlock()
			o := s.a.o
			ctx, cancel := context.WithTimeout(context.Background(), o.StoreTimeout)
			err := l.settleOwed(ctx, &s)
			cancel()
			w.mu.Lock()
			if err != nil && len(w.q) < maxOwed {
				w.q = append([]owedSettlement{s}, w.q...) // still owed, still first
			}
			w.n.Store(int64(len(w.q)))
			w.mu.Unlock()
			if err != nil {
				// Counted, but not storeFailed: one node of a Cluster still failing over must
				// not send every login to the per-instance counters.
				l.storeErrors.Add(1)
				return
			}
		}
	}()
}

// settleOwed pays one settlement, in its store. A success was owed as give-backs only (see
// giveBacks): failures recorded after it, while the store was away, must not be erased by a
// late reset. A failure lowers its in-flight counters (its reservation stays: a recorded
// failure, also counted in this instance when it happened) and locks if that fills the
// counter. What fails again stays owed.
func (l *Limiter) settleOwed(ctx context.Context, s *owedSettlement) error {
	var rest []Op
	_, err := l.give(ctx, s.a.store, s.ops, &rest)
	s.ops = rest
	if err == nil && s.failure {
		err = l.lockIfFull(ctx, s.a.store, s.a, nil, nil)
	}
	return err
}

// giveBacks are the give-backs of a settlement by outcome, as owed when the store was not
// even tried: a success gives its places back like a neutral outcome (no reset, see
// settleOwed), a failure lowers only its in-flight counters.
func (a *Attempt) giveBacks(outcome Outcome) []Op {
	o, k := a.o, a.k
	var ops []Op
	add := func(key string, ttl time.Duration) {
		if key != "" {
			ops = append(ops, Op{Kind: OpAdd, Key: key, Delta: -1, TTL: ttl})
		}
	}
	if outcome != Failure {
		add(k.user, o.UserWindow)
		add(k.ip, o.IPWindow)
	}
	add(k.userFlight, o.UserWindow)
	add(k.ipFlight, o.IPWindow)
	return ops
}

// OwedSettlements is how many settlements this instance still owes the shared store, and how
// many it dropped (beyond maxOwed) since New.
func (l *Limiter) OwedSettlements() (pending, dropped int64) {
	if l == nil {
		return 0, 0
	}
	return l.owed.n.Load(), l.owed.dropped.Load()
}
