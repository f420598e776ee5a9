package ratelimit

import (
	"context"
	"errors"
	"sync"
	"time"
)

var (
	_ Counters      = (*Local)(nil)
	_ BatchCounters = (*Local)(nil)
)

// errBadTTL is returned for a non-positive ttl: such a counter could never count anything.
var errBadTTL = errors.New("ratelimit: counter ttl must be positive")

// sweepEvery is how often Local drops expired entries; between sweeps expired entries are
// only ignored, so memory stays bounded by maxKeys either way.
const sweepEvery = time.Minute

// evictSample is how many entries Local looks at to pick one to evict when it is full of
// live counters (Redis's approximated volatile-ttl does the same: sampling, not a heap).
const evictSample = 32

// Local is a per-process implementation of [Counters]: a mutex-guarded map, swept of expired
// entries once a minute and bounded in size. The [Limiter] uses one when the shared store is
// unreachable (SPEC section 6: per-instance counters take over, never fail open); it also
// serves tests and single-instance deployments.
//
// When the map is full of live counters, Local evicts the sampled entry that expires
// soonest. Evicting forgets some attempts, which is weaker than refusing new keys, but
// refusing would turn a flood of random usernames into a lockout of every real user.
type Local struct {
	mu        sync.Mutex
	m         map[string]localEntry
	maxKeys   int
	now       func() time.Time
	nextSweep time.Time
}

type localEntry struct {
	v   int64
	exp time.Time
}

// NewLocal returns an empty Local holding at most maxKeys counters (default 100 000 when
// maxKeys ≤ 0), reading time from now (time.Now when nil).
func NewLocal(maxKeys int, now func() time.Time) *Local {
	if maxKeys <= 0 {
		maxKeys = DefaultLocalMaxKeys
	}
	if now == nil {
		now = time.Now
	}
	return &Local{m: make(map[string]localEntry), maxKeys: maxKeys, now: now}
}

// Add implements [Counters].
func (c *Local) Add(_ context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	if ttl <= 0 {
		return 0, errBadTTL
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.add(now, key, delta, ttl), nil
}

func (c *Local) add(now time.Time, key string, delta int64, ttl time.Duration) int64 {
	c.maybeSweep(now)
	e, ok := c.m[key]
	if !ok || !now.Before(e.exp) || e.v == 0 { // a counter holding 0 starts afresh ([Counters])
		if !ok && len(c.m) >= c.maxKeys {
			c.makeRoom()
		}
		e = localEntry{exp: now.Add(ttl)}
	}
	e.v += delta
	c.m[key] = e
	return e.v
}

// Peek implements [Counters].
func (c *Local) Peek(_ context.Context, key string) (int64, time.Duration, error) {
	now := c.now()
	c.mu.Lock()
	v, ttl := c.peek(now, key)
	c.mu.Unlock()
	return v, ttl, nil
}

func (c *Local) peek(now time.Time, key string) (int64, time.Duration) {
	e, ok := c.m[key]
	if !ok || !now.Before(e.exp) {
		return 0, 0
	}
	return e.v, e.exp.Sub(now)
}

// Batch implements [BatchCounters], all of it under one lock: the values a reservation reads
// (a counter and its in-flight count) are of one instant, so attempts racing in this
// instance cannot make in-flight reservations look like recorded failures.
func (c *Local) Batch(_ context.Context, ops []Op) []Result {
	out := make([]Result, len(ops))
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, o := range ops {
		switch o.Kind {
		case OpAdd:
			if o.TTL <= 0 {
				out[i].Err = errBadTTL
				continue
			}
			out[i].Value = c.add(now, o.Key, o.Delta, o.TTL)
		case OpPeek:
			out[i].Value, out[i].TTL = c.peek(now, o.Key)
		default:
			delete(c.m, o.Key)
		}
	}
	return out
}

// Delete implements [Counters].
func (c *Local) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
	return nil
}

// Len reports how many entries the map holds, expired ones not yet swept included.
func (c *Local) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *Local) maybeSweep(now time.Time) {
	if now.Before(c.nextSweep) {
		return
	}
	c.nextSweep = now.Add(sweepEvery)
	c.sweep(now)
}

func (c *Local) sweep(now time.Time) {
	for k, e := range c.m {
		if !now.Before(e.exp) {
			delete(c.m, k)
		}
	}
}

// makeRoom frees one slot by evicting the soonest-expiring entry of a sample (an expired
// one, if the sample holds any). It does not sweep: under a flood of new keys a full sweep
// per Add would cost O(maxKeys) each time.
func (c *Local) makeRoom() {
	var victim string
	var soonest time.Time
	n := 0
	for k, e := range c.m { // map order is randomised: a cheap random sample
		if n == 0 || e.exp.Before(soonest) {
			victim, soonest = k, e.exp
		}
		if n++; n == evictSample {
			break
		}
	}
	delete(c.m, victim)
}
