package ratelimit

import (
	"context"
	"time"
)

// Counters is the shared-counter contract the brute-force limiter needs from a store.
// Operations are atomic across every gateway instance sharing the store.
type Counters interface {
	// Add adds delta to the counter at key and returns the new value. A key that does not
	// exist (or has expired) starts at 0 and expires ttl after this call; adding to an
	// existing key keeps its expiry.
	Add(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error)
	// Peek returns the counter's value and remaining time to live; 0, 0 for a missing key.
	Peek(ctx context.Context, key string) (int64, time.Duration, error)
	// Delete removes the counter; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}
