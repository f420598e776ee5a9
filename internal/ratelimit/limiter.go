package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"
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
// A failure that fills the username's counter locks the username; the n-th lockout within
// StrikeWindow lasts LockoutBase·2^(n-1), capped at LockoutMax, and while the lock or a full
// counter exists Begin refuses. The lock sits on top of the counter (which is not reset), so
// the window alone already bounds failures; see [Options.FailureBoundPerHour].
//
// Keys: {Prefix}u:{username} (counter), l: (lock), s: (strikes), ip:{address}; a store puts
// them in a namespace of its own (the Redis store: {prefix}rl:).
// The caller passes the username canonical and namespaced ("manager:alice" for the manager
// app, case folded when the directory folds case), so each namespace has its own budget.
type Limiter struct {
	store Counters // shared by every instance
	local *Local   // this instance's fallback
	alone bool     // no shared store: local is the store
	o     Options

	downUntil atomic.Int64 // UnixNano before which the store is not tried
	degraded  atomic.Bool  // for logging the transitions only

	rejected, lockouts, fallbacks, storeErrors atomic.Int64
}

// New returns a limiter counting in store. A nil store means this instance counts alone
// (the embedded store: one gateway process).
func New(store Counters, opts Options) *Limiter {
	o := opts.withDefaults()
	l := &Limiter{o: o, local: NewLocal(o.LocalMaxKeys, o.Now)}
	l.store, l.alone = store, store == nil
	if l.alone {
		l.store = l.local
	}
	return l
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
	}
}

// Attempt is one reserved login attempt; call Done exactly once with its outcome. An attempt
// never finished keeps its reservation, i.e. counts as a failure until the window ends.
type Attempt struct {
	l        *Limiter
	username string
	k        keys
	store    Counters // where the reservation was made
	done     atomic.Bool
}

// Begin reserves an attempt for username (namespaced by the caller) from ip (as given by
// [ClientIP]; IPv6 addresses share the budget of their /64, which one host usually holds
// whole). An empty username or ip skips that counter. It returns a [*LimitedError] when a
// budget is exhausted or the username is locked; any other trouble (the store down or slow)
// is handled by counting in this instance instead, so Begin returns no other error.
//
// ctx carries values only: its cancellation is ignored, so a client that hangs up cannot
// make the store look down; every store call is bounded by StoreTimeout instead.
func (l *Limiter) Begin(ctx context.Context, username, ip string) (*Attempt, error) {
	if l == nil {
		return nil, nil
	}
	ctx = context.WithoutCancel(ctx)
	a := &Attempt{l: l, username: username, k: l.keys(username, ip)}
	if l.alone {
		return l.started(a, l.local, l.reserve(ctx, l.local, a))
	}
	if a.k.user != "" {
		// Honour lockouts this instance set while the store was down, once it is back.
		if _, ttl, _ := l.local.Peek(ctx, a.k.lock); ttl > 0 {
			return nil, l.limited(ScopeUser, ttl)
		}
	}
	if s := l.shared(); s != nil {
		sctx, cancel := context.WithTimeout(ctx, l.o.StoreTimeout)
		err := l.reserve(sctx, s, a)
		cancel()
		if err == nil || errors.Is(err, ErrLimited) {
			l.storeOK()
			return l.started(a, s, err)
		}
		l.storeFailed(err)
	}
	l.fallbacks.Add(1)
	return l.started(a, l.local, l.reserve(ctx, l.local, a))
}

func (l *Limiter) started(a *Attempt, s Counters, err error) (*Attempt, error) {
	if err != nil {
		return nil, err
	}
	a.store = s
	return a, nil
}

