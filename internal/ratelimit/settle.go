package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/ssogate/ssogate/internal/deadline"
)

// Settling an attempt: Done and what it runs in the store.

// Done records the attempt's outcome; calls after the first, and calls on a nil Attempt, do
// nothing. Like Begin it ignores ctx's cancellation: a client hanging up after a wrong
// password must not erase the failure. If the store fails, a failure is counted in this
// instance at once, and what the store did not take (give-backs, in-flight counts, the lock
// check) is owed to it and paid when it answers again (owed.go). A settlement whose call
// timed out may have run, so it is not paid twice: its reservation stays counted.
//
// A success or a neutral outcome reserved in the shared store is settled in the background
// (settler.go): it only gives places back, so nothing waits for it, and the settlements of
// concurrent logins travel together. A failure is settled before Done returns: its lock must
// be in place before the answer leaves.
func (a *Attempt) Done(ctx context.Context, outcome Outcome) {
	if a == nil || !a.done.CompareAndSwap(false, true) {
		return
	}
	if outcome > Neutral {
		outcome = Failure // unknown outcomes count, like the zero value
	}
	l, o := a.l, a.o
	ctx = context.WithoutCancel(ctx)
	if a.store == Counters(l.local) { // began in fallback, or no shared store
		l.noteErr(l.finish(ctx, l.local, a, outcome))
		return
	}
	if outcome != Failure && l.settler.queue(a, outcome) {
		return
	}
	err := errStoreResting
	if l.shared(o) != nil {
		sctx, cancel := deadline.After(ctx, o.StoreTimeout)
		err = l.finish(sctx, a.store, a, outcome)
		cancel()
	}
	l.settled(ctx, a, outcome, err)
}

// settled is what follows a settlement the shared store answered with err (errStoreResting:
// not tried).
func (l *Limiter) settled(ctx context.Context, a *Attempt, outcome Outcome, err error) {
	o := a.o
	if err == nil {
		l.storeOK(o)
		return
	}
	if err == errStoreResting {
		a.owe = a.giveBacks(outcome) // nothing was sent
	} else {
		l.storeFailed(o, err)
	}
	// What the store did not take is paid when it answers again (owed.go): a reservation
	// left in flight would make later attempts wait for it, then be refused.
	if len(a.owe) > 0 || outcome == Failure {
		l.owe(a, outcome)
	}
	if outcome != Failure {
		return
	}
	l.fallbacks.Add(1)
	if a.k.user != "" {
		_, _ = l.local.Add(ctx, a.k.user, 1, o.UserWindow) // Local fails only on ttl ≤ 0
	}
	if a.k.ip != "" {
		_, _ = l.local.Add(ctx, a.k.ip, 1, o.IPWindow)
	}
	l.noteErr(l.lockIfFull(ctx, l.local, a, nil, nil))
}

// errStoreResting stands for the store being skipped after a recent failure.
var errStoreResting = errors.New("ratelimit: shared store resting after an error")

func (l *Limiter) finish(ctx context.Context, s Counters, a *Attempt, outcome Outcome) error {
	if outcome == Failure { // keep the reservation, leave the flight
		o, k := a.o, a.k
		return l.lockIfFull(ctx, s, a, []undoKey{{k.userFlight, o.UserWindow}, {k.ipFlight, o.IPWindow}}, &a.owe)
	}
	ops := a.settleOps(outcome)
	if len(ops) == 0 {
		return nil
	}
	_, err := l.give(ctx, s, ops, &a.owe)
	return err
}

// settleOps are what a success or a neutral outcome runs in the store: a success resets the
// username's counter and gives back its IP place, a neutral one gives both places back; both
// leave the flight. Counters first, in-flight counters after (see reserve).
func (a *Attempt) settleOps(outcome Outcome) []Op {
	o, k := a.o, a.k
	ops := make([]Op, 0, 4)
	if k.user != "" {
		if outcome == Success {
			// TTL is only for a lost delete, owed as a give-back (see give).
			ops = append(ops, Op{Kind: OpDelete, Key: k.user, TTL: o.UserWindow})
		} else {
			ops = append(ops, Op{Kind: OpAdd, Key: k.user, Delta: -1, TTL: o.UserWindow})
		}
	}
	for _, u := range [...]undoKey{{k.ip, o.IPWindow}, {k.userFlight, o.UserWindow}, {k.ipFlight, o.IPWindow}} {
		if u.key != "" {
			ops = append(ops, Op{Kind: OpAdd, Key: u.key, Delta: -1, TTL: u.ttl})
		}
	}
	return ops
}

