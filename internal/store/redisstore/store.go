package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/ssogate/ssogate/internal/deadline"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/ratelimit"
	"github.com/ssogate/ssogate/internal/refresh"
	"github.com/ssogate/ssogate/internal/store"
)

var (
	_ directory.Store         = (*Store)(nil)
	_ store.Backend           = (*Store)(nil)
	_ directory.Watcher       = (*Store)(nil)
	_ refresh.Store           = (*Store)(nil)
	_ refresh.Batcher         = (*Store)(nil)
	_ ratelimit.BatchCounters = (*Store)(nil)
	_ ratelimit.Counters      = (*Store)(nil)
)

// Options configure the connection to Redis.
type Options struct {
	// Addrs are host:port addresses. One address is a standalone server (or any node of a
	// Redis Cluster, which is detected); several are nodes of a Redis Cluster. With
	// MasterName set they are Sentinels instead.
	Addrs []string
	// MasterName selects Sentinel mode: the name of the master the Sentinels watch.
	MasterName string
	// Password authenticates to the Redis servers (not to the Sentinels).
	Password string
	// DB selects the database of a standalone or Sentinel-managed server (Cluster has only 0).
	DB int
	// Prefix starts every key and the change channel, so several deployments (or test runs)
	// can share one Redis; default "ssogate:". It should not contain '{' or '}': a hash tag
	// in the prefix would put every key into one Cluster slot. The configuration refuses an
	// empty store.redis_prefix, so an empty Prefix here only ever comes from code.
	Prefix string
	// Timeout bounds every Redis round trip of an operation (default 1 s, SPEC section 3
	// store.timeout), so that a Redis that is down or stalled never hangs a caller.
	Timeout time.Duration
	// ReconcileSettle is how long an applying reconcile waits after raising its flag before
	// it changes bindings (reconcile.go); default Timeout.
	ReconcileSettle time.Duration
	// FlushDelay lets each connection's writer wait up to this long after a flush, so that
	// the commands of concurrent logins leave in one write instead of one each (rueidis's
	// MaxFlushDelay; a caller alone is not delayed). 0 writes every command at once.
	FlushDelay time.Duration
	// Connections is how many connections to each server carry the pipelined commands, a
	// power of two (rueidis's PipelineMultiplex); 0 leaves it to rueidis (by CPU count).
	// Fewer connections gather more commands per write (docs/benchmarks.md).
	Connections int
	Logger      *slog.Logger
}

const defaultPrefix = "ssogate:"

