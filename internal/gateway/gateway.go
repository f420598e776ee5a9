package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ssogate/ssogate/internal/admin"
	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/health"
	"github.com/ssogate/ssogate/internal/metrics"
	"github.com/ssogate/ssogate/internal/ratelimit"
	"github.com/ssogate/ssogate/internal/sso"
	"github.com/ssogate/ssogate/internal/store"
	"github.com/ssogate/ssogate/internal/syncer"
	"github.com/ssogate/ssogate/internal/tokenapi"
	"github.com/ssogate/ssogate/internal/tracing"
)

// Backend is what the gateway needs from a store, declared once in package store.
type Backend = store.Backend

// Gateway is one running ssogate instance.
type Gateway struct {
	cfg        config.Config
	logger     *slog.Logger
	store      Backend
	dir        *directory.Directory
	fwd        *sso.Forwarder
	token      *tokenapi.Handler
	metrics    *metrics.Metrics
	health     *health.Tracker
	limiter    *ratelimit.Limiter
	public     *tokenapi.Server
	publicLn   net.Listener
	admin      *http.Server
	adminLn    net.Listener
	adminToken string
	// generatedToken is the admin token generated at start when none was configured.
	generatedToken string
	// tokens is the admin API's token set, replaced on reload (admintokens.go).
	tokens *admin.Tokens
	// syncer runs the clusters' scheduled syncs (SPEC section 8).
	syncer *syncer.Syncer
	// reloadMu serialises reloads (SIGHUP and POST /admin/reload).
	reloadMu   sync.Mutex
	cfgMu      sync.Mutex // guards cfg, which Reload updates (reload.go)
	configPath string
	logLevel   *slog.LevelVar
	// tls holds the listeners' certificates when they serve TLS (tls.go).
	tls listenerTLS
	// notify, when set, is told the service state (systemd's sd_notify, Options.Notify).
	notify func(state string)
	tracer *tracing.Tracer // nil: tracing off
}

// Options are what New needs besides the configuration.
type Options struct {
	Logger *slog.Logger
	// ConfigPath is re-read by Reload; empty means Reload re-applies the environment only.
	ConfigPath string
	// Store, when set, is used instead of opening cfg.Store (tests and the demo).
	Store Backend
	// LogLevel, when set, is the level of Logger's handler: Reload applies log_level to it.
	LogLevel *slog.LevelVar
	// Notify, when set, is called with "READY=1" once Run serves and "STOPPING=1" when it
	// starts shutting down (systemd's Type=notify, internal/sdnotify).
	Notify func(state string)
	// SyncInstance names this instance as the owner of scheduled-sync leases (default:
	// random); tests and logs tell instances apart by it.
	SyncInstance string
	// AccessJSON, when set, is the writer of Logger's JSON handler: the access line is then
	// encoded by hand and written there directly (tokenapi.Options.AccessJSON).
	AccessJSON io.Writer
}

// New opens the store and both listeners (so ":0" addresses are known before Run) and wires
// everything. On error everything opened so far is closed.
func New(ctx context.Context, cfg config.Config, opts Options) (*Gateway, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{cfg: cfg, logger: logger, configPath: opts.ConfigPath, logLevel: opts.LogLevel, metrics: metrics.New(), health: health.New()}
	g.notify = opts.Notify
	if err := g.init(ctx, opts); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

func (g *Gateway) init(ctx context.Context, opts Options) (err error) {
	cfg, logger := g.cfg, g.logger
	if err := g.initTracing(); err != nil {
		return err
	}
	g.store = opts.Store
	if g.store == nil {
		if g.store, err = openStore(ctx, cfg, logger); err != nil {
			return err
		}
	}
	g.dir = directory.New(g.store, directory.Options{
		CaseInsensitive: cfg.UsernameCaseInsensitive,
		CacheSize:       cfg.Cache.Size,
		CacheTTL:        cfg.Cache.TTL,
		StaleIfError:    cfg.Cache.StaleIfError,
		StoreTimeout:    cfg.Store.Timeout,
		ClusterRefresh:  cfg.Cache.ClusterRefresh,
		Logger:          logger,
		Trace:           g.storeTrace(),
		Audit:           newAuditRecorder(g.store, logger),
	})
	if err := g.upsertClusters(ctx, cfg.Clusters); err != nil {
		return err
	}
	if !g.dir.Loaded() { // upserting clusters has loaded the table already
		if err := g.dir.ReloadClusters(ctx); err != nil {
			logger.Warn("clusters not loaded yet; the directory answers temporarily_unavailable until the store is reachable", "err", err)
		}
	}
	g.fwd = sso.New(sso.Options{
		ConnectTimeout:  cfg.SSO.ConnectTimeout,
		Timeout:         cfg.SSO.Timeout,
		MaxInFlight:     cfg.SSO.MaxInFlight,
		BreakerFailures: uint32(cfg.SSO.BreakerFailures),
		BreakerOpenFor:  cfg.SSO.BreakerOpenFor,
		Observe: func(cluster string, status int, elapsed time.Duration) {
			g.metrics.ObserveSSO(cluster, status, elapsed)
			g.health.ObserveSSO(cluster, status, elapsed)
		},
		TLS: ssoTLS(cfg),
		OnBreakerChange: func(cluster, from, to string) {
			g.metrics.BreakerChanged(cluster, from, to)
			g.health.BreakerChanged(cluster, from, to)
			logger.Warn("sso circuit breaker changed", "cluster", cluster, "from", from, "to", to)
		},
	})
	if cfg.RateLimit.Enabled {
		g.limiter = ratelimit.New(g.tracedCounters(g.counters()), g.ratelimitOptions(cfg))
	}
	tokenOpts := tokenapi.Options{
		Directory:      g.dir,
		Forwarder:      g.fwd,
		Refresh:        g.store,
		RefreshTTL:     cfg.Refresh.TTL,
		Limiter:        g.limiter,
		TrustedProxies: cfg.TrustedProxyPrefixes(),
		StoreTimeout:   cfg.Store.Timeout,
		Recorder:       recorders{g.metrics, g.health},
		Logger:         logger,
		AccessLog:      true,
		AccessJSON:     opts.AccessJSON,
		MaxBodyBytes:   int(cfg.MaxBodyBytes),
		// One process reads the embedded store: a pending view makes each refresh-token
		// record routable at once (SPEC section 2); on Redis every instance must see it, so
		// it is written before the answer.
		RefreshLocal: cfg.Store.Driver == config.DriverEmbedded,
	}
	g.traceTokenAPI(&tokenOpts)
	g.token = tokenapi.New(tokenOpts)
	g.registerMetrics()
	g.registerObservabilityMetrics()
	g.syncer = syncer.New(syncer.Options{
		Directory: g.dir, Store: g.store, Registerer: g.metrics.Registry(), Logger: logger,
		Instance: opts.SyncInstance,
	})
	g.public = tokenapi.NewServer(g.token, tokenapi.Limits{
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    cfg.HTTP.MaxHeaderBytes,
		MaxBodyBytes:      int(cfg.MaxBodyBytes),
		// The connection bound is the listener's (a JSON 503 past it), not fasthttp's.
	}, logger)

	if g.adminToken, err = g.resolveAdminToken(); err != nil {
		return err
	}
	if g.tokens, err = admin.NewTokens(nil); err != nil {
		return err
	}
	if err := g.applyAdminTokens(cfg); err != nil {
		return err
	}
	g.admin = &http.Server{
		Handler: admin.New(admin.Options{
			Directory:    g.dir,
			Tokens:       g.tokens,
			Metrics:      g.metrics.Handler(),
			Ready:        g.Ready,
			Reload:       func(ctx context.Context) error { return g.Reload(ctx) },
			BreakerState: g.fwd.BreakerState,
			SyncStatus:   g.syncer.Status,
			MaxBodyBytes: cfg.MaxBodyBytes,
			Logger:       logger,
			Lockouts:     g.lockouts(),
			// A bulk import runs as long as its lines keep coming (admin/bulk.go).
			BulkIdleTimeout:  cfg.HTTP.ReadTimeout,
			OnLockoutCleared: g.auditLockoutCleared,
		}),
		// Slow clients are cut off on the admin listener too (SPEC section 6): the request
		// within read_header_timeout + read_timeout, the answer within read_timeout +
		// write_timeout of the headers; the streamed bulk import moves both while it brings data.
		ReadTimeout:       cfg.HTTP.ReadHeaderTimeout + cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.ReadTimeout + cfg.HTTP.WriteTimeout,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    cfg.HTTP.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if g.admin.Handler, err = g.withConsole(ctx, g.admin.Handler); err != nil {
		return err
	}
	if g.publicLn, err = net.Listen("tcp", cfg.Listen); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	g.publicLn = tokenapi.LimitListener(g.publicLn, cfg.HTTP.MaxConns)
	if g.adminLn, err = net.Listen("tcp", cfg.AdminListen); err != nil {
		return fmt.Errorf("admin_listen: %w", err)
	}
	return g.initTLS()
}

// lockouts is the limiter for the lockouts API, or nil (not a nil *Limiter in an interface)
// when rate limiting is off.
func (g *Gateway) lockouts() admin.Lockouts {
	if g.limiter == nil {
		return nil
	}
	return g.limiter
}

// counters picks the brute-force counters: the shared store when there are several instances
// (redis); with the single-process embedded store, nil — the limiter's own in-memory counters
// do the same job without disk writes or store deadlines on every login.
func (g *Gateway) counters() ratelimit.Counters {
	if g.cfg.Store.Driver == config.DriverEmbedded {
		return nil
	}
	return g.store
}

func (g *Gateway) registerMetrics() {
	stats := func(f func(directory.Stats) uint64) func() float64 {
		return func() float64 { return float64(f(g.dir.Stats())) }
	}
	g.metrics.CounterFunc("ssogate_directory_cache_hits_total", "Lookups answered from the in-process cache.",
		stats(func(s directory.Stats) uint64 { return s.CacheHits }))
	g.metrics.CounterFunc("ssogate_directory_cache_misses_total", "Lookups that asked the store.",
		stats(func(s directory.Stats) uint64 { return s.CacheMisses }))
	g.metrics.CounterFunc("ssogate_directory_stale_served_total", "Cached answers served while the store failed.",
		stats(func(s directory.Stats) uint64 { return s.StaleServed }))
	g.metrics.CounterFunc("ssogate_store_errors_total", "Failed store operations of the directory.",
		stats(func(s directory.Stats) uint64 { return s.StoreErrors }))
	g.metrics.GaugeFunc("ssogate_directory_cached_usernames", "Usernames in the in-process cache.",
		func() float64 { return float64(g.dir.Stats().CachedUsernames) })
	g.metrics.CounterFunc("ssogate_refresh_record_failures_total", "Refresh-token records that could not be written.",
		func() float64 { return float64(g.token.RefreshRecordFailures()) })
	if g.limiter != nil {
		g.metrics.CounterFunc("ssogate_ratelimit_rejected_total", "Logins refused by the brute-force limiter.",
			func() float64 { return float64(g.limiter.Stats().Rejected) })
		g.metrics.CounterFunc("ssogate_ratelimit_fallbacks_total", "Limiter operations served by per-instance counters because the store failed.",
			func() float64 { return float64(g.limiter.Stats().Fallbacks) })
		g.metrics.CounterFunc("ssogate_ratelimit_waits_total", "Logins that waited for attempts in flight to settle instead of being refused.",
			func() float64 { return float64(g.limiter.Stats().Waits) })
		g.metrics.GaugeFunc("ssogate_ratelimit_owed_settlements", "Login settlements the store did not take (an outage), paid when it answers again.",
			func() float64 { n, _ := g.limiter.OwedSettlements(); return float64(n) })
	}
}

// PublicAddr and AdminAddr are the listeners' actual addresses.
func (g *Gateway) PublicAddr() string { return g.publicLn.Addr().String() }
func (g *Gateway) AdminAddr() string  { return g.adminLn.Addr().String() }

// AdminToken is the admin API's bearer token (configured or generated).
func (g *Gateway) AdminToken() string { return g.adminToken }

// Directory is exposed for the demo's seeding.
func (g *Gateway) Directory() *directory.Directory { return g.dir }

// Ready reports whether the store is reachable and the cluster table loaded (/readyz). The
// table is read here only while it never has been (a start with the store down); otherwise
// Directory.Run keeps it fresh and a probe stays one ping.
func (g *Gateway) Ready(ctx context.Context) error {
	if err := g.dir.Ready(ctx); err != nil {
		return err
	}
	if !g.dir.Loaded() {
		return g.dir.ReloadClusters(ctx)
	}
	return nil
}

// Run serves both listeners until ctx ends, then shuts down gracefully: it stops accepting,
// lets in-flight requests finish, closes idle keep-alive connections, all within
// shutdown_timeout (SPEC section 6).
func (g *Gateway) Run(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- g.public.Serve(g.publicLn) }()
	go func() {
		if err := g.admin.Serve(g.adminLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
			return
		}
		errc <- nil
	}()
	go func() {
		if err := g.dir.Run(runCtx); err != nil {
			g.logger.Error("directory stopped", "err", err)
		}
	}()
	syncDone := make(chan struct{})
	go func() {
		defer close(syncDone)
		_ = g.syncer.Run(runCtx)
	}()
	defer func() { cancel(); <-syncDone }()
	g.watchCertificates(runCtx)
	g.logger.Info("ssogate serving", "listen", g.PublicAddr(), "admin_listen", g.AdminAddr(), "store", g.currentConfig().Store.Driver,
		"tls", g.tls.public != nil, "admin_tls", g.tls.admin != nil)
	if g.notify != nil {
		g.notify("READY=1")
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		g.logger.Error("listener failed", "err", serveErr)
	}
	shutdownTimeout := g.currentConfig().ShutdownTimeout // a reload may have changed it
	shutdownCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer stop()
	if g.notify != nil {
		g.notify("STOPPING=1")
	}
	g.logger.Info("shutting down", "timeout", shutdownTimeout.String())
	var wg sync.WaitGroup
	var publicErr, adminErr error
	wg.Add(2)
	go func() { defer wg.Done(); publicErr = g.public.ShutdownWithContext(shutdownCtx) }()
	go func() { defer wg.Done(); adminErr = g.admin.Shutdown(shutdownCtx) }()
	wg.Wait()
	g.fwd.CloseIdleConnections()
	if err := errors.Join(serveErr, publicErr, adminErr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	g.logger.Info("stopped")
	return nil
}

// Close releases what New opened. It is safe after a failed New and after Run.
func (g *Gateway) Close() error {
	var errs []error
	if g.publicLn != nil {
		g.publicLn.Close()
	}
	if g.adminLn != nil {
		g.adminLn.Close()
	}
	if g.token != nil {
		g.token.Close()
	}
	// After the server has drained, before the store closes: the settlements still queued
	// reach the store.
	g.limiter.Close()
	g.closeTracing()
	if g.store != nil {
		errs = append(errs, g.store.Close())
		g.store = nil
	}
	return errors.Join(errs...)
}

func (g *Gateway) upsertClusters(ctx context.Context, clusters []directory.Cluster) error {
	ctx = directory.WithActor(ctx, directory.ActorConfig)
	for _, c := range clusters {
		if _, err := g.dir.PutCluster(ctx, c); err != nil {
			return fmt.Errorf("clusters: upsert %s: %w", c.Code, err)
		}
	}
	return nil
}

// resolveAdminToken returns the configured token or generates one and writes it, readable by
// the owner only, beside the store; its location is logged, never the token itself.
func (g *Gateway) resolveAdminToken() (string, error) {
	if g.cfg.AdminToken != "" || len(g.cfg.AdminTokens) > 0 {
		return g.cfg.AdminToken, nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("admin_token: generate: %w", err)
	}
	token := hex.EncodeToString(b[:])
	dir := filepath.Dir(g.cfg.Store.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("admin_token: %w", err)
	}
	path := filepath.Join(dir, "admin-token")
	if err := writeSecretFile(path, []byte(token+"\n")); err != nil {
		return "", fmt.Errorf("admin_token: write %s: %w", path, err)
	}
	g.logger.Warn("no admin_token configured; generated one", "file", path)
	g.generatedToken = token
	return token, nil
}
