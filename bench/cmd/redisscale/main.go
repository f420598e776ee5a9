// Command redisscale measures the redis store at scale, through the real store code
// (internal/store/redisstore): Redis memory per binding after BindMany of N usernames
// (used_memory before and after, on a private, otherwise empty redis-server), the rate of
// BindMany itself, and the latency of looking up usernames the in-process cache has never
// seen (a fresh directory.Directory: every Resolve is a cache miss that reads Redis).
//
// bench/scale.sh runs it against a redis-server it starts on a high loopback port.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/ssogate/ssogate/internal/config"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/store/redisstore"
)

// Result is the BENCHJSON line.
type Result struct {
	Bindings          int     `json:"bindings"`
	Format            string  `json:"format"`
	MeanUsernameBytes float64 `json:"mean_username_bytes"`
	UsedMemoryBefore  int64   `json:"used_memory_before"`
	UsedMemoryAfter   int64   `json:"used_memory_after"`
	BytesPerBinding   float64 `json:"bytes_per_binding"`
	OverUsername      float64 `json:"bytes_over_username"`
	BindSeconds       float64 `json:"bind_seconds"`
	BindRate          float64 `json:"bind_per_second"`
	Encodings         string  `json:"bucket_encodings"`
	Lookups           int     `json:"lookups"`
	LookupP50us       float64 `json:"lookup_p50_us"`
	LookupP99us       float64 `json:"lookup_p99_us"`
	LookupP999us      float64 `json:"lookup_p999_us"`
	ParallelP50us     float64 `json:"lookup_parallel_p50_us"`
	ParallelP99us     float64 `json:"lookup_parallel_p99_us"`
	ParallelRate      float64 `json:"lookup_parallel_per_second"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:26379", "private redis-server (it is measured whole: keep it otherwise empty)")
	prefix := flag.String("prefix", "scale:", "key prefix")
	n := flag.Int("n", 1_000_000, "bindings to create")
	format := flag.String("format", "user%08d", "username format (printf, one int)")
	lookups := flag.Int("lookups", 20_000, "uncached lookups to time (0: none)")
	flag.Parse()
	res, err := run(*addr, *prefix, *n, *format, *lookups)
	if err != nil {
		fmt.Fprintln(os.Stderr, "redisscale:", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(res)
	fmt.Printf("BENCHJSON %s\n", out)
}

func run(addr, prefix string, n int, format string, lookups int) (*Result, error) {
	ctx := context.Background()
	raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	shipped := config.Default().Store // the lookups go through the gateway's writer settings
	store, err := redisstore.Open(ctx, redisstore.Options{Addrs: []string{addr}, Prefix: prefix, Timeout: 10 * time.Second,
		FlushDelay: shipped.RedisFlushDelay, Connections: shipped.RedisConnections})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	c := directory.Cluster{Code: "STUB", Name: "stub", SSOURL: "http://127.0.0.1:1/sso", ServerURL: "http://127.0.0.1:1/server", Enabled: true}
	if err := store.PutCluster(ctx, c); err != nil {
		return nil, err
	}
	res := &Result{Bindings: n, Format: format}
	if res.UsedMemoryBefore, err = usedMemory(ctx, raw); err != nil {
		return nil, err
	}

	const batch = 5000 // directory.BulkBindBatch: the admin import's unit of write
	names := make([]string, 0, batch)
	var totalLen int64
	start := time.Now()
	for i := 0; i < n; i++ {
		name := fmt.Sprintf(format, i)
		totalLen += int64(len(name))
		names = append(names, name)
		if len(names) == batch || i == n-1 {
			if err := store.BindMany(ctx, directory.NamespaceUser, "STUB", names); err != nil {
				return nil, err
			}
			names = names[:0]
		}
	}
	res.BindSeconds = time.Since(start).Seconds()
	res.BindRate = float64(n) / res.BindSeconds
	if res.UsedMemoryAfter, err = usedMemory(ctx, raw); err != nil {
		return nil, err
	}
	res.MeanUsernameBytes = float64(totalLen) / float64(n)
	res.BytesPerBinding = float64(res.UsedMemoryAfter-res.UsedMemoryBefore) / float64(n)
	res.OverUsername = res.BytesPerBinding - res.MeanUsernameBytes
	res.Encodings = encodings(ctx, raw, prefix)

	if lookups > 0 {
		if err := timeLookups(ctx, store, n, format, lookups, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func usedMemory(ctx context.Context, c rueidis.Client) (int64, error) {
	info, err := c.Do(ctx, c.B().Info().Section("memory").Build()).ToString()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no used_memory in INFO")
}

// encodings samples bucket keys and counts their encodings (listpack is the compact one).
func encodings(ctx context.Context, c rueidis.Client, prefix string) string {
	counts := map[string]int{}
	cursor := uint64(0)
	for sampled := 0; sampled < 500; {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+"b*").Count(200).Build()).AsScanEntry()
		if err != nil {
			return "?"
		}
		for _, k := range e.Elements {
			enc, err := c.Do(ctx, c.B().ObjectEncoding().Key(k).Build()).ToString()
			if err == nil {
				counts[enc]++
				sampled++
			}
		}
		if cursor = e.Cursor; cursor == 0 {
			break
		}
	}
	var parts []string
	for k, v := range counts {
		parts = append(parts, fmt.Sprintf("%s:%d", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// timeLookups resolves usernames no cache has seen: one at a time, then from 16 goroutines.
func timeLookups(ctx context.Context, store *redisstore.Store, n int, format string, lookups int, res *Result) error {
	lookups = min(lookups, n/2) // two phases, no username twice
	dir := directory.New(store, directory.Options{CacheSize: 64 * (2*lookups + 1)})
	if err := dir.ReloadClusters(ctx); err != nil {
		return err
	}
	perm := rand.Perm(n)
	next := 0
	pick := func() string { name := fmt.Sprintf(format, perm[next]); next++; return name }

	lat := make([]time.Duration, 0, lookups)
	for range lookups {
		name := pick()
		t := time.Now()
		if _, err := dir.Resolve(ctx, directory.NamespaceUser, name, ""); err != nil {
			return fmt.Errorf("resolve %s: %w", name, err)
		}
		lat = append(lat, time.Since(t))
	}
	res.Lookups = lookups
	res.LookupP50us, res.LookupP99us, res.LookupP999us = pct(lat, 50), pct(lat, 99), pct(lat, 99.9)

	const workers = 16
	names := make([]string, lookups)
	for i := range names {
		names[i] = pick()
	}
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := w; i < len(names); i += workers {
				t := time.Now()
				dir.Resolve(ctx, directory.NamespaceUser, names[i], "")
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.ParallelRate = float64(len(names)) / time.Since(start).Seconds()
	res.ParallelP50us, res.ParallelP99us = pct(all, 50), pct(all, 99)
	if s := dir.Stats(); s.CacheHits > 0 {
		return fmt.Errorf("%d cache hits: lookups were not all uncached", s.CacheHits)
	}
	return nil
}

func pct(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := min(int(p/100*float64(len(s))), len(s)-1)
	return float64(s[i].Nanoseconds()) / 1e3
}
