package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrDisabled is returned by the lockout methods of a nil (disabled) Limiter.
var ErrDisabled = errors.New("ratelimit: disabled (ratelimit.enabled is false)")

// State is the brute-force state of a username or a client address, for the lockouts API
// (SPEC section 9).
type State struct {
	Failures    int64     // recorded failures in the current window (attempts in flight excluded)
	InFlight    int64     // attempts begun and not yet answered
	LockedUntil time.Time // zero when logins are not refused; else when they will be allowed again
	Strikes     int64     // lockouts within StrikeWindow (usernames only): the next one is longer
}

// Locked reports whether logins are being refused.
func (s State) Locked() bool { return !s.LockedUntil.IsZero() }

// UserState returns the state of a username, named as Begin is ([UserSubject]). A username is
// locked while its lock lasts or while its counter holds the limit in recorded failures (and a
// lockout this instance set while the store was down counts too, as it does for Begin).
func (l *Limiter) UserState(ctx context.Context, subject string) (State, error) {
	if l == nil {
		return State{}, ErrDisabled
	}
	o := l.opts.Load()
	k := o.keys(subject, "")
	res, err := l.read(ctx, o, k.user, k.userFlight, k.lock, k.strikes)
	if err != nil {
		return State{}, err
	}
	now := o.Now()
	st := State{Failures: max(res[0].Value-max(res[1].Value, 0), 0), InFlight: max(res[1].Value, 0), Strikes: res[3].Value}
	lockTTL := res[2].TTL
	if !l.alone {
		if _, ttl, _ := l.local.Peek(ctx, k.lock); ttl > lockTTL {
			lockTTL = ttl
		}
	}
	if st.Failures >= int64(o.UserFailures) {
		lockTTL = max(lockTTL, res[0].TTL)
	}
	if lockTTL > 0 {
		st.LockedUntil = now.Add(lockTTL).Truncate(time.Second).Add(time.Second)
	}
	return st, nil
}

// IPState returns the state of a client address (IPv6: its /64). An address is refused while
// its counter holds the IP limit in recorded failures.
func (l *Limiter) IPState(ctx context.Context, ip string) (State, error) {
	if l == nil {
		return State{}, ErrDisabled
	}
	o := l.opts.Load()
	k := o.keys("", ip)
	res, err := l.read(ctx, o, k.ip, k.ipFlight)
	if err != nil {
		return State{}, err
	}
	st := State{Failures: max(res[0].Value-max(res[1].Value, 0), 0), InFlight: max(res[1].Value, 0)}
	if st.Failures >= int64(o.IPFailures) && res[0].TTL > 0 {
		st.LockedUntil = o.Now().Add(res[0].TTL).Truncate(time.Second).Add(time.Second)
	}
	return st, nil
}

// ClearUser forgets a username's failures, lock and strikes (an operator's unlock), in the
// shared store and in this instance's fallback counters. Attempts in flight keep their count
// and settle normally.
func (l *Limiter) ClearUser(ctx context.Context, subject string) error {
	if l == nil {
		return ErrDisabled
	}
	o := l.opts.Load()
	k := o.keys(subject, "")
	return l.clear(ctx, o, k.user, k.lock, k.strikes)
}

// ClearIP forgets a client address's failures.
func (l *Limiter) ClearIP(ctx context.Context, ip string) error {
	if l == nil {
		return ErrDisabled
	}
	o := l.opts.Load()
	return l.clear(ctx, o, o.keys("", ip).ip)
}

// read peeks keys in the store Begin would use: the shared one, else (it failed) an error —
// an operator must not be told "not locked" because the store could not be asked.
func (l *Limiter) read(ctx context.Context, o *Options, keys ...string) ([]Result, error) {
	ops := make([]Op, len(keys))
	for i, key := range keys {
		ops[i] = Op{Kind: OpPeek, Key: key}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.StoreTimeout)
	defer cancel()
	res := l.run(ctx, l.store, ops)
	for _, r := range res {
		if r.Err != nil {
			return nil, fmt.Errorf("ratelimit: read state: %w", r.Err)
		}
	}
	return res, nil
}

func (l *Limiter) clear(ctx context.Context, o *Options, keys ...string) error {
	ops := make([]Op, len(keys))
	for i, key := range keys {
		ops[i] = Op{Kind: OpDelete, Key: key}
	}
	var err error
	if !l.alone {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.StoreTimeout)
		for _, r := range l.run(sctx, l.store, ops) {
			err = errors.Join(err, r.Err)
		}
		cancel()
	}
	for _, r := range l.run(ctx, l.local, ops) {
		err = errors.Join(err, r.Err)
	}
	if err != nil {
		return fmt.Errorf("ratelimit: clear: %w", err)
	}
	return nil
}
