package redisstore

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
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

// BenchmarkConcurrentLookups is BenchmarkLookup (memory_test.go) from 64 goroutines at once,
// where the lookups beyond the gatherer's places on the wire share round trips (gather.go);
// half the names are bound, half unknown.
func BenchmarkConcurrentLookups(b *testing.B) {
	s := openStore(b, Options{Addrs: []string{machineRedis()}})
	ctx := b.Context()
	if err := s.PutCluster(ctx, directory.Cluster{Code: "A", Name: "a", SSOURL: "http://a/", ServerURL: "http://a/"}); err != nil {
		b.Fatal(err)
	}
	names := make([]string, 1024)
	for i := range names {
		names[i] = fmt.Sprintf("user%04d", i)
	}
	if err := s.BindMany(ctx, directory.NamespaceUser, "A", names[:len(names)/2]); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(32) // × GOMAXPROCS (2 here): 64 goroutines
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Lookup(ctx, directory.NamespaceUser, names[next.Add(1)%int64(len(names))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
