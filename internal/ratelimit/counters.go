package ratelimit

import (
	"context"
	"time"
)

// Counters is the shared-counter contract the brute-force limiter needs from a store.
// Operations are atomic across every gateway instance sharing the store.
type Counters interface {
	// Add adds delta to the counter at key and returns the new value. A key that does not
	// exist, has expired or holds 0 starts at 0 and expires ttl after this call; adding to a
	// key holding anything else keeps its expiry. (A counter at 0 counts nothing, so a new
	// window for it changes no verdict; it lets the Redis store tell a new counter from the
	// value INCRBY returns, without a PTTL per addition.)
	Add(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error)
	// Peek returns the counter's value and remaining time to live; 0, 0 for a missing key.
	Peek(ctx context.Context, key string) (int64, time.Duration, error)
	// Delete removes the counter; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// OpKind says what an Op does.
type OpKind uint8

const (
	OpAdd    OpKind = iota // Add(Key, Delta, TTL)
	OpPeek                 // Peek(Key)
	OpDelete               // Delete(Key)
)

// Op is one counter operation of a batch.
type Op struct {
	Kind  OpKind
	Key   string
	Delta int64
	TTL   time.Duration
}

// Result is an Op's outcome: Value (Add, Peek), TTL (Peek) or Err.
type Result struct {
	Value int64
	TTL   time.Duration
	Err   error
}

// BatchCounters is implemented by stores that send several operations in one round trip.
// Each operation keeps its own atomicity; a store may run more of them as one atomic step —
// [Local] the whole batch, the Redis store those whose keys share a hash tag (an attempt's
// counter and its in-flight count) — so a reservation is never seen half done and an attempt
// in flight never reads as a recorded failure. The batch as a whole is not a transaction. The limiter's reservation (lock check and two additions) and settlement are one
// batch each, so a login costs two round trips to the store instead of five.
type BatchCounters interface {
	Batch(ctx context.Context, ops []Op) []Result
}
