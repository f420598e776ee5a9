package syncer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ssogate/ssogate/internal/directory"
)

// Store is what the scheduler needs from the shared store: a lease per cluster, so one
// instance runs each sync, and the status every instance answers with.
type Store interface {
	// AcquireLease takes the lease name for owner when it is free or expired, or renews it
	// when owner holds it, for ttl; it reports whether owner holds it afterwards.
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	// ReleaseLease gives the lease up if owner holds it.
	ReleaseLease(ctx context.Context, name, owner string) error
	// PutSyncStatus and GetSyncStatus store a cluster's status (opaque JSON); Get returns
	// nil when none was stored.
	PutSyncStatus(ctx context.Context, code string, status []byte) error
	GetSyncStatus(ctx context.Context, code string) ([]byte, error)
}

// Options configure a Syncer; zero values take the defaults.
type Options struct {
	Directory *directory.Directory
	Store     Store
	// Instance names this gateway instance as a lease owner (default: random).
	Instance string
	// FetchTimeout bounds one fetch of a source, body included (default 60 s).
	FetchTimeout time.Duration
	// MaxBytes caps a source's body (default 256 MiB, ~10 million usernames).
	MaxBytes int64
	// Tick is how often due syncs are looked for and leases renewed (default 1 s).
	Tick time.Duration
	// LeaseTTL is how long an instance that stopped keeps the lease (default 15 s): the
	// holder renews it every Tick and keeps running its clusters' syncs while alive.
	LeaseTTL time.Duration
	// Client fetches the sources (default: its own client with FetchTimeout, redirects
	// only to the same host).
	Client *http.Client
	// Getenv reads the header values (default os.Getenv).
	Getenv     func(string) string
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Syncer schedules the clusters' syncs. New, then Run until the context ends.
type Syncer struct {
	opts    Options
	log     *slog.Logger
	runs    *prometheus.CounterVec
	lastOK  *prometheus.GaugeVec
	mu      sync.Mutex
	running map[string]bool
	wg      sync.WaitGroup
}

// Status is a cluster's sync status as stored and as GET /admin/clusters/{code}/sync answers
// (SPEC section 8), plus which instance ran last and how many runs there were.
type Status struct {
	LastRun       *time.Time `json:"last_run"`
	LastSuccess   *time.Time `json:"last_success"`
	DurationMS    int64      `json:"duration_ms"`
	Added         int64      `json:"added"`
	Removed       int64      `json:"removed"`
	Unchanged     int64      `json:"unchanged"`
	RejectedCount int64      `json:"rejected_count"`
	Error         string     `json:"error"`
	Instance      string     `json:"instance,omitempty"`
	Runs          int64      `json:"runs"`
}

// View is the answer of the status route: the stored status and the cluster's sync setting.
type View struct {
	Status
	Configured bool                   `json:"configured"`
	Sync       *directory.ClusterSync `json:"sync"`
}

// New returns a Syncer. It panics without a Directory or Store (a wiring bug).
func New(opts Options) *Syncer {
	if opts.Directory == nil || opts.Store == nil {
		panic("syncer: Options.Directory and Options.Store are required")
	}
	if opts.Instance == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		opts.Instance = hex.EncodeToString(b[:])
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 60 * time.Second
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 256 << 20
	}
	if opts.Tick <= 0 {
		opts.Tick = time.Second
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 15 * time.Second
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: opts.FetchTimeout, CheckRedirect: sameHost}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Syncer{opts: opts, log: opts.Logger, running: map[string]bool{},
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssogate_sync_runs_total", Help: "Scheduled sync runs by this instance, by cluster and result (success, error).",
		}, []string{"cluster", "result"}),
		lastOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ssogate_sync_last_success_timestamp_seconds", Help: "Unix time of the last successful scheduled sync run by this instance.",
		}, []string{"cluster"}),
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(s.runs, s.lastOK)
	}
	return s
}

// sameHost refuses redirects to another host: a sync header may carry a secret.
func sameHost(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("too many redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		return fmt.Errorf("redirect to another host (%s) refused", req.URL.Host)
	}
	return nil
}

// Instance is this syncer's lease owner name.
func (s *Syncer) Instance() string { return s.opts.Instance }

func leaseName(code string) string { return "sync:" + code }

// Run looks for due syncs every Tick until ctx ends, then waits for the runs in flight.
func (s *Syncer) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	for {
		s.tick(ctx)
		select {
		case <-ctx.Done():
			s.wg.Wait()
			s.releaseAll()
			return nil
		case <-t.C:
		}
	}
}

