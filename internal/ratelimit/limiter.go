package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ssogate/ssogate/internal/deadline"
)

// ErrLimited is matched (errors.Is) by every [*LimitedError].
var ErrLimited = errors.New("ratelimit: too many failed attempts")

// Scopes of a [LimitedError]: which budget ran out.
const (
	ScopeUser = "username"
	ScopeIP   = "ip"
)

// LimitedError is Begin's refusal: the gateway answers 1002 too_many_requests with a
// Retry-After header (SPEC section 2 step 4) without calling the directory or the SSO.
type LimitedError struct {
	Scope      string        // ScopeUser or ScopeIP
	RetryAfter time.Duration // whole seconds, at least 1 s
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("%v: %s budget exhausted, retry after %s", ErrLimited, e.Scope, e.RetryAfter)
}

func (e *LimitedError) Unwrap() error { return ErrLimited }

// RetryAfterSeconds is the value of the Retry-After header (RFC 9110 section 10.2.3): whole
// seconds rounded up, at least 1, since 0 would invite an immediate retry.
func (e *LimitedError) RetryAfterSeconds() int {
	return max(int((e.RetryAfter+time.Second-1)/time.Second), 1)
}

// Outcome is what became of an attempt, as told to [Attempt.Done].
type Outcome uint8

const (
	// Failure counts: a wrong password reported by the SSO, an unknown user (1004), a wrong
	// invite code (1001) — they are how passwords are guessed and directories enumerated
	// (SPEC section 6). It is the zero value so that a forgotten outcome counts.
	Failure Outcome = iota
	// Success resets the username's counter and gives back the IP reservation: an office
	// behind one NAT address must not exhaust its IP budget by logging in.
	Success
	// Neutral gives back both reservations: temporarily_unavailable says nothing about the
	// password, and counting it would lock users out during an SSO outage.
	Neutral
)

func (o Outcome) String() string {
	switch o {
	case Failure:
		return "failure"
	case Success:
		return "success"
	case Neutral:
		return "neutral"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Stats are counts since New, for metrics.
type Stats struct {
	Rejected    int64 // Begin refusals (too_many_requests answers)
	Lockouts    int64 // lockouts started by this instance
	Fallbacks   int64 // Begin and Done calls served by the per-instance counters
	StoreErrors int64 // shared-store calls that failed or timed out
	Waits       int64 // attempts that waited for others in flight to settle
}

// Limiter is the brute-force limiter of the token endpoint. A nil *Limiter is a disabled one
// (ratelimit.enabled: false): Begin allows everything.
//
// Every attempt RESERVES its place before the directory or the SSO is consulted: Begin adds 1
// to the username's and the IP's counters and refuses (giving the places back) when either
// new value passes its limit. Because the store's Add is atomic, N parallel requests get
// exactly limit places between them; checking the count first and incrementing after the
// answer — the race other identity servers have had — lets a burst through whole. Done then
// keeps the reservation (a failure) or gives it back (success, neutral).
//
// Beside each counter an in-flight counter says how many of its reservations are attempts
// not yet answered. A counter over its limit whose recorded failures (counter minus in-flight)
// are still under it refuses nobody: the attempt gives its place back and waits, up to
// SettleWait, for the others to settle (SPEC section 6: eight correct logins at once by a user
// with four recent failures all succeed), then tries again. Only recorded failures refuse and
// lock, and a refusal states the real time left (the lock's, or the full window's).
//
// A failure that brings the recorded failures to the limit locks the username; the n-th
// lockout within StrikeWindow lasts LockoutBase·2^(n-1), capped at LockoutMax, and while the
// lock or a counter full of failures exists Begin refuses. The lock sits on top of the counter
// (which is not reset), so the window alone already bounds failures; see
// [Options.FailureBoundPerHour].
//
// Keys carry a hash of the username, never the name itself (see keys.go); a store puts them
// in a namespace of its own (the Redis store: {prefix}rl:). The caller passes the username
// canonical and namespaced ([UserSubject]), so each namespace has its own budget.
type Limiter struct {
	store Counters // shared by every instance
	local *Local   // this instance's fallback
	alone bool     // no shared store: local is the store
	opts  atomic.Pointer[Options]

	downUntil atomic.Int64 // UnixNano before which the store is not tried
	degraded  atomic.Bool  // for logging the transitions only
	waiting   atomic.Int64 // attempts waiting for others to settle
	owed      owedQueue    // settlements the shared store did not take (owed.go)
	settler   settler      // successes and neutral outcomes settled in the background (settler.go)

	rejected, lockouts, fallbacks, storeErrors, waits atomic.Int64
}

// New returns a limiter counting in store. A nil store means this instance counts alone
// (the embedded store: one gateway process). With a store, call Close when done with it: it
// sends the settlements still queued (settler.go).
func New(store Counters, opts Options) *Limiter {
	o := opts.withDefaults()
	l := &Limiter{local: NewLocal(o.LocalMaxKeys, o.Now)}
	l.opts.Store(&o)
	l.store, l.alone = store, store == nil
	if l.alone {
		l.store = l.local
	} else {
		l.startSettler()
	}
	return l
}

// SetOptions applies new figures (limits, windows, lockouts, timeouts) at run time, e.g. on a
// configuration reload; attempts already begun settle under the figures they began with.
// Prefix, LocalMaxKeys, Logger and Now stay as New set them when o leaves them zero: the keys
// and the fallback's size must not move under running attempts. Safe for concurrent use.
func (l *Limiter) SetOptions(o Options) {
	if l == nil {
		return
	}
	cur := l.opts.Load()
	o.Prefix = cur.Prefix
	o.LocalMaxKeys = cur.LocalMaxKeys
	if o.Logger == nil {
		o.Logger = cur.Logger
	}
	if o.Now == nil {
		o.Now = cur.Now
	}
	o = o.withDefaults()
	l.opts.Store(&o)
}

// Options returns the figures in force (defaults filled in).
func (l *Limiter) Options() Options {
	if l == nil {
		return Options{}
	}
	return *l.opts.Load()
}

// Stats returns the counts since New.
func (l *Limiter) Stats() Stats {
	if l == nil {
		return Stats{}
	}
	return Stats{
		Rejected:    l.rejected.Load(),
		Lockouts:    l.lockouts.Load(),
		Fallbacks:   l.fallbacks.Load(),
		StoreErrors: l.storeErrors.Load(),
		Waits:       l.waits.Load(),
	}
}

// Attempt is one reserved login attempt; call Done exactly once with its outcome. An attempt
// never finished keeps its reservation, i.e. counts as a failure until the window ends (and
// as in flight until its in-flight counter's window ends).
type Attempt struct {
	l        *Limiter
	o        *Options // the figures it began with
	username string
	k        keys
	store    Counters // where the reservation was made
	done     atomic.Bool
	owe      []Op // give-backs the store did not take at Done (owed.go)
}

// errBusy is reserve's "over the limit only because of attempts still in flight".
type errBusy struct{ scope string }

func (e *errBusy) Error() string {
	return "ratelimit: " + e.scope + " budget taken by attempts in flight"
}

// Backoff of an attempt waiting for others to settle: short at first (a fast SSO answers in
// milliseconds), then capped so that waiters poll the store at most ten times a second.
const (
	settleFirstPoll = 5 * time.Millisecond
	settleMaxPoll   = 100 * time.Millisecond
	// maxWaiting bounds the attempts one instance keeps waiting: beyond it a busy budget is
	// refused at once (Retry-After 1 s), so a flood at one username cannot pile up goroutines
	// that poll the store.
	maxWaiting = 1024
)

// Begin reserves an attempt for username (namespaced by the caller) from ip (as given by
// [ClientIP]; IPv6 addresses share the budget of their /64, which one host usually holds
// whole). An empty username or ip skips that counter. It returns a [*LimitedError] when a
// budget is exhausted by recorded failures or the username is locked; a budget taken only by
// attempts still in flight makes it wait for them (at most SettleWait) and try again. Any
// other trouble (the store down or slow) is handled by counting in this instance instead, so
// Begin returns no other error.
//
// ctx carries values only: its cancellation is ignored, so a client that hangs up cannot
// make the store look down; every store call is bounded by StoreTimeout instead.
func (l *Limiter) Begin(ctx context.Context, username, ip string) (*Attempt, error) {
	if l == nil {
		return nil, nil
	}
	if ctx.Done() != nil {
		ctx = context.WithoutCancel(ctx) // (an uncancellable one, the usual, costs nothing)
	}
	o := l.opts.Load()
	a := &Attempt{l: l, o: o, username: username, k: o.keys(username, ip)}
	// Real time, not o.Now: the wait sleeps for real, and tests move o.Now by hand.
	deadline := time.Now().Add(o.SettleWait)
	poll := settleFirstPoll
	counted := false
	for {
		err := l.begin(ctx, a)
		busy, isBusy := errors.AsType[*errBusy](err)
		if !isBusy {
			return l.started(a, err)
		}
		// The budget frees as soon as the attempts in flight settle: no lock exists, so the
		// honest Retry-After is the shortest one.
		left := time.Until(deadline)
		if left <= 0 {
			return nil, l.limited(busy.scope, time.Second)
		}
		if !counted {
			if l.waiting.Add(1) > maxWaiting {
				l.waiting.Add(-1)
				return nil, l.limited(busy.scope, time.Second)
			}
			counted = true
			l.waits.Add(1)
			defer l.waiting.Add(-1)
		}
		time.Sleep(min(poll, left))
		poll = min(2*poll, settleMaxPoll)
	}
}

// begin is one reservation, against the shared store or (when it fails) this instance.
func (l *Limiter) begin(ctx context.Context, a *Attempt) error {
	o := a.o
	if l.alone {
		a.store = l.local
		return l.reserve(ctx, l.local, a)
	}
	if a.k.user != "" {
		// Honour lockouts this instance set while the store was down, once it is back.
		if _, ttl, _ := l.local.Peek(ctx, a.k.lock); ttl > 0 {
			return l.limited(ScopeUser, ttl)
		}
	}
	if s := l.shared(o); s != nil {
		sctx, cancel := deadline.After(ctx, o.StoreTimeout)
		err := l.reserve(sctx, s, a)
		cancel()
		_, isBusy := errors.AsType[*errBusy](err)
		if err == nil || errors.Is(err, ErrLimited) || isBusy {
			l.storeOK(o)
			a.store = s
			return err
		}
		l.storeFailed(o, err)
	}
	l.fallbacks.Add(1)
	a.store = l.local
	return l.reserve(ctx, l.local, a)
}

func (l *Limiter) started(a *Attempt, err error) (*Attempt, error) {
	if err != nil {
		return nil, err
	}
	return a, nil
}

// reserve is one reservation against one store. A store error means "try elsewhere"; a
// refusal is final even if giving the places back failed (the extra count errs toward
// refusing).
//
// The lock check and the additions are independent, so they go to the store as one batch
// (one round trip to a shared store, see BatchCounters). Each in-flight counter is raised
// before its counter, and lowered after it on settling, so a reader that sees a reservation in
// a counter also sees it in flight: recorded failures (counter minus in-flight) are never
// overestimated by a race, which would turn a wait back into the false refusal.
func (l *Limiter) reserve(ctx context.Context, s Counters, a *Attempt) error {
	o, k := a.o, a.k
	ops := make([]Op, 0, 5)
	iLock, iUser, iIP := -1, -1, -1
	if k.user != "" {
		iLock, iUser = 0, 2
		ops = append(ops, Op{Kind: OpPeek, Key: k.lock},
			Op{Kind: OpAdd, Key: k.userFlight, Delta: 1, TTL: o.UserWindow},
			Op{Kind: OpAdd, Key: k.user, Delta: 1, TTL: o.UserWindow})
	}
	if k.ip != "" {
		iIP = len(ops) + 1
		ops = append(ops, Op{Kind: OpAdd, Key: k.ipFlight, Delta: 1, TTL: o.IPWindow},
			Op{Kind: OpAdd, Key: k.ip, Delta: 1, TTL: o.IPWindow})
	}
	res := l.run(ctx, s, ops)
	added := make([]undoKey, 0, len(ops))
	var err error
	for i, r := range res {
		err = errors.Join(err, r.Err)
		if r.Err == nil && ops[i].Kind == OpAdd {
			added = append(added, undoKey{ops[i].Key, ops[i].TTL})
		}
	}
	// Counters first, in-flight after: the mirror of the order they were raised in.
	slices.SortStableFunc(added, func(x, y undoKey) int { return cmpBool(k.isFlight(x.key), k.isFlight(y.key)) })
	giveBack := func() { l.noteErr(l.undo(ctx, s, nil, added...)) }
	// recorded is the failures a counter holds: its reservations minus those in flight (this
	// attempt's among them).
	recorded := func(i int) int64 { return res[i].Value - res[i-1].Value }
	var busy error
	switch {
	case err != nil:
		giveBack()
		return err
	case iLock >= 0 && res[iLock].TTL > 0:
		giveBack()
		retry := res[iLock].TTL
		if recorded(iUser) >= int64(o.UserFailures) {
			// The counter stays full after a lock shorter than the window: the real wait is
			// the longer of the two (SPEC section 6: the real remaining lock).
			retry = max(retry, l.ttl(ctx, s, k.user, 0))
		}
		return l.limited(ScopeUser, retry)
	}
	if iUser >= 0 && res[iUser].Value > int64(o.UserFailures) {
		if recorded(iUser) >= int64(o.UserFailures) {
			giveBack()
			// A failure that finished meanwhile may have set a lock longer than the window.
			_, lockTTL, _ := s.Peek(ctx, k.lock)
			return l.limited(ScopeUser, max(lockTTL, l.ttl(ctx, s, k.user, o.UserWindow)))
		}
		busy = &errBusy{ScopeUser}
	}
	if iIP >= 0 && res[iIP].Value > int64(o.IPFailures) {
		if recorded(iIP) >= int64(o.IPFailures) {
			giveBack()
			return l.limited(ScopeIP, l.ttl(ctx, s, k.ip, o.IPWindow))
		}
		busy = cmpOr(busy, error(&errBusy{ScopeIP}))
	}
	if busy != nil {
		giveBack()
	}
	return busy
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// run performs independent operations: as one batch when the store batches (one round trip
// to a shared store; one lock hold in [Local]), else one after the other.
func (l *Limiter) run(ctx context.Context, s Counters, ops []Op) []Result {
	if b, ok := s.(BatchCounters); ok {
		return b.Batch(ctx, ops)
	}
	out := make([]Result, len(ops))
	for i, o := range ops {
		switch o.Kind {
		case OpAdd:
			out[i].Value, out[i].Err = s.Add(ctx, o.Key, o.Delta, o.TTL)
		case OpPeek:
			out[i].Value, out[i].TTL, out[i].Err = s.Peek(ctx, o.Key)
		default:
			out[i].Err = s.Delete(ctx, o.Key)
		}
	}
	return out
}

// ttl is the time left on key for a Retry-After, or the whole window if it cannot be read.
func (l *Limiter) ttl(ctx context.Context, s Counters, key string, window time.Duration) time.Duration {
	_, ttl, err := s.Peek(ctx, key)
	if err != nil {
		return window
	}
	return ttl
}

func (l *Limiter) limited(scope string, retry time.Duration) *LimitedError {
	l.rejected.Add(1)
	// Whole seconds, rounded up: Retry-After has no fractions, and 0 would invite a retry
	// storm.
	secs := max((retry+time.Second-1)/time.Second, 1)
	return &LimitedError{Scope: scope, RetryAfter: secs * time.Second}
}

// shared returns the shared store unless it failed within the last StoreRetry.
func (l *Limiter) shared(o *Options) Counters {
	if l.alone || o.Now().UnixNano() < l.downUntil.Load() {
		return nil
	}
	return l.store
}

func (l *Limiter) storeFailed(o *Options, err error) {
	l.storeErrors.Add(1)
	l.downUntil.Store(o.Now().Add(o.StoreRetry).UnixNano())
	if l.degraded.CompareAndSwap(false, true) {
		o.Logger.LogAttrs(context.Background(), slog.LevelWarn,
			"ratelimit: shared store unavailable, counting failed logins per instance",
			slog.String("error", err.Error()), slog.Duration("retry_in", o.StoreRetry))
	}
}

func (l *Limiter) storeOK(o *Options) {
	l.payOwed()
	if l.degraded.CompareAndSwap(true, false) {
		o.Logger.LogAttrs(context.Background(), slog.LevelInfo, "ratelimit: shared store reachable again")
	}
}

// noteErr counts an error of a best-effort store call whose failure changes no verdict.
func (l *Limiter) noteErr(err error) {
	if err != nil {
		l.storeErrors.Add(1)
	}
}
