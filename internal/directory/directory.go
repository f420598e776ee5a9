package directory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ssogate/ssogate/internal/audit"
	"github.com/ssogate/ssogate/internal/deadline"
)

// Defaults of SPEC section 3 (and of the config's cache.* and store.timeout keys).
const (
	DefaultCacheSize      = 1_000_000
	DefaultCacheTTL       = time.Minute
	DefaultStaleIfError   = time.Hour
	DefaultStoreTimeout   = time.Second
	DefaultClusterRefresh = 10 * time.Second
)

// Options tune a Directory. A zero CacheSize, CacheTTL, StoreTimeout or ClusterRefresh takes
// its default (the configuration refuses zero for those keys, so it never means anything
// else); a zero StaleIfError means what cache.stale_if_error: 0 means — never serve a stale
// answer — so the caller passes DefaultStaleIfError explicitly when it wants one.
type Options struct {
	// CaseInsensitive folds usernames to lower case (username_case_insensitive).
	CaseInsensitive bool
	// CacheSize bounds the number of cached usernames (default 1,000,000).
	CacheSize int
	// CacheTTL is how long a cached answer is served without asking the store again
	// (default 1 min). Changes made through the admin API invalidate at once; the TTL is a
	// safety net for changes made behind the gateway's back.
	CacheTTL time.Duration
	// StaleIfError is how long a cached answer may still be served while the store fails.
	// Zero (or negative) never serves one: a lookup the cache cannot answer fresh asks the
	// store, and a store failure is ErrUnavailable (1002 temporarily_unavailable).
	StaleIfError time.Duration
	// StoreTimeout is the deadline of each store operation (default 1 s).
	StoreTimeout time.Duration
	// ClusterRefresh is how often the cluster table is reloaded from the store (default 10 s);
	// stores that implement Watcher also trigger a reload on every change.
	ClusterRefresh time.Duration
	Logger         *slog.Logger
	// Trace, when set, wraps each store lookup of a resolution in a span (internal/tracing's
	// StoreSpan); nil: tracing off.
	Trace func(ctx context.Context, op string) (context.Context, func(error))
	// Audit records every change made through the write side (manage.go); nil records
	// nothing.
	Audit *audit.Recorder
}

func (o *Options) setDefaults() {
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	// StaleIfError has no default here: zero is "never" (cache.stale_if_error: 0), not "unset".
	o.StaleIfError = max(o.StaleIfError, 0)
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = DefaultStoreTimeout
	}
	if o.ClusterRefresh <= 0 {
		o.ClusterRefresh = DefaultClusterRefresh
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// AmbiguousError is the answer for a username bound to several enabled clusters (code 1000).
type AmbiguousError struct {
	Choices []Cluster // ordered by code
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("user is bound to %d clusters", len(e.Choices))
}

// Stats are the Directory's counters, exported as metrics.
type Stats struct {
	CacheHits, CacheMisses, StaleServed, StoreErrors uint64
	CachedUsernames                                  int
}

// Directory answers "which cluster is this user's" from a bounded cache in front of a Store,
// and applies admin changes to the store while keeping the cache coherent.
type Directory struct {
	store Store
	opts  Options
	cache *cache
	sets  *codeSets
	table atomic.Pointer[clusterTable]
	// ttl and staleIfError are opts.CacheTTL and opts.StaleIfError in nanoseconds, which a
	// configuration reload may change while lookups run (SetCacheTimes).
	ttl, staleIfError atomic.Int64
	// clusterRefresh is opts.ClusterRefresh, changed by SetClusterRefresh, which pokes
	// refreshChanged so that Run's ticker follows at once.
	clusterRefresh atomic.Int64
	refreshChanged chan struct{}

	hits, misses, stale, storeErrors atomic.Uint64
}

type clusterTable struct {
	byCode map[string]*Cluster
	loaded time.Time
}

// New returns a Directory over store. Call Run to keep the cluster table and cache in step
// with changes made by other instances.
func New(store Store, opts Options) *Directory {
	opts.setDefaults()
	d := &Directory{store: store, opts: opts, cache: newCache(opts.CacheSize), sets: newCodeSets(),
		refreshChanged: make(chan struct{}, 1)}
	d.clusterRefresh.Store(int64(opts.ClusterRefresh))
	d.table.Store(&clusterTable{})
	d.SetCacheTimes(opts.CacheTTL, opts.StaleIfError)
	return d
}

// SetClusterRefresh changes cache.cluster_refresh of a running Directory (a configuration
// reload); Run reloads the cluster table at the new period from then on. Zero or
// negative takes the default, as in Options.
func (d *Directory) SetClusterRefresh(every time.Duration) {
	if every <= 0 {
		every = DefaultClusterRefresh
	}
	d.clusterRefresh.Store(int64(every))
	select {
	case d.refreshChanged <- struct{}{}:
	default:
	}
}

// SetCacheTimes changes cache.ttl and cache.stale_if_error of a running Directory (a
// configuration reload). The zero values mean what they mean in Options: a zero ttl takes the
// default, a zero staleIfError never serves a stale answer.
func (d *Directory) SetCacheTimes(ttl, staleIfError time.Duration) {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	d.ttl.Store(int64(ttl))
	d.staleIfError.Store(int64(max(staleIfError, 0)))
}

// Run loads the cluster table and keeps it fresh until ctx ends: periodically, and on every
// change reported by a store that implements Watcher.
func (d *Directory) Run(ctx context.Context) error {
	if !d.Loaded() {
		if err := d.ReloadClusters(ctx); err != nil {
			d.opts.Logger.Warn("directory: initial cluster load failed; retrying", "err", err)
		}
	}
	if w, ok := d.store.(Watcher); ok {
		go func() {
			err := w.Watch(ctx, func(ch Change) {
				if ch.All {
					d.invalidateAll(ctx)
					return
				}
				d.cache.invalidate(cacheKey(ch.Namespace, ch.Username))
			})
			if err != nil && ctx.Err() == nil {
				d.opts.Logger.Error("directory: watch ended", "err", err)
			}
		}()
	}
	t := time.NewTicker(time.Duration(d.clusterRefresh.Load()))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.refreshChanged:
			t.Reset(time.Duration(d.clusterRefresh.Load()))
		case <-t.C:
			if err := d.ReloadClusters(ctx); err != nil {
				d.opts.Logger.Warn("directory: cluster reload failed", "err", err)
			}
		}
	}
}

