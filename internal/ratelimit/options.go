package ratelimit

import (
	"log/slog"
	"time"
)

// Defaults. Where they come from (SPEC section 6 "Brute force"):
//
//   - OWASP ASVS V2.2.1 requires that no account sees more than 100 failed attempts an hour;
//     the OWASP Authentication Cheat Sheet recommends a lockout threshold, an observation
//     window and a lockout duration, temporary rather than permanent (a permanent lockout lets
//     anyone lock a victim out for good), preferably growing exponentially.
//   - Keycloak's brute-force detection (RealmManager.setupRealmDefaults) locks after 30
//     failures, waits 1 min more per lockout up to 15 min, forgets failures after 12 h and
//     never locks permanently by default. 30 failures is generous for a gateway in front of
//     several SSOs, so we count 10 per 15 min (the threshold OWASP and most guidance quote),
//     start the lockout at one window (15 min, Keycloak's maximum wait) and let it double up
//     to 1 h, remembered for 24 h.
//   - The per-IP budget is ten users' worth: high enough for an office or a mobile carrier's
//     NAT where many people log in from one address, low enough that one host cannot spray a
//     password across thousands of usernames (the username limit cannot see that attack).
//
// The arithmetic behind ASVS V2.2.1 with these defaults is in [Options.FailureBoundPerHour].
const (
	DefaultUserFailures = 10
	DefaultUserWindow   = 15 * time.Minute
	DefaultIPFailures   = 100
	DefaultIPWindow     = 15 * time.Minute
	DefaultLockoutMax   = time.Hour
	DefaultStrikeWindow = 24 * time.Hour
	DefaultStoreTimeout = time.Second
	DefaultStoreRetry   = 5 * time.Second
	DefaultLocalMaxKeys = 100_000
	// DefaultSettleWait is sso.timeout's default: an attempt in flight settles within it.
	DefaultSettleWait = 10 * time.Second
)

// Options configures a [Limiter]. The zero value is usable: every zero field takes its
// default, so a config file only names what it changes. Negative values are treated as zero.
type Options struct {
	// UserFailures attempts per username are allowed within UserWindow (default 10 per 15 min).
	UserFailures int
	UserWindow   time.Duration
	// IPFailures attempts per client address (IPv6: per /64) within IPWindow (default 100 per
	// 15 min). Successes give their reservation back, so only failures use this budget.
	IPFailures int
	IPWindow   time.Duration
	// The n-th lockout of a username within StrikeWindow lasts LockoutBase·2^(n-1), capped at
	// LockoutMax (defaults: UserWindow, 1 h, 24 h). Lockouts are never permanent.
	LockoutBase  time.Duration
	LockoutMax   time.Duration
	StrikeWindow time.Duration
	// StoreTimeout bounds every call into the shared store (SPEC section 3, store.timeout,
	// default 1 s). After a failure the limiter uses per-instance counters for StoreRetry
	// (default 5 s) before it tries the store again, so an unreachable store costs one
	// timeout per StoreRetry rather than one per login.
	StoreTimeout time.Duration
	StoreRetry   time.Duration
	// SettleWait bounds how long an attempt waits when the budget is taken only by attempts
	// still in flight (SPEC section 6: bounded by sso.timeout, which the gateway passes;
	// default 10 s). Past it the attempt is refused with Retry-After 1 s.
	SettleWait time.Duration
	// LocalMaxKeys bounds the per-instance fallback counters (default 100 000 keys).
	LocalMaxKeys int
	// Prefix is put before every key, e.g. the store's redis_prefix.
	Prefix string
	// Logger receives lockouts and store fallbacks; nil discards them.
	Logger *slog.Logger
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
}

// withDefaults returns o with every unset field given its default.
func (o Options) withDefaults() Options {
	orInt := func(v, d int) int {
		if v <= 0 {
			return d
		}
		return v
	}
	orDur := func(v, d time.Duration) time.Duration {
		if v <= 0 {
			return d
		}
		return v
	}
	o.UserFailures = orInt(o.UserFailures, DefaultUserFailures)
	o.UserWindow = orDur(o.UserWindow, DefaultUserWindow)
	o.IPFailures = orInt(o.IPFailures, DefaultIPFailures)
	o.IPWindow = orDur(o.IPWindow, DefaultIPWindow)
	// The base defaults to the window so that a lockout always outlasts the window that
	// caused it; see FailureBoundPerHour.
	o.LockoutBase = orDur(o.LockoutBase, o.UserWindow)
	o.LockoutMax = max(orDur(o.LockoutMax, DefaultLockoutMax), o.LockoutBase)
	o.StrikeWindow = orDur(o.StrikeWindow, DefaultStrikeWindow)
	o.StoreTimeout = orDur(o.StoreTimeout, DefaultStoreTimeout)
	o.StoreRetry = orDur(o.StoreRetry, DefaultStoreRetry)
	o.LocalMaxKeys = orInt(o.LocalMaxKeys, DefaultLocalMaxKeys)
	o.SettleWait = orDur(o.SettleWait, DefaultSettleWait)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// FailureBoundPerHour is the most failed attempts one username can see in any 60 minutes
// (a sliding hour, not a clock hour), for comparison with OWASP ASVS V2.2.1's 100. A config
// loader can refuse or warn about settings above 100.
//
// Why it holds: every attempt reserves a slot in the username counter before the directory
// or the SSO is called, and a failure keeps its slot, so a counter holds at most UserFailures
// failures. A counter lives exactly UserWindow from its creation (the Counters contract sets
// the expiry once), so successive counters cover disjoint intervals whose starts are at least
// UserWindow apart, and at most ceil((60 min + UserWindow) / UserWindow) of them touch a given
// hour. With the defaults: 10 × ceil(75/15) = 50. Lockouts only lower this: an attacker who
// retries as soon as allowed gets 10 at 0, 15 and 45 min (lockouts of 15, 30, 60 min), i.e.
// 30 in the first hour and 10 an hour after that; the test TestASVSBound replays it.
//
// Outside the bound: a successful login resets the counter (it needs the password, which an
// attacker who has it no longer needs to guess), and while the shared store is down each
// instance counts on its own, so K instances allow K times this.
func (o Options) FailureBoundPerHour() int {
	o = o.withDefaults()
	w := int64(o.UserWindow)
	windows := (int64(time.Hour) + w + w - 1) / w // ceil((1h + W) / W)
	return int(windows) * o.UserFailures
}