// tick renews this instance's leases and starts the due syncs it holds the lease of.
func (s *Syncer) tick(ctx context.Context) {
	clusters, err := s.opts.Directory.ListClusters(ctx)
	if err != nil {
		s.log.Warn("sync: clusters not listed; retrying", "err", err)
		return
	}
	for _, c := range clusters {
		if c.Sync == nil {
			continue
		}
		held, err := s.opts.Store.AcquireLease(ctx, leaseName(c.Code), s.opts.Instance, s.opts.LeaseTTL)
		if err != nil {
			s.log.Warn("sync: lease not taken", "cluster", c.Code, "err", err)
			continue
		}
		if !held {
			continue // another instance runs this cluster's sync
		}
		s.mu.Lock()
		busy := s.running[c.Code]
		s.mu.Unlock()
		if busy || !s.due(ctx, c) {
			continue
		}
		s.mu.Lock()
		s.running[c.Code] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func(c directory.Cluster) {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.running, c.Code)
				s.mu.Unlock()
			}()
			s.RunOnce(ctx, c)
		}(c)
	}
}

// due reports whether the cluster's interval has passed since its last run (by any instance).
func (s *Syncer) due(ctx context.Context, c directory.Cluster) bool {
	st, err := s.load(ctx, c.Code)
	if err != nil {
		s.log.Warn("sync: status not read", "cluster", c.Code, "err", err)
		return false
	}
	return st.LastRun == nil || time.Since(*st.LastRun) >= time.Duration(c.Sync.Interval)
}

func (s *Syncer) releaseAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	clusters, err := s.opts.Directory.ListClusters(ctx)
	if err != nil {
		return
	}
	for _, c := range clusters {
		if c.Sync != nil {
			_ = s.opts.Store.ReleaseLease(ctx, leaseName(c.Code), s.opts.Instance)
		}
	}
}

func (s *Syncer) load(ctx context.Context, code string) (Status, error) {
	var st Status
	raw, err := s.opts.Store.GetSyncStatus(ctx, code)
	if err != nil || raw == nil {
		return st, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return Status{}, fmt.Errorf("sync status of %s: %w", code, err)
	}
	return st, nil
}

// RunOnce fetches the cluster's source and reconciles it now, records the status in the
// store, and returns it. A failed fetch or a refused reconcile changes no binding; the
// error is in the status.
func (s *Syncer) RunOnce(ctx context.Context, c directory.Cluster) Status {
	start := time.Now().UTC()
	st, err := s.load(ctx, c.Code)
	if err != nil {
		s.log.Warn("sync: previous status not read", "cluster", c.Code, "err", err)
	}
	res, rejected, err := s.fetchAndReconcile(ctx, c)
	st.LastRun = &start
	st.DurationMS = time.Since(start).Milliseconds()
	st.Added, st.Removed, st.Unchanged, st.RejectedCount = res.Added, res.Removed, res.Unchanged, rejected
	st.Instance = s.opts.Instance
	st.Runs++
	result := "success"
	if err != nil {
		result = "error"
		st.Error = err.Error()
		s.log.Warn("sync: run failed; bindings unchanged", "cluster", c.Code, "err", err,
			"duration_ms", st.DurationMS, "would_remove", res.Removed)
	} else {
		st.Error = ""
		st.LastSuccess = &start
		s.lastOK.WithLabelValues(c.Code).Set(float64(start.UnixNano()) / 1e9)
		s.log.Info("sync: run", "cluster", c.Code, "added", res.Added, "removed", res.Removed,
			"unchanged", res.Unchanged, "rejected", rejected, "duration_ms", st.DurationMS)
	}
	s.runs.WithLabelValues(c.Code, result).Inc()
	raw, _ := json.Marshal(st)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.opts.Store.PutSyncStatus(pctx, c.Code, raw); err != nil {
		s.log.Warn("sync: status not stored", "cluster", c.Code, "err", err)
	}
	return st
}

// Status answers GET /admin/clusters/{code}/sync: ErrNotFound for an unknown cluster.
func (s *Syncer) Status(ctx context.Context, code string) (any, error) {
	c, err := s.opts.Directory.GetCluster(ctx, code)
	if err != nil {
		return nil, err
	}
	st, err := s.load(ctx, c.Code)
	if err != nil {
		return nil, err
	}
	return View{Status: st, Configured: c.Sync != nil, Sync: c.Sync}, nil
}

// RunsCounter is the ssogate_sync_runs_total series of a cluster and result (for tests and
// the console's figures).
func (s *Syncer) RunsCounter(code, result string) prometheus.Counter {
	return s.runs.WithLabelValues(code, result)
}