// reserve is Begin against one store. A store error means "try elsewhere"; a refusal is
// final even if giving the places back failed (the extra count errs toward refusing).
//
// The lock check and the two additions are independent, so they go to the store as one batch
// (one round trip to a shared store, see BatchCounters). A refused attempt gives back what it
// added; until then the counters are one high, which can only make a simultaneous attempt at
// the very limit refuse too.
func (l *Limiter) reserve(ctx context.Context, s Counters, a *Attempt) error {
	ops := make([]Op, 0, 3)
	iLock, iUser, iIP := -1, -1, -1
	if a.k.user != "" {
		iLock, iUser = 0, 1
		ops = append(ops, Op{Kind: OpPeek, Key: a.k.lock}, Op{Kind: OpAdd, Key: a.k.user, Delta: 1, TTL: l.o.UserWindow})
	}
	if a.k.ip != "" {
		iIP = len(ops)
		ops = append(ops, Op{Kind: OpAdd, Key: a.k.ip, Delta: 1, TTL: l.o.IPWindow})
	}
	res := l.run(ctx, s, ops)
	var added []undoKey
	var err error
	for i, r := range res {
		err = errors.Join(err, r.Err)
		if r.Err == nil && (i == iUser || i == iIP) {
			added = append(added, undoKey{ops[i].Key, ops[i].TTL})
		}
	}
	giveBack := func() { l.noteErr(l.undo(ctx, s, nil, added...)) }
	switch {
	case err != nil:
		giveBack()
		return err
	case iLock >= 0 && res[iLock].TTL > 0:
		giveBack()
		return l.limited(ScopeUser, res[iLock].TTL)
	case iUser >= 0 && res[iUser].Value > int64(l.o.UserFailures):
		giveBack()
		// A failure that finished meanwhile may have set a lock longer than the window.
		_, lockTTL, _ := s.Peek(ctx, a.k.lock)
		return l.limited(ScopeUser, max(lockTTL, l.ttl(ctx, s, a.k.user, l.o.UserWindow)))
	case iIP >= 0 && res[iIP].Value > int64(l.o.IPFailures):
		giveBack()
		return l.limited(ScopeIP, l.ttl(ctx, s, a.k.ip, l.o.IPWindow))
	}
	return nil
}