func (d *Directory) invalidateAll(ctx context.Context) {
	d.cache.invalidateAll(time.Now())
	if err := d.ReloadClusters(ctx); err != nil {
		d.opts.Logger.Warn("directory: cluster reload failed", "err", err)
	}
}

// ReloadClusters replaces the in-memory cluster table with the store's. On failure the
// previous table stays in use.
func (d *Directory) ReloadClusters(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.StoreTimeout)
	defer cancel()
	list, err := d.store.ListClusters(ctx)
	if err != nil {
		d.storeErrors.Add(1)
		return fmt.Errorf("load clusters: %w", err)
	}
	t := &clusterTable{byCode: make(map[string]*Cluster, len(list)), loaded: time.Now()}
	for i := range list {
		t.byCode[list[i].Code] = &list[i]
	}
	d.table.Store(t)
	return nil
}

// Loaded reports whether the cluster table has been read from the store at least once.
func (d *Directory) Loaded() bool { return d.table.Load().byCode != nil }

// NormalizeUsername applies the directory's username rules (trim, limits, optional case fold).
func (d *Directory) NormalizeUsername(name string) (string, error) {
	return NormalizeUsername(name, d.opts.CaseInsensitive)
}

// Resolve finds the cluster a login goes to (SPEC section 2, step 5). It returns
// ErrBadInviteCode (1001), ErrUnknownUser (1004), *AmbiguousError (1000), ErrInvalid for an
// unusable username, or ErrUnavailable when the store cannot answer and nothing is cached.
func (d *Directory) Resolve(ctx context.Context, ns Namespace, username, inviteCode string) (Cluster, error) {
	name, err := d.NormalizeUsername(username)
	if err != nil {
		return Cluster{}, err
	}
	return d.ResolveNormalized(ctx, ns, name, inviteCode)
}

