package redisstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
)

// memtestName is the username of binding i: 21 bytes, like a typical e-mail login.
func memtestName(i int) string { return fmt.Sprintf("u%08d@example.com", i) }

// TestMemoryPerBinding measures the SPEC section 7 targets on a private redis-server with
// Redis's default encoding limits. It runs at 50,000 bindings unless told to load millions:
//
//	SSOGATE_MEMTEST=1000000 go test ./internal/store/redisstore/ -run TestMemoryPerBinding -v
//
// It reports Redis memory per binding (used_memory after minus before, over N) against the
// target of username bytes + 8, the import rate through BindMany batches of 5000 (the bulk
// import's unit), and the p50/p99 of uncached lookups on loopback.
func TestMemoryPerBinding(t *testing.T) {
	// By default it runs at a small size: the layout's invariants (listpack buckets, complete
	// listings, sweeps) hold at any size; the +8 B target is asserted from 10 M on.
	n, _ := strconv.Atoi(os.Getenv("SSOGATE_MEMTEST"))
	if n <= 0 {
		n = 50_000
	}
	srv := startRedis(t)
	ctx := context.Background()
	// The production prefix, so key names cost what they will cost.
	s, err := Open(ctx, Options{Addrs: []string{srv.addr}, Prefix: defaultPrefix, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.PutCluster(ctx, testCluster("A")); err != nil {
		t.Fatal(err)
	}
	before := usedMemory(t, srv.addr)

	const batch = directory.BulkBindBatch
	names := make([]string, 0, batch)
	var nameBytes int
	start := time.Now()
	for i := 0; i < n; i++ {
		name := memtestName(i)
		nameBytes += len(name)
		names = append(names, name)
		if len(names) == batch || i == n-1 {
			if err := s.BindMany(ctx, directory.NamespaceUser, "A", names); err != nil {
				t.Fatalf("BindMany at %d: %v", i, err)
			}
			names = names[:0]
		}
	}
	took := time.Since(start)
	after := usedMemory(t, srv.addr)

	perBinding := float64(after-before) / float64(n)
	avgName := float64(nameBytes) / float64(n)
	rate := float64(n) / took.Seconds()
	t.Logf("%d bindings: used_memory %d -> %d bytes", n, before, after)
	t.Logf("memory per binding: %.2f bytes; average username %.2f bytes; overhead %.2f bytes (target: at most 8 at 10 M)",
		perBinding, avgName, perBinding-avgName)
	t.Logf("import: %s, %.0f bindings/s, %.2f s per million", took.Round(time.Millisecond), rate, 1e6/rate)

	// Every bucket must still be a listpack; report how full they are.
	maxLen, notListpack := 0, 0
	for pos := 0; pos < shortBuckets; pos += shortBuckets / 512 {
		key := s.keys.bucket(directory.NamespaceUser, pos)
		l, _ := strconv.Atoi(redisCLI(t, srv.addr, "hlen", key))
		maxLen = max(maxLen, l)
		if l > 0 && redisCLI(t, srv.addr, "object", "encoding", key) != "listpack" {
			notListpack++
		}
	}
	t.Logf("512 sampled buckets: fullest has %d fields, %d are not listpacks", maxLen, notListpack)
	if notListpack > 0 {
		t.Errorf("%d sampled buckets left listpack encoding", notListpack)
	}

	// Uncached lookups, one at a time, as a cache miss does them.
	lat := make([]time.Duration, 0, 20000)
	for range cap(lat) {
		name := memtestName(rand.IntN(n))
		t0 := time.Now()
		codes, err := s.Lookup(ctx, directory.NamespaceUser, name)
		lat = append(lat, time.Since(t0))
		if err != nil || len(codes) != 1 {
			t.Fatalf("Lookup(%q) = %q, %v", name, codes, err)
		}
	}
	slices.Sort(lat)
	t.Logf("lookup latency over %d uncached lookups: p50 %s, p99 %s, max %s", len(lat),
		lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])

	if n >= 10_000_000 && perBinding > avgName+8 {
		t.Errorf("memory per binding %.2f exceeds username + 8 = %.2f (SPEC section 7)", perBinding, avgName+8)
	}

	// ListUsers at scale: every username exactly once, in pages of 1000.
	start = time.Now()
	seen, calls, cursor := 0, 0, ""
	for {
		page, next, err := s.ListUsers(ctx, directory.NamespaceUser, "A", cursor, 1000)
		if err != nil {
			t.Fatalf("ListUsers after %d calls: %v", calls, err)
		}
		calls++
		seen += len(page)
		if next == "" {
			break
		}
		cursor = next
	}
	t.Logf("ListUsers walk: %d usernames in %d calls, %s", seen, calls, time.Since(start).Round(time.Millisecond))
	if seen != n {
		t.Errorf("ListUsers listed %d usernames, want %d", seen, n)
	}

	// Deleting the cluster hides its bindings at once; the sweep frees them in the background.
	start = time.Now()
	if err := s.DeleteCluster(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	for redisCLI(t, srv.addr, "scard", s.keys.dead) != "0" {
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("sweep of %d bindings after DeleteCluster: %s; used_memory now %d bytes",
		n, time.Since(start).Round(time.Millisecond), usedMemory(t, srv.addr))
}

func usedMemory(t *testing.T, addr string) int64 {
	t.Helper()
	for line := range strings.SplitSeq(redisCLI(t, addr, "info", "memory"), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("INFO memory has no used_memory")
	return 0
}

// BenchmarkLookup measures one uncached lookup of a bound username against the machine's
// Redis (two round trips: the bucket field, then the id table).
func BenchmarkLookup(b *testing.B) {
	s := openBenchStore(b)
	ctx := context.Background()
	names := make([]string, 10000)
	for i := range names {
		names[i] = memtestName(i)
	}
	if err := s.BindMany(ctx, directory.NamespaceUser, "A", names); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Lookup(ctx, directory.NamespaceUser, names[i%len(names)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBindMany measures one bulk-import batch of directory.BulkBindBatch usernames.
func BenchmarkBindMany(b *testing.B) {
	s := openBenchStore(b)
	ctx := context.Background()
	names := make([]string, directory.BulkBindBatch)
	for i := 0; b.Loop(); i++ {
		for j := range names {
			names[j] = memtestName(i*len(names) + j)
		}
		if err := s.BindMany(ctx, directory.NamespaceUser, "A", names); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(names))/b.Elapsed().Seconds(), "bindings/s")
}

func openBenchStore(b *testing.B) *Store {
	b.Helper()
	prefix := "ssogatebench:" + strconv.FormatUint(rand.Uint64(), 36) + ":"
	ctx := context.Background()
	s, err := Open(ctx, Options{Addrs: []string{machineRedis()}, Prefix: prefix, Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s.Close()
		deleteKeys(b, s.clientO, prefix)
	})
	if err := s.PutCluster(ctx, testCluster("A")); err != nil {
		b.Fatal(err)
	}
	return s
}
