package redisstore

import (
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/ratelimit"
)

// BenchmarkBatchReservation is one login's reservation as the limiter sends it (lock check,
// two counters and their in-flight counts) against the machine's Redis: the round trip
// dominates the time; -benchmem shows what building the call allocates.
func BenchmarkBatchReservation(b *testing.B) {
	s := openStore(b, Options{Addrs: []string{machineRedis()}})
	ops := []ratelimit.Op{
		{Kind: ratelimit.OpPeek, Key: "{u:0123456789abcdef}lock"},
		{Kind: ratelimit.OpAdd, Key: "{u:0123456789abcdef}f", Delta: 1, TTL: 15 * time.Minute},
		{Kind: ratelimit.OpAdd, Key: "{u:0123456789abcdef}n", Delta: 1, TTL: 15 * time.Minute},
		{Kind: ratelimit.OpAdd, Key: "{i:7f000001}f", Delta: 1, TTL: time.Hour},
		{Kind: ratelimit.OpAdd, Key: "{i:7f000001}n", Delta: 1, TTL: time.Hour},
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range s.Batch(b.Context(), ops) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
}
