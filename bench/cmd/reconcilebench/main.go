// Command reconcilebench measures a reconcile (SPEC section 8) at scale through a real
// gateway: N existing bindings, a list of N usernames of which 1% are new and 1% of the bound
// ones are missing, streamed to PUT /admin/clusters/{code}/users over loopback. It reports the
// time of a dry run and of the applied reconcile, the process's peak RSS growth during each
// (VmHWM after resetting it, file mappings included), and the p50/p99 latency of logins
// through the token endpoint (to an in-process stub SSO) before and during the reconcile.
//
// bench/reconcile.sh runs it for the embedded store and for a private redis-server.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/gateway"
	"github.com/ssogate/ssogate/internal/store/embedded"
	"github.com/ssogate/ssogate/internal/store/redisstore"
)

// Result is the BENCHJSON line.
type Result struct {
	Store           string  `json:"store"`
	Bindings        int     `json:"bindings"`
	ListLines       int     `json:"list_lines"`
	BindSeconds     float64 `json:"bind_seconds"`
	DryRunSeconds   float64 `json:"dry_run_seconds"`
	DryRunRSSMiB    float64 `json:"dry_run_rss_growth_mib"`
	ApplySeconds    float64 `json:"apply_seconds"`
	ApplyRSSMiB     float64 `json:"apply_rss_growth_mib"`
	Added           int64   `json:"added"`
	Removed         int64   `json:"removed"`
	Unchanged       int64   `json:"unchanged"`
	LoginsBefore    int     `json:"logins_before"`
	BeforeP50ms     float64 `json:"login_before_p50_ms"`
	BeforeP99ms     float64 `json:"login_before_p99_ms"`
	LoginsDuringDry int     `json:"logins_during_dry_run"`
	DuringDryP50ms  float64 `json:"login_during_dry_run_p50_ms"`
	DuringDryP99ms  float64 `json:"login_during_dry_run_p99_ms"`
	GCCycles        uint32  `json:"gc_cycles_during_apply"`
	LoginsDuring    int     `json:"logins_during"`
	DuringP50ms     float64 `json:"login_during_p50_ms"`
	DuringP99ms     float64 `json:"login_during_p99_ms"`
	LoadAverage     string  `json:"load_average"`
	BaselineRSSMiB  float64 `json:"baseline_rss_mib"`
}

func main() {
	storeName := flag.String("store", "embedded", "embedded or redis")
	addr := flag.String("redis", "127.0.0.1:26380", "redis address (a private server: the bench flushes nothing but its prefix)")
	n := flag.Int("n", 1_000_000, "existing bindings (and list lines)")
	workers := flag.Int("login-workers", 2, "concurrent login loops")
	dir := flag.String("dir", "", "working directory (default: a temporary one)")
	flag.Parse()
	res, err := run(*storeName, *addr, *n, *workers, *dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reconcilebench:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(res)
	fmt.Printf("BENCHJSON %s\n", b)
}

const code = "BENCH"

func run(storeName, addr string, n, workers int, dir string) (Result, error) {
	ctx := context.Background()
	res := Result{Store: storeName, Bindings: n}
	if dir == "" {
		d, err := os.MkdirTemp("", "reconcilebench-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	cfg := config.Default()
	cfg.Listen, cfg.AdminListen, cfg.AdminToken = "127.0.0.1:0", "127.0.0.1:0", "bench-admin-token"
	cfg.Store.Path = filepath.Join(dir, "ssogate.db")
	var store gateway.Backend
	switch storeName {
	case "embedded":
		cfg.Store.Driver = config.DriverEmbedded
		s, err := embedded.Open(cfg.Store.Path, embedded.Options{})
		if err != nil {
			return res, err
		}
		store = s
	case "redis":
		cfg.Store.Driver = config.DriverRedis
		cfg.Store.RedisAddrs = []string{addr}
		prefix := fmt.Sprintf("reconcilebench:%d:", time.Now().UnixNano())
		// The shipped writer settings: the logins' commands share the connection as in production.
		s, err := redisstore.Open(ctx, redisstore.Options{Addrs: []string{addr}, Prefix: prefix, Timeout: cfg.Store.Timeout,
			FlushDelay: cfg.Store.RedisFlushDelay, Connections: cfg.Store.RedisConnections})
		if err != nil {
			return res, err
		}
		store = s
	default:
		return res, fmt.Errorf("unknown store %q", storeName)
	}
	stub, err := stubSSO()
	if err != nil {
		return res, err
	}
	cfg.Clusters = []directory.Cluster{{Code: code, Name: "bench", SSOURL: stub + "/sso", ServerURL: stub, Enabled: true}}
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	g, err := gateway.New(ctx, cfg, gateway.Options{Store: store, Logger: logger})
	if err != nil {
		return res, err
	}
	defer g.Close()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go g.Run(runCtx)

	// Existing bindings, written straight to the store in bulk batches.
	start := time.Now()
	batch := make([]string, 0, directory.BulkBindBatch)
	for i := range n {
		batch = append(batch, name("u", i))
		if len(batch) == cap(batch) || i == n-1 {
			if err := store.BindMany(ctx, directory.NamespaceUser, code, batch); err != nil {
				return res, fmt.Errorf("bind: %w", err)
			}
			batch = batch[:0]
		}
	}
	res.BindSeconds = time.Since(start).Seconds()
	fmt.Fprintf(os.Stderr, "%s: %d bindings in %.1f s\n", storeName, n, res.BindSeconds)

	// The list: every bound name but each 100th, plus n/100 new ones.
	listPath := filepath.Join(dir, "list.txt")
	f, err := os.Create(listPath)
	if err != nil {
		return res, err
	}
	w := bufio.NewWriter(f)
	for i := range n {
		if i%100 != 50 {
			w.WriteString(name("u", i) + "\n")
			res.ListLines++
		}
	}
	for i := range n / 100 {
		w.WriteString(name("new", i) + "\n")
		res.ListLines++
	}
	if err := w.Flush(); err != nil {
		return res, err
	}
	f.Close()

	admin := "http://" + g.AdminAddr()
	public := "http://" + g.PublicAddr()
	runtime.GC()
	debug.FreeOSMemory()
	res.BaselineRSSMiB = rssMiB("VmRSS")

	// Logins before.
	before := logins(public, n, workers, 3*time.Second, nil)
	res.LoginsBefore = len(before)
	res.BeforeP50ms, res.BeforeP99ms = pct(before, 50), pct(before, 99)

	dryDone := make(chan struct{})
	var duringDry []time.Duration
	var dwg sync.WaitGroup
	dwg.Add(1)
	go func() { defer dwg.Done(); duringDry = logins(public, n, workers, time.Hour, dryDone) }()
	time.Sleep(200 * time.Millisecond)
	dry, secs, rss, err := reconcile(admin, listPath, "dry_run=true&max_removals=-1")
	close(dryDone)
	dwg.Wait()
	res.LoginsDuringDry = len(duringDry)
	res.DuringDryP50ms, res.DuringDryP99ms = pct(duringDry, 50), pct(duringDry, 99)
	if err != nil {
		return res, fmt.Errorf("dry run: %w", err)
	}
	res.DryRunSeconds, res.DryRunRSSMiB = secs, rss
	fmt.Fprintf(os.Stderr, "%s: dry run %.2f s, %+v\n", storeName, secs, dry)
	runtime.GC()
	debug.FreeOSMemory()

	// Logins during the applied reconcile.
	done := make(chan struct{})
	var during []time.Duration
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); during = logins(public, n, workers, time.Hour, done) }()
	time.Sleep(200 * time.Millisecond)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	applied, secs, rss, err := reconcile(admin, listPath, "max_removals=-1")
	runtime.ReadMemStats(&ms1)
	res.GCCycles = ms1.NumGC - ms0.NumGC
	close(done)
	wg.Wait()
	if err != nil {
		return res, fmt.Errorf("apply: %w", err)
	}
	res.ApplySeconds, res.ApplyRSSMiB = secs, rss
	res.Added, res.Removed, res.Unchanged = applied.Added, applied.Removed, applied.Unchanged
	res.LoginsDuring = len(during)
	res.DuringP50ms, res.DuringP99ms = pct(during, 50), pct(during, 99)
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.LoadAverage = strings.Join(strings.Fields(string(la))[:3], " ")
	}
	if applied.Added != int64(n/100) || applied.Removed != int64(n/100) {
		return res, fmt.Errorf("reconcile counts %+v, want %d added and removed", applied, n/100)
	}
	return res, nil
}