// lockIfFull lowers the in-flight counters named (a failure settling), then locks the
// username when its recorded failures have reached the limit. Reading the counter before its
// in-flight count can only under-count the failures, so a lock never comes early; should it
// come late, the full counter refuses in the meantime.
//
// Only the caller whose Add creates the lock key counts a strike, so simultaneous failures
// start one lockout, not one each (which would jump straight to LockoutMax).
//
// Give-backs the store did not take are appended to owe (when not nil), see give.
func (l *Limiter) lockIfFull(ctx context.Context, s Counters, a *Attempt, flights []undoKey, owe *[]Op) error {
	o, k := a.o, a.k
	var ops []Op
	for _, f := range flights {
		if f.key != "" {
			ops = append(ops, Op{Kind: OpAdd, Key: f.key, Delta: -1, TTL: f.ttl})
		}
	}
	if k.user != "" {
		ops = append(ops, Op{Kind: OpPeek, Key: k.user}, Op{Kind: OpPeek, Key: k.userFlight}, Op{Kind: OpPeek, Key: k.strikes})
	}
	if len(ops) == 0 {
		return nil
	}
	res, err := l.give(ctx, s, ops, owe)
	if err != nil || k.user == "" {
		return err
	}
	n := len(res)
	counter, inFlight, strikes := res[n-3].Value, max(res[n-2].Value, 0), res[n-1].Value
	if counter-inFlight < int64(o.UserFailures) {
		return nil
	}
	d := o.lockoutFor(strikes + 1)
	created, err := s.Add(ctx, k.lock, 1, d)
	if err != nil || created != 1 {
		return err
	}
	if _, err := s.Add(ctx, k.strikes, 1, o.StrikeWindow); err != nil {
		return err
	}
	l.lockouts.Add(1)
	// Usernames may be logged; passwords never reach this package.
	o.Logger.LogAttrs(ctx, slog.LevelWarn, "ratelimit: username locked out",
		slog.String("username", a.username), slog.Int64("lockout", strikes+1), slog.Duration("duration", d))
	return nil
}

// lockoutFor is the length of the n-th lockout within StrikeWindow: LockoutBase·2^(n-1),
// capped at LockoutMax (OWASP: grow the delay instead of locking for good).
func (o *Options) lockoutFor(n int64) time.Duration {
	d := o.LockoutBase
	for i := int64(1); i < n && d < o.LockoutMax; i++ {
		if d > o.LockoutMax/2 {
			return o.LockoutMax
		}
		d *= 2
	}
	return min(d, o.LockoutMax)
}

// undoKey is a reservation to give back: a counter and its window.
type undoKey struct {
	key string
	ttl time.Duration
}

// undo gives reservations back, in the order given; see give.
func (l *Limiter) undo(ctx context.Context, s Counters, owe *[]Op, keys ...undoKey) error {
	ops := make([]Op, 0, len(keys))
	for _, k := range keys {
		if k.key != "" {
			ops = append(ops, Op{Kind: OpAdd, Key: k.key, Delta: -1, TTL: k.ttl})
		}
	}
	if len(ops) == 0 {
		return nil
	}
	_, err := l.give(ctx, s, ops, owe)
	return err
}

// give runs ops, whose additions give reservations back. If a counter expired or was reset
// meanwhile, Add(-1) recreates it at -1, which would hand out a free attempt; the caller that
// drove it below zero puts its own unit back, so the counter settles at 0.
//
// A give-back the store did not run is appended to owe (when not nil), to be paid later
// (owed.go); a lost delete is owed as a give-back of one, and one that timed out is not owed
// at all, since it may have run (see mayBeOwed).
func (l *Limiter) give(ctx context.Context, s Counters, ops []Op, owe *[]Op) ([]Result, error) {
	res, errs := l.giveEach(ctx, s, [][]Op{ops}, []*[]Op{owe})
	return res, errs[0]
}

// giveEach is give for the give-backs of several settlements sent as one batch (the
// settler's): groups[i] owes to owes[i] and gets errs[i], as if given alone.
func (l *Limiter) giveEach(ctx context.Context, s Counters, groups [][]Op, owes []*[]Op) ([]Result, []error) {
	ops := groups[0]
	if len(groups) > 1 {
		ops = slices.Concat(groups...)
	}
	res := l.run(ctx, s, ops)
	errs := make([]error, len(groups))
	var fix []Op
	var fixOf []int // fixOf[j]: the group fix[j] puts right
	start := 0
	for g, group := range groups {
		end := start + len(group)
		f, err := gave(ops[start:end], res[start:end], owes[g])
		errs[g], fix = err, append(fix, f...)
		for range f {
			fixOf = append(fixOf, g)
		}
		start = end
	}
	if len(fix) > 0 {
		for j, r := range l.run(ctx, s, fix) {
			errs[fixOf[j]] = errors.Join(errs[fixOf[j]], r.Err)
		}
	}
	return res, errs
}

// gave reads the results of give-backs: the additions that put a negative counter right, the
// error, and (appended to owe) what the store did not run.
func gave(ops []Op, res []Result, owe *[]Op) (fix []Op, err error) {
	for i, r := range res {
		op := ops[i]
		err = errors.Join(err, r.Err)
		switch {
		case r.Err == nil && op.Kind == OpAdd && r.Value < 0:
			fix = append(fix, Op{Kind: OpAdd, Key: op.Key, Delta: 1, TTL: op.TTL})
		case r.Err != nil && owe != nil && mayBeOwed(r.Err) && op.Kind == OpAdd && op.Delta < 0:
			*owe = append(*owe, op)
		case r.Err != nil && owe != nil && mayBeOwed(r.Err) && op.Kind == OpDelete && op.TTL > 0:
			*owe = append(*owe, Op{Kind: OpAdd, Key: op.Key, Delta: -1, TTL: op.TTL})
		}
	}
	return fix, err
}
