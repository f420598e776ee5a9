package ratelimit

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLocalCounters pins the Counters contract on Local (the shared stores run the same
// behaviour through the conformance suite).
func TestLocalCounters(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	c := NewLocal(0, clk.Now)
	type step struct {
		name    string
		advance time.Duration
		delta   int64 // 0: Peek only
		ttl     time.Duration
		want    int64
		wantTTL time.Duration
	}
	for _, s := range []step{
		{name: "missing key peeks zero", want: 0, wantTTL: 0},
		{name: "create sets expiry", delta: 1, ttl: time.Minute, want: 1, wantTTL: time.Minute},
		// Adding to a live key keeps its expiry: a window is fixed at its first attempt.
		{name: "add keeps expiry", advance: 20 * time.Second, delta: 2, ttl: time.Hour, want: 3, wantTTL: 40 * time.Second},
		{name: "negative delta", delta: -1, ttl: time.Hour, want: 2, wantTTL: 40 * time.Second},
		{name: "expired reads as missing", advance: 40 * time.Second, want: 0, wantTTL: 0},
		{name: "expired restarts from zero", delta: 5, ttl: time.Minute, want: 5, wantTTL: time.Minute},
		// Given back to 0 it keeps its expiry; the next addition starts a new window.
		{name: "give back to zero", advance: 10 * time.Second, delta: -5, ttl: time.Hour, want: 0, wantTTL: 50 * time.Second},
		{name: "zero restarts its window", delta: 1, ttl: time.Hour, want: 1, wantTTL: time.Hour},
	} {
		clk.Advance(s.advance)
		if s.delta != 0 {
			if n, err := c.Add(ctx, "k", s.delta, s.ttl); err != nil || n != s.want {
				t.Fatalf("%s: Add = %d, %v; want %d", s.name, n, err, s.want)
			}
		}
		if n, ttl, err := c.Peek(ctx, "k"); err != nil || n != s.want || ttl != s.wantTTL {
			t.Fatalf("%s: Peek = %d, %v, %v; want %d, %v", s.name, n, ttl, err, s.want, s.wantTTL)
		}
	}
	if err := c.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "never there"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if n, _, _ := c.Peek(ctx, "k"); n != 0 {
		t.Fatalf("deleted key reads %d", n)
	}
	if _, err := c.Add(ctx, "k", 1, 0); err == nil {
		t.Fatal("Add with ttl 0 accepted")
	}
}

func TestLocalBounded(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	c := NewLocal(100, clk.Now)
	// A long-lived counter (a lockout) amid a flood of short ones.
	if _, err := c.Add(ctx, "lock", 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	for i := range 10_000 {
		if _, err := c.Add(ctx, "flood"+strconv.Itoa(i), 1, time.Minute); err != nil {
			t.Fatal(err)
		}
		if c.Len() > 100 {
			t.Fatalf("%d entries after %d adds, bound 100", c.Len(), i+1)
		}
	}
	// Eviction takes the soonest-expiring of a sample, so a lockout outlives a flood of
	// short counters: an attacker cannot wash a lock out with random usernames.
	if n, _, _ := c.Peek(ctx, "lock"); n != 1 {
		t.Fatal("long-lived counter evicted before short ones")
	}
	// The periodic sweep drops expired entries even without pressure.
	clk.Advance(time.Minute + sweepEvery)
	if _, err := c.Add(ctx, "new", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := c.Len(); got != 2 {
		t.Fatalf("%d entries after the sweep, want 2 (lock, new)", got)
	}
}

func TestLocalConcurrent(t *testing.T) {
	c := NewLocal(0, nil)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 100 {
				if _, err := c.Add(t.Context(), "k", 1, time.Minute); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n, _, _ := c.Peek(t.Context(), "k"); n != 5000 {
		t.Fatalf("lost increments: %d, want 5000", n)
	}
}

func BenchmarkBeginDone(b *testing.B) {
	l := New(nil, Options{UserFailures: 1 << 30, IPFailures: 1 << 30})
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		a, err := l.Begin(ctx, "alice", "192.0.2.1")
		if err != nil {
			b.Fatal(err)
		}
		a.Done(ctx, Success)
	}
}

// A batch is one instant of the counters: a reservation raising a counter and its in-flight
// count together is never seen half done, so an attempt in flight never reads as a recorded
// failure (counter minus in flight) to another attempt of this instance.
func TestLocalBatchIsAtomic(t *testing.T) {
	c := NewLocal(0, nil)
	ctx := t.Context()
	raise := []Op{{Kind: OpAdd, Key: "f", Delta: 1, TTL: time.Minute}, {Kind: OpAdd, Key: "c", Delta: 1, TTL: time.Minute}}
	lower := []Op{{Kind: OpAdd, Key: "c", Delta: -1, TTL: time.Minute}, {Kind: OpAdd, Key: "f", Delta: -1, TTL: time.Minute}}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				c.Batch(ctx, raise)
				c.Batch(ctx, lower)
			}
		}()
	}
	var bad atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 4000 {
			r := c.Batch(ctx, raise)
			if r[1].Value != r[0].Value {
				bad.Add(1)
			}
			c.Batch(ctx, lower)
		}
	}()
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d reservations saw a counter and its in-flight count apart", n)
	}
}