// ResolveNormalized is Resolve for a username the caller already passed through
// NormalizeUsername (the token endpoint does, for its rate-limit key), so the hot path
// normalises once.
func (d *Directory) ResolveNormalized(ctx context.Context, ns Namespace, name, inviteCode string) (Cluster, error) {
	t := d.table.Load()
	if t.byCode == nil {
		return Cluster{}, fmt.Errorf("cluster table not loaded: %w", ErrUnavailable)
	}
	if inviteCode != "" {
		c, err := t.byInviteCode(inviteCode)
		if err != nil {
			return Cluster{}, err
		}
		codes, err := d.lookup(ctx, ns, name)
		if err != nil {
			return Cluster{}, err
		}
		if !slices.Contains(codes, c.Code) {
			return Cluster{}, ErrBadInviteCode
		}
		return *c, nil
	}
	codes, err := d.lookup(ctx, ns, name)
	if err != nil {
		return Cluster{}, err
	}
	var found *Cluster
	n := 0
	for _, code := range codes {
		if c := t.enabled(code); c != nil {
			if n == 0 {
				found = c
			}
			n++
		}
	}
	switch n {
	case 0:
		return Cluster{}, ErrUnknownUser
	case 1:
		return *found, nil
	}
	choices := make([]Cluster, 0, n)
	for _, code := range codes { // codes are sorted, so choices are ordered by code
		if c := t.enabled(code); c != nil {
			choices = append(choices, *c)
		}
	}
	return Cluster{}, &AmbiguousError{Choices: choices}
}

// Cluster returns an enabled cluster by invite code for grants that name one (refresh and
// other grants); ErrBadInviteCode otherwise.
func (d *Directory) Cluster(inviteCode string) (Cluster, error) {
	t := d.table.Load()
	if t.byCode == nil {
		return Cluster{}, fmt.Errorf("cluster table not loaded: %w", ErrUnavailable)
	}
	c, err := t.byInviteCode(inviteCode)
	if err != nil {
		return Cluster{}, err
	}
	return *c, nil
}

// enabled returns the cluster with a normalised code if it is known and enabled, else nil.
func (t *clusterTable) enabled(code string) *Cluster {
	if c, ok := t.byCode[code]; ok && c.Enabled {
		return c
	}
	return nil
}

// byInviteCode is the one rule for an invite code typed by a user: it names a known, enabled
// cluster (any case), or the answer is ErrBadInviteCode (1001).
func (t *clusterTable) byInviteCode(inviteCode string) (*Cluster, error) {
	code, err := NormalizeCode(inviteCode)
	if err != nil {
		return nil, ErrBadInviteCode
	}
	if c := t.enabled(code); c != nil {
		return c, nil
	}
	return nil, ErrBadInviteCode
}

// lookup returns the codes bound to an already-normalised username, from the cache when fresh.
func (d *Directory) lookup(ctx context.Context, ns Namespace, name string) ([]string, error) {
	key := cacheKey(ns, name)
	now := time.Now()
	e, ok, gen := d.cache.get(key)
	if ok && d.cache.fresh(e, now, time.Duration(d.ttl.Load())) {
		d.hits.Add(1)
		return d.sets.get(e.set), nil
	}
	d.misses.Add(1)
	sctx, cancel := deadline.After(ctx, d.opts.StoreTimeout)
	var endSpan func(error)
	if d.opts.Trace != nil {
		sctx, endSpan = d.opts.Trace(sctx, "lookup")
	}
	codes, err := d.store.Lookup(sctx, ns, name)
	if endSpan != nil {
		endSpan(err)
	}
	cancel()
	if err != nil {
		d.storeErrors.Add(1)
		if ok && now.UnixNano()-e.fetched < d.staleIfError.Load() {
			d.stale.Add(1)
			return d.sets.get(e.set), nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("lookup %q: %w: %w", name, ErrUnavailable, err)
	}
	set := d.sets.intern(d.knownCodes(codes))
	d.cache.put(key, cacheEntry{set: set, fetched: now.UnixNano()}, gen)
	return d.sets.get(set), nil
}

// knownCodes keeps only codes of known clusters and shares their strings with the cluster table,
// so that interned code sets never hold copies of the codes.
func (d *Directory) knownCodes(codes []string) []string {
	t := d.table.Load()
	out := codes[:0]
	for _, code := range codes {
		if c, ok := t.byCode[code]; ok {
			out = append(out, c.Code)
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return slices.Clip(out)
}

// Stats returns the Directory's counters.
func (d *Directory) Stats() Stats {
	return Stats{
		CacheHits: d.hits.Load(), CacheMisses: d.misses.Load(), StaleServed: d.stale.Load(),
		StoreErrors: d.storeErrors.Load(), CachedUsernames: d.cache.len(),
	}
}

// Ready pings the store within the store deadline.
func (d *Directory) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.StoreTimeout)
	defer cancel()
	if err := d.store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// IsUnavailable reports whether err means "the directory could not answer".
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}
