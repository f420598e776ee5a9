package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/ratelimit"
)

// Batch must agree with Add, Peek and Delete one by one, including after the server lost its
// scripts (SCRIPT FLUSH stands for a restart or a failover).
func TestCounterBatch(t *testing.T) {
	s := openStore(t, Options{Addrs: []string{machineRedis()}})
	ctx := context.Background()
	if _, err := s.Add(ctx, "seen", 4, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, flush := range []bool{false, true} {
		if flush {
			redisCLI(t, machineRedis(), "SCRIPT", "FLUSH")
		}
		res := s.Batch(ctx, []ratelimit.Op{
			{Kind: ratelimit.OpPeek, Key: "seen"},
			{Kind: ratelimit.OpAdd, Key: "n", Delta: 1, TTL: time.Minute},
			{Kind: ratelimit.OpAdd, Key: "n", Delta: 2, TTL: time.Minute},
			{Kind: ratelimit.OpPeek, Key: "missing"},
			{Kind: ratelimit.OpDelete, Key: "n"},
		})
		for i, r := range res {
			if r.Err != nil {
				t.Fatalf("flush=%v op %d: %v", flush, i, r.Err)
			}
		}
		if res[0].Value != 4 || res[0].TTL <= 0 || res[0].TTL > time.Hour {
			t.Fatalf("flush=%v peek: %+v", flush, res[0])
		}
		if res[1].Value != 1 || res[2].Value != 3 {
			t.Fatalf("flush=%v adds in order: %d, %d", flush, res[1].Value, res[2].Value)
		}
		if res[3].Value != 0 || res[3].TTL != 0 {
			t.Fatalf("flush=%v missing counter: %+v", flush, res[3])
		}
		if v, _, _ := s.Peek(ctx, "n"); v != 0 {
			t.Fatalf("flush=%v delete in the batch left %d", flush, v)
		}
	}
}

// The operations of a batch on one hash tag (a username's counter and its in-flight count)
// are one atomic step, even against another instance's batches: a reservation that raises
// both is never seen half done, which would make an attempt in flight read as a recorded
// failure to the limiter (a false refusal, or a lockout of a user who never failed).
func TestCounterBatchAtomicAcrossInstances(t *testing.T) {
	a := openStore(t, Options{Addrs: []string{machineRedis()}})
	b := openStore(t, Options{Addrs: []string{machineRedis()}, Prefix: a.keys.prefix})
	ctx := context.Background()
	raise := []ratelimit.Op{{Kind: ratelimit.OpAdd, Key: "{u:x}f", Delta: 1, TTL: time.Minute},
		{Kind: ratelimit.OpAdd, Key: "{u:x}c", Delta: 1, TTL: time.Minute}}
	lower := []ratelimit.Op{{Kind: ratelimit.OpAdd, Key: "{u:x}c", Delta: -1, TTL: time.Minute},
		{Kind: ratelimit.OpAdd, Key: "{u:x}f", Delta: -1, TTL: time.Minute}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 300 {
			b.Batch(ctx, raise)
			b.Batch(ctx, lower)
		}
	}()
	bad := 0
	for range 300 {
		r := a.Batch(ctx, raise)
		if r[0].Err != nil || r[1].Err != nil {
			t.Fatal(r[0].Err, r[1].Err)
		}
		if r[0].Value != r[1].Value {
			bad++
		}
		a.Batch(ctx, lower)
	}
	<-done
	if bad != 0 {
		t.Fatalf("%d of 300 reservations saw the counter and its in-flight count apart", bad)
	}
}