// Store is the Redis backend. It is safe for concurrent use.
type Store struct {
	client  rueidis.Client
	clientO rueidis.ClientOption // kept to open the dedicated pub/sub client of Watch
	keys    keys
	cluster bool // Redis Cluster: a script touches the keys of one slot only
	timeout time.Duration
	// pageBudget is how long a ListUsers call starts new rounds (half the timeout).
	pageBudget      time.Duration
	reconcileSettle time.Duration
	log             *slog.Logger

	// Concurrent lookups are gathered under load (gather.go).
	lookups *gatherer[lookupReq, lookupRes]

	// The sweeper removes bindings of deleted clusters in the background (clusters.go).
	sweepKick chan struct{}
	// pub numbers change notifications and resends an All after a lost one (publish.go).
	pub       *publisher
	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// pipelineMultiplex is rueidis's PipelineMultiplex for n connections (a power of two): 2^m
// connections is m, except that rueidis reads 0 as "choose by CPU count" and anything below
// 0 as one connection. n ≤ 0 leaves the choice to rueidis.
func pipelineMultiplex(n int) int {
	switch {
	case n <= 0:
		return 0
	case n == 1:
		return -1
	}
	return bits.Len(uint(n)) - 1
}

// Open connects to Redis and checks that it answers within opts.Timeout. It fails when Redis
// is unreachable: the caller decides whether to retry.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if len(opts.Addrs) == 0 {
		return nil, errors.New("redis store: no address given")
	}
	if opts.Prefix == "" {
		opts.Prefix = defaultPrefix
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReconcileSettle <= 0 {
		opts.ReconcileSettle = opts.Timeout
	}
	co := rueidis.ClientOption{
		InitAddress: opts.Addrs,
		Password:    opts.Password,
		SelectDB:    opts.DB,
		// The Directory keeps its own bounded cache with last-known-good semantics
		// (directory/cache.go); rueidis's cache is flushed on disconnect, which is exactly
		// when the gateway needs its copy, so it would only duplicate memory.
		DisableCache: true,
		Dialer:       net.Dialer{Timeout: opts.Timeout, KeepAlive: time.Second},
		// A stalled server (not a refused connection) is noticed by this deadline and the
		// connection is replaced; each call's own ctx deadline returns earlier to the caller.
		ConnWriteTimeout: max(3*opts.Timeout, 3*time.Second),
		MaxFlushDelay:    opts.FlushDelay,
	}
	co.PipelineMultiplex = pipelineMultiplex(opts.Connections)
	if opts.MasterName != "" {
		co.Sentinel = rueidis.SentinelOption{MasterSet: opts.MasterName, Dialer: co.Dialer}
	}
	client, err := rueidis.NewClient(co)
	if err != nil {
		return nil, fmt.Errorf("redis store: connect to %s: %w", strings.Join(opts.Addrs, ","), err)
	}
	sctx, stop := context.WithCancel(context.Background())
	s := &Store{
		client: client, clientO: co, keys: newKeys(opts.Prefix), timeout: opts.Timeout,
		pageBudget: opts.Timeout / 2, reconcileSettle: opts.ReconcileSettle, log: opts.Logger, sweepKick: make(chan struct{}, 1), stop: stop,
		pub: newPublisher(), cluster: client.Mode() == rueidis.ClientModeCluster,
	}
	s.lookups = newGatherer(gatherBeyond, maxLookupBatch, opts.Timeout, s.lookupMany)
	if err := s.Ping(ctx); err != nil {
		stop()
		client.Close()
		return nil, err
	}
	opts.Logger.Info("redis store connected", "mode", string(client.Mode()), "addrs", opts.Addrs, "prefix", opts.Prefix)
	s.checkEncodingLimits(ctx)
	s.wg.Add(2)
	go s.sweeper(sctx)
	go s.resendLoop(sctx)
	s.kickSweep() // resume a sweep that a previous process did not finish
	return s, nil
}

// Close stops the background sweep and closes the connections. It is safe to call twice.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		s.wg.Wait()
		s.client.Close()
	})
	return nil
}

// Ping reports whether Redis answers (readiness). In Redis Cluster it asks every master of the
// current topology and requires cluster_state:ok, so that a master lost without failover
// makes the instance not ready, and a seed lost in a failover does not.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if s.cluster {
		return s.pingCluster(ctx) // ping.go: the masters of the current topology
	}
	if err := s.client.Do(ctx, s.client.B().Ping().Build()).Error(); err != nil {
		return fmt.Errorf("redis store: ping: %w", err)
	}
	return nil
}

// checkEncodingLimits warns when the server's hash encoding limits are below the ones the
// bucket layout is sized for (layout.go): the store still works, but buckets would become
// hashtables costing several times the memory. Best effort: managed Redis often refuses
// CONFIG, and in Cluster only one node is asked.
func (s *Store) checkEncodingLimits(ctx context.Context) {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return
	}
	defer cancel()
	cfg, err := s.client.Do(ctx, s.client.B().ConfigGet().Parameter("hash-max-listpack-*").Build()).AsStrMap()
	if err != nil {
		return
	}
	need := map[string]int{"hash-max-listpack-entries": 128, "hash-max-listpack-value": maxListpackName}
	for name, min := range need {
		if v, ok := cfg[name]; ok {
			if n, err := strconv.Atoi(v); err == nil && n < min {
				s.log.Warn("redis store: hash encoding limit below what the binding layout needs; "+
					"bindings will use much more memory", "setting", name, "value", n, "need", min)
			}
		}
	}
}

// op bounds one operation by the store timeout and refuses an already-ended context before
// anything is sent, so a refused call never half-applies.
func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("redis store: %w", err)
	}
	ctx, cancel := deadline.After(ctx, s.timeout) // one timer per slot, not per operation
	return ctx, cancel, nil
}