func name(prefix string, i int) string { return prefix + strconv.Itoa(1_000_000_000 + i)[1:] }

type counts struct {
	Added, Removed, Unchanged int64
}

// reconcile streams the list file to the admin API and returns the counts, the seconds and
// the peak RSS growth over the RSS before.
func reconcile(admin, path, query string) (counts, float64, float64, error) {
	var c counts
	f, err := os.Open(path)
	if err != nil {
		return c, 0, 0, err
	}
	defer f.Close()
	st, _ := f.Stat()
	base := rssMiB("VmRSS")
	resetPeak()
	req, _ := http.NewRequest(http.MethodPut, admin+"/admin/clusters/"+code+"/users?"+query, f)
	req.ContentLength = st.Size()
	req.Header.Set("Authorization", "Bearer bench-admin-token")
	req.Header.Set("Content-Type", "text/plain")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return c, 0, 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	secs := time.Since(start).Seconds()
	peak := rssMiB("VmHWM")
	if resp.StatusCode != 200 {
		return c, secs, 0, fmt.Errorf("HTTP %d: %s", resp.StatusCode, raw)
	}
	var body struct{ Added, Removed, Unchanged int64 }
	if err := json.Unmarshal(raw, &body); err != nil {
		return c, secs, 0, err
	}
	return counts(body), secs, peak - base, nil
}

// logins runs workers login loops until d passes or stop closes, and returns the latencies.
func logins(public string, n, workers int, d time.Duration, stop chan struct{}) []time.Duration {
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	var failed atomic.Int64
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := 0; i < 200_000 && time.Now().Before(deadline); i++ {
				if stop != nil {
					select {
					case <-stop:
						i = 1 << 30
						continue
					default:
					}
				}
				// Names that stay bound through the reconcile (not each 100th + 50).
				k := rand.IntN(n)
				if k%100 == 50 {
					k++
				}
				form := url.Values{"grant_type": {"password"}, "username": {name("u", k)}, "password": {"p"}}
				req, _ := http.NewRequest(http.MethodPost, public+"/oauth/token", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("app", "app-secret")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(t0))
				if !strings.Contains(string(body), `"access_token"`) {
					if failed.Add(1) == 1 {
						fmt.Fprintf(os.Stderr, "a login did not succeed: %s\n", body)
					}
				}
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(os.Stderr, "%d logins failed\n", f)
	}
	return all
}

func pct(d []time.Duration, p int) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[min(len(s)-1, len(s)*p/100)].Microseconds()) / 1000
}

// stubSSO answers every token request with a fixed success.
func stubSSO() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	body := []byte(`{"access_token":"a","token_type":"bearer","refresh_token":"r","expires_in":3600,"scope":"all"}`)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	return "http://" + ln.Addr().String(), nil
}

func rssMiB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// resetPeak resets VmHWM to the current RSS (Linux: clear_refs 5).
func resetPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }
