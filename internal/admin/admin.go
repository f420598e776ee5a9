package admin

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
)

// Options configure the admin API.
type Options struct {
	// Directory is the directory the API manages. Required.
	Directory *directory.Directory
	// Token is the admin bearer token. An empty token locks every /admin/ path (fail closed):
	// the caller is expected to generate one when none is configured (SPEC section 5).
	Token string
	// Tokens, when set, is the set of accepted tokens (scoped tokens, SPEC section 8) and
	// Token is ignored; the caller may replace its content at run time (Tokens.Set).
	Tokens *Tokens
	// Metrics is served at GET /metrics without a token; nil answers 404.
	Metrics http.Handler
	// Ready reports readiness for /readyz; nil uses Directory.Ready (store reachable).
	Ready func(ctx context.Context) error
	// Reload backs POST /admin/reload (re-read the configuration); nil answers 404.
	Reload func(ctx context.Context) error
	// BreakerState, when set, adds a "breaker" field to each cluster rendered by
	// GET /admin/clusters and GET /admin/clusters/{code}.
	BreakerState func(code string) string
	// SyncStatus backs GET /admin/clusters/{code}/sync (SPEC section 8): the scheduled sync's
	// status of a cluster, rendered as JSON; ErrNotFound (wrapped) for an unknown cluster.
	// nil answers 404.
	SyncStatus func(ctx context.Context, code string) (any, error)
	// MaxBodyBytes bounds JSON request bodies (default 64 KiB). The bulk import is streamed
	// and not bounded by it.
	MaxBodyBytes int64
	// Logger receives one line per admin request; nil uses slog.Default().
	Logger *slog.Logger
	// Lockouts backs GET and DELETE /admin/lockouts (SPEC section 9); nil (ratelimit.enabled
	// false) answers them 503 ratelimit_disabled.
	Lockouts Lockouts
	// OnLockoutCleared, when set, is called after each successful DELETE /admin/lockouts with
	// the request's context (its actor) and what was cleared: the audit log's hook.
	OnLockoutCleared func(ctx context.Context, target LockoutTarget)
	// BulkIdleTimeout lets a bulk import outlive the server's ReadTimeout and WriteTimeout
	// while its data keeps coming: every read of its body that brings data moves the
	// connection's read deadline to now + BulkIdleTimeout (and the write deadline a minute
	// past that, for the last batch and the answer). Zero leaves the server's deadlines
	// alone: an import then has the server's ReadTimeout in all (bulk.go).
	BulkIdleTimeout time.Duration
}

// DefaultMaxBodyBytes is the default bound of a JSON request body.
const DefaultMaxBodyBytes = 64 << 10

// readyTimeout bounds a readiness probe, so that /readyz answers even when the store hangs
// (SPEC section 3: not-ready within 5 s).
const readyTimeout = 3 * time.Second

type server struct {
	dir      *directory.Directory
	tokens   *Tokens
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	patterns []string // every route registered, for Routes
}