// run performs independent operations: in one round trip when a shared store batches, else one
// after the other (the in-memory store answers in nanoseconds).
func (l *Limiter) run(ctx context.Context, s Counters, ops []Op) []Result {
	if b, ok := s.(BatchCounters); ok && s != Counters(l.local) {
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

// Done records the attempt's outcome; calls after the first, and calls on a nil Attempt, do
// nothing. Like Begin it ignores ctx's cancellation: a client hanging up after a wrong
// password must not erase the failure. If the store fails, a failure is counted in this
// instance instead; a lost give-back (success, neutral) leaves the attempt counted.
func (a *Attempt) Done(ctx context.Context, outcome Outcome) {
	if a == nil || !a.done.CompareAndSwap(false, true) {
		return
	}
	if outcome > Neutral {
		outcome = Failure // unknown outcomes count, like the zero value
	}
	l := a.l
	ctx = context.WithoutCancel(ctx)
	if a.store == Counters(l.local) { // began in fallback, or no shared store
		l.noteErr(l.finish(ctx, l.local, a, outcome))
		return
	}
	err := errStoreResting
	if l.shared() != nil {
		sctx, cancel := context.WithTimeout(ctx, l.o.StoreTimeout)
		err = l.finish(sctx, a.store, a, outcome)
		cancel()
	}
	if err == nil {
		l.storeOK()
		return
	}
	if err != errStoreResting {
		l.storeFailed(err)
	}
	if outcome != Failure {
		return
	}
	l.fallbacks.Add(1)
	if a.k.user != "" {
		_, _ = l.local.Add(ctx, a.k.user, 1, l.o.UserWindow) // Local fails only on ttl ≤ 0
	}
	if a.k.ip != "" {
		_, _ = l.local.Add(ctx, a.k.ip, 1, l.o.IPWindow)
	}
	l.noteErr(l.finish(ctx, l.local, a, Failure))
}

// errStoreResting stands for the store being skipped after a recent failure.
var errStoreResting = errors.New("ratelimit: shared store resting after an error")

func (l *Limiter) finish(ctx context.Context, s Counters, a *Attempt, outcome Outcome) error {
	switch outcome {
	case Success:
		var del []Op
		if a.k.user != "" {
			del = append(del, Op{Kind: OpDelete, Key: a.k.user})
		}
		return l.undo(ctx, s, del, undoKey{a.k.ip, l.o.IPWindow})
	case Neutral:
		return l.undo(ctx, s, nil, undoKey{a.k.user, l.o.UserWindow}, undoKey{a.k.ip, l.o.IPWindow})
	default: // Failure: keep the reservation
		return l.afterFailure(ctx, s, a)
	}
}

// afterFailure locks the username when its counter is full. The counter includes attempts
// still in flight, so a lock can come one answer early; it never comes late.
//
// Only the caller whose Add creates the lock key counts a strike, so simultaneous failures
// start one lockout, not one each (which would jump straight to LockoutMax).
func (l *Limiter) afterFailure(ctx context.Context, s Counters, a *Attempt) error {
	if a.k.user == "" {
		return nil
	}
	n, _, err := s.Peek(ctx, a.k.user)
	if err != nil || n < int64(l.o.UserFailures) {
		return err
	}
	strikes, _, err := s.Peek(ctx, a.k.strikes)
	if err != nil {
		return err
	}
	d := l.lockoutFor(strikes + 1)
	created, err := s.Add(ctx, a.k.lock, 1, d)
	if err != nil || created != 1 {
		return err
	}
	if _, err := s.Add(ctx, a.k.strikes, 1, l.o.StrikeWindow); err != nil {
		return err
	}
	l.lockouts.Add(1)
	// Usernames may be logged; passwords never reach this package.
	l.o.Logger.LogAttrs(ctx, slog.LevelWarn, "ratelimit: username locked out",
		slog.String("username", a.username), slog.Int64("lockout", strikes+1), slog.Duration("duration", d))
	return nil
}

// lockoutFor is the length of the n-th lockout within StrikeWindow: LockoutBase·2^(n-1),
// capped at LockoutMax (OWASP: grow the delay instead of locking for good).
func (l *Limiter) lockoutFor(n int64) time.Duration {
	d := l.o.LockoutBase
	for i := int64(1); i < n && d < l.o.LockoutMax; i++ {
		if d > l.o.LockoutMax/2 {
			return l.o.LockoutMax
		}
		d *= 2
	}
	return min(d, l.o.LockoutMax)
}

// undoKey is a reservation to give back: a counter and its window.
type undoKey struct {
	key string
	ttl time.Duration
}

// undo gives reservations back (and runs extra operations, such as a success's delete, in the
// same batch). If a counter expired or was reset meanwhile, Add(-1) recreates it at -1, which
// would hand out a free attempt; the caller that drove it below zero puts its own unit back,
// so the counter settles at 0.
func (l *Limiter) undo(ctx context.Context, s Counters, extra []Op, keys ...undoKey) error {
	ops := extra
	for _, k := range keys {
		if k.key != "" {
			ops = append(ops, Op{Kind: OpAdd, Key: k.key, Delta: -1, TTL: k.ttl})
		}
	}
	if len(ops) == 0 {
		return nil
	}
	var err error
	var fix []Op
	for i, r := range l.run(ctx, s, ops) {
		err = errors.Join(err, r.Err)
		if r.Err == nil && ops[i].Kind == OpAdd && r.Value < 0 {
			fix = append(fix, Op{Kind: OpAdd, Key: ops[i].Key, Delta: 1, TTL: ops[i].TTL})
		}
	}
	if len(fix) > 0 {
		for _, r := range l.run(ctx, s, fix) {
			err = errors.Join(err, r.Err)
		}
	}
	return err
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
func (l *Limiter) shared() Counters {
	if l.alone || l.o.Now().UnixNano() < l.downUntil.Load() {
		return nil
	}
	return l.store
}

func (l *Limiter) storeFailed(err error) {
	l.storeErrors.Add(1)
	l.downUntil.Store(l.o.Now().Add(l.o.StoreRetry).UnixNano())
	if l.degraded.CompareAndSwap(false, true) {
		l.o.Logger.LogAttrs(context.Background(), slog.LevelWarn,
			"ratelimit: shared store unavailable, counting failed logins per instance",
			slog.String("error", err.Error()), slog.Duration("retry_in", l.o.StoreRetry))
	}
}

func (l *Limiter) storeOK() {
	if l.degraded.CompareAndSwap(true, false) {
		l.o.Logger.LogAttrs(context.Background(), slog.LevelInfo, "ratelimit: shared store reachable again")
	}
}

// noteErr counts an error of a best-effort store call whose failure changes no verdict.
func (l *Limiter) noteErr(err error) {
	if err != nil {
		l.storeErrors.Add(1)
	}
}

type keys struct{ user, lock, strikes, ip string }

func (l *Limiter) keys(username, ip string) keys {
	var k keys
	if username != "" {
		u := keyPart(username)
		k.user = l.o.Prefix + "u:" + u
		k.lock = l.o.Prefix + "l:" + u
		k.strikes = l.o.Prefix + "s:" + u
	}
	if ip != "" {
		k.ip = l.o.Prefix + "ip:" + ipPart(ip)
	}
	return k
}

// maxKeyPart bounds the bytes a caller-supplied value puts in a key. Begin runs before the
// directory validates usernames (≤ 256 bytes, SPEC section 3), so a 60 KiB username would
// otherwise become a 60 KiB Redis key; longer values are hashed.
const maxKeyPart = 256

func keyPart(s string) string {
	if len(s) <= maxKeyPart {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ipv6Bits is the prefix an IPv6 client shares its budget with: providers hand each
// customer at least a /64, so per-address counting would give one host 2^64 budgets.
const ipv6Bits = 64

func ipPart(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return keyPart(ip)
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(ipv6Bits)
		return p.String()
	}
	return a.String()
}
