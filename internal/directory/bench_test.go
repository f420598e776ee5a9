package directory_test

// Micro-benchmarks of the directory's hot path: a lookup answered from the in-process cache
// (SPEC section 7). Run with
//
//	go test -run '^$' -bench . -benchmem ./internal/directory

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/store/embedded"
)

func newBenchDirectory(b *testing.B, opts directory.Options) *directory.Directory {
	b.Helper()
	store, err := embedded.Open(filepath.Join(b.TempDir(), "ssogate.db"), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	ctx := context.Background()
	d := directory.New(store, opts)
	for _, code := range []string{"STUB", "STUB2"} {
		c := directory.Cluster{Code: code, Name: code, SSOURL: "http://127.0.0.1:1/sso", ServerURL: "http://127.0.0.1:1/server", Enabled: true}
		if _, err := d.PutCluster(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	if err := d.ReloadClusters(ctx); err != nil {
		b.Fatal(err)
	}
	for _, bind := range [][2]string{{"alice", "STUB"}, {"carol", "STUB"}, {"carol", "STUB2"}} {
		if err := d.Bind(ctx, directory.NamespaceUser, bind[0], bind[1]); err != nil {
			b.Fatal(err)
		}
	}
	return d
}

// BenchmarkResolveCacheHit: one username's resolution once its answer is cached.
func BenchmarkResolveCacheHit(b *testing.B) {
	d := newBenchDirectory(b, directory.Options{})
	ctx := context.Background()
	for _, c := range []struct{ name, user, invite string }{
		{"one-cluster", "alice", ""},
		{"unknown-1004", "nobody", ""},
		{"two-clusters-1000", "carol", ""},
		{"invite-code-1001", "alice", "stub2"},
	} {
		b.Run(c.name, func(b *testing.B) {
			d.Resolve(ctx, directory.NamespaceUser, c.user, c.invite) // fills the cache
			b.ReportAllocs()
			for range b.N {
				d.Resolve(ctx, directory.NamespaceUser, c.user, c.invite)
			}
			if s := d.Stats(); s.CacheMisses > 4 {
				b.Fatalf("%d cache misses: not a cache-hit benchmark", s.CacheMisses)
			}
		})
	}
}

// BenchmarkResolveCacheHitParallel: the same from every core, over many usernames, so the
// shard locks and the hit counter are contended as under load.
func BenchmarkResolveCacheHitParallel(b *testing.B) {
	d := newBenchDirectory(b, directory.Options{})
	ctx := context.Background()
	names := make([]string, 1024)
	for i := range names {
		names[i] = fmt.Sprintf("user%04d", i)
		d.Resolve(ctx, directory.NamespaceUser, names[i], "")
	}
	misses := d.Stats().CacheMisses
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			d.Resolve(ctx, directory.NamespaceUser, names[i&1023], "")
			i++
		}
	})
	b.StopTimer()
	if m := d.Stats().CacheMisses - misses; m > 0 {
		b.Fatalf("%d cache misses: not a cache-hit benchmark", m)
	}
}

// BenchmarkCacheBytesPerUsername caches b.N distinct usernames (none bound: the 1004 answer
// is cached too), one per op, and reports the heap the cache grew by per username: SPEC
// section 7 allows at most 200 bytes. Usernames are 12 bytes ("user00000042"); their own
// bytes are counted only once cached (the key is a new string).
func BenchmarkCacheBytesPerUsername(b *testing.B) {
	d := newBenchDirectory(b, directory.Options{CacheSize: 64 * (b.N + 1)}) // no shard ever evicts
	ctx := context.Background()
	names := make([]string, b.N)
	for i := range names {
		names[i] = fmt.Sprintf("user%08d", i)
	}
	before := heapInUse()
	b.ResetTimer()
	for _, name := range names {
		d.Resolve(ctx, directory.NamespaceUser, name, "")
	}
	b.StopTimer()
	after := heapInUse()
	if got := d.Stats().CachedUsernames; got != b.N {
		b.Fatalf("%d usernames cached, want %d", got, b.N)
	}
	b.ReportMetric(float64(after-before)/float64(b.N), "B/username")
	runtime.KeepAlive(names)
	runtime.KeepAlive(d)
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