// New returns the admin API handler. It panics when opts.Directory is nil, a wiring bug.
func New(opts Options) http.Handler {
	if opts.Directory == nil {
		panic("admin: Options.Directory is required")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Ready == nil {
		opts.Ready = opts.Directory.Ready
	}
	s := &server{dir: opts.Directory, opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	s.tokens = opts.Tokens
	if s.tokens == nil {
		var list []Token
		if opts.Token != "" {
			list = append(list, LegacyToken(opts.Token))
		}
		s.tokens, _ = NewTokens(list) // a legacy token's scope is always valid
	}
	if s.tokens.Len() == 0 {
		s.log.Warn("admin: no admin token configured; every /admin/ request will be refused")
	}
	s.routes()
	return s
}

func (s *server) routes() {
	m := recordingMux{s.mux, &s.patterns}
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	if s.opts.Metrics != nil {
		m.Handle("GET /metrics", s.opts.Metrics)
	}
	// Every /admin/ route states who may use it (SPEC section 8: a cluster-scoped token
	// only reaches its own cluster's binding routes).
	admin := func(pattern string, h http.HandlerFunc) { m.HandleFunc(pattern, Require(RouteAdmin, h)) }
	bindings := func(pattern string, h http.HandlerFunc) { m.HandleFunc(pattern, Require(RouteClusterBindings, h)) }
	admin("GET /admin/clusters", s.listClusters)
	admin("GET /admin/clusters/{code}", s.getCluster)
	admin("PUT /admin/clusters/{code}", s.putCluster)
	admin("DELETE /admin/clusters/{code}", s.deleteCluster)
	bindings("PUT /admin/clusters/{code}/users/{username}", s.bind)
	bindings("DELETE /admin/clusters/{code}/users/{username}", s.unbind)
	bindings("POST /admin/clusters/{code}/users", s.bulkBind)
	bindings("PUT /admin/clusters/{code}/users", s.reconcile)
	bindings("GET /admin/clusters/{code}/users", s.listUsers)
	admin("GET /admin/users/{username}", s.lookupUser)
	admin("GET /admin/openapi.yaml", s.openapi)
	if s.opts.SyncStatus != nil {
		admin("GET /admin/clusters/{code}/sync", s.syncStatus)
	}
	admin("GET /admin/audit", s.auditLog)
	if s.opts.Reload != nil {
		admin("POST /admin/reload", s.reload)
	}
	s.lockoutRoutes(func(pattern string, h http.HandlerFunc) { m.HandleFunc(pattern, Require(RouteAdmin, h)) })
}

// ServeHTTP logs the request, checks the token on /admin/ paths before routing (so that an
// unauthenticated caller learns nothing about which routes exist) and answers unmatched
// routes and wrong methods in JSON rather than the mux's plain text.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	w = rec
	w.Header().Set("Cache-Control", "no-store")
	var actor string
	defer func() {
		// Never log headers: the Authorization header carries the admin token. The actor is
		// the token's name, never the token.
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "admin request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.statusCode()),
			slog.Duration("latency", time.Since(start)),
			slog.Int64("bytes", rec.bytes),
			slog.String("remote", r.RemoteAddr),
			slog.String("actor", actor))
	}()

	if isAdminPath(r.URL.Path) {
		p, ok := authenticatedPrincipal(r.Context())
		if !ok {
			p, ok = s.tokens.Authenticate(r)
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", "Bearer")
			msg := "missing bearer token in the Authorization header"
			if r.Header.Get("Authorization") != "" {
				msg = "invalid admin token"
			}
			writeError(w, http.StatusUnauthorized, "unauthorized", msg)
			return
		}
		actor = p.Name
		r = r.WithContext(WithPrincipal(r.Context(), p))
	}
	if h, pattern := s.mux.Handler(r); pattern == "" {
		// No route: the mux answers 404, 405 (with Allow) or a redirect to a cleaned path;
		// the first two are rewritten as JSON.
		h.ServeHTTP(&fallbackWriter{w: w}, r)
		return
	}
	// Served through the mux itself (not the handler found above) so that PathValue is set.
	s.mux.ServeHTTP(w, r)
}

func isAdminPath(p string) bool {
	return p == "/admin" || strings.HasPrefix(p, "/admin/")
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.opts.Ready(ctx); err != nil {
		s.log.Warn("admin: not ready", "err", err)
		writeError(w, http.StatusServiceUnavailable, "not_ready", "not ready: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *server) reload(w http.ResponseWriter, r *http.Request) {
	if err := s.opts.Reload(r.Context()); err != nil {
		s.log.Error("admin: reload failed", "err", err)
		// The operator asked for the reload and needs to know which key is wrong.
		writeError(w, http.StatusInternalServerError, "reload_failed", err.Error())
		return
	}
	s.log.Info("admin: configuration reloaded")
	writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
}
