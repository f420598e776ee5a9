package ratelimit

import (
	"context"
	"sync"
)

// Settlements of successes and neutral outcomes, off the latency path.
//
// A success resets the username's counter and gives its places back; a neutral outcome gives
// both back. Nothing the answer says depends on them, yet settled in Done they cost every login
// a second round trip to the shared store before its answer leaves. So Done queues them, and
// one settler per limiter sends whatever queued while its previous batch was on the wire as
// one batch: one round trip for many logins, and on the Redis store, where a batch's
// operations are grouped by hash tag, one script call for the address they share.
//
// What stays true:
//   - The burst bound is the reservation's (Begin), untouched: a settlement only gives back.
//   - Never fail open: until it is sent, a settlement's places stay counted and in flight, so
//     a late settlement can only make an attempt wait (at most SettleWait, as for any attempt
//     in flight) or count it, never let one through.
//   - What the store does not take is owed and paid later, exactly as in Done (owed.go).
//   - Close sends everything queued; a process that dies first loses what was queued, as it
//     loses the settlements of the attempts still in flight: their places stay counted until
//     their windows end.
//
// A failure is never queued: its lock must exist before its answer leaves.

const (
	// maxQueuedSettlements bounds the queue; beyond it Done settles at once (a store slower
	// than the logins arriving slows the logins instead of growing the queue).
	maxQueuedSettlements = 16384
	// maxSettleBatch bounds one batch: on Redis it is one script (four operations per
	// settlement), and a short script keeps the server answering everyone else meanwhile.
	maxSettleBatch = 128
)

// settling is one queued settlement.
type settling struct {
	a       *Attempt
	outcome Outcome
}

// settler holds the queued settlements of a limiter with a shared store. The zero value
// queues nothing (Done settles at once): a limiter counting alone has none running.
type settler struct {
	mu     sync.Mutex
	idle   sync.Cond // broadcast when the queue is empty and no batch is being sent
	q      []settling
	busy   bool // a batch is being sent
	closed bool
	kick   chan struct{} // one pending wake-up; nil: no settler running
	done   chan struct{} // closed when the settler has sent everything and stopped
}

// startSettler starts l's settler.
func (l *Limiter) startSettler() {
	st := &l.settler
	st.idle.L = &st.mu
	st.kick = make(chan struct{}, 1)
	st.done = make(chan struct{})
	go l.runSettler()
}

// queue hands a's settlement to the settler; false when it must be settled at once (no
// settler, closed, or the queue full).
func (st *settler) queue(a *Attempt, outcome Outcome) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.kick == nil || st.closed || len(st.q) >= maxQueuedSettlements {
		return false
	}
	st.q = append(st.q, settling{a, outcome})
	select {
	case st.kick <- struct{}{}:
	default: // a wake-up is pending already
	}
	return true
}

// runSettler sends batches while anything is queued, then sleeps until the next queue.
func (l *Limiter) runSettler() {
	st := &l.settler
	defer close(st.done)
	var batch []settling
	for range st.kick {
		for {
			st.mu.Lock()
			if len(st.q) == 0 {
				st.busy = false
				st.idle.Broadcast()
				st.mu.Unlock()
				break
			}
			n := min(len(st.q), maxSettleBatch)
			batch = append(batch[:0], st.q[:n]...)
			clear(st.q[:n]) // no attempt kept alive by the backing array
			st.q = st.q[n:]
			if len(st.q) == 0 {
				st.q = st.q[:0:0] // let a grown array go
			}
			st.busy = true
			st.mu.Unlock()
			l.settleBatch(batch)
			clear(batch)
		}
	}
}

// settleBatch settles queued attempts in one call to the shared store, then each as Done
// would have: storeOK, or storeFailed and what was not taken owed.
func (l *Limiter) settleBatch(batch []settling) {
	ctx := context.Background()
	o := l.opts.Load()
	s := l.shared(o)
	if s == nil { // resting after a failure: owed, nothing sent
		for _, it := range batch {
			l.settled(ctx, it.a, it.outcome, errStoreResting)
		}
		return
	}
	groups := make([][]Op, len(batch))
	owes := make([]*[]Op, len(batch))
	for i, it := range batch {
		groups[i], owes[i] = it.a.settleOps(it.outcome), &it.a.owe
	}
	// The batch is bounded by the figures in force; each operation carries its attempt's own
	// windows.
	sctx, cancel := context.WithTimeout(ctx, o.StoreTimeout)
	defer cancel()
	_, errs := l.giveEach(sctx, s, groups, owes)
	for i, it := range batch {
		l.settled(ctx, it.a, it.outcome, errs[i])
	}
}

// Flush waits until every settlement queued so far has been sent (or owed). Tests and
// operators' tools that read the counters right after a login call it; Close does.
func (l *Limiter) Flush() {
	if l == nil {
		return
	}
	st := &l.settler
	st.mu.Lock()
	defer st.mu.Unlock()
	for st.kick != nil && (len(st.q) > 0 || st.busy) {
		st.idle.Wait()
	}
}

// Close sends the queued settlements and stops the settler; later settlements are made in
// Done, at once. The gateway calls it after its server has drained and before it closes the
// store. Safe to call more than once.
func (l *Limiter) Close() {
	if l == nil {
		return
	}
	st := &l.settler
	st.mu.Lock()
	if st.kick == nil {
		st.mu.Unlock()
		return
	}
	if !st.closed {
		st.closed = true
		close(st.kick)
	}
	st.mu.Unlock()
	<-st.done
}
