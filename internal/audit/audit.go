package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Actions recorded by the write side. Other surfaces add their own with the same shape
// ("noun.verb").
const (
	ActionClusterPut    = "cluster.put"
	ActionClusterDelete = "cluster.delete"
	ActionUserBind      = "user.bind"
	ActionUserUnbind    = "user.unbind"
	ActionUserImport    = "user.import"
	ActionUserReconcile = "user.reconcile"
	ActionLockoutClear  = "lockout.clear"
)

// Entry is one recorded change. It never carries a password, token or secret: clusters are
// recorded as ClusterState (URLs without their user info or query), bulk operations as counts.
type Entry struct {
	// ID is assigned by the store: it orders entries (newest last) and is the paging cursor.
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	// Actor is the admin token's name, "config" or "sync" (SPEC section 9).
	Actor     string `json:"actor"`
	Action    string `json:"action"`
	Cluster   string `json:"cluster,omitempty"`
	Target    string `json:"target"`
	Namespace string `json:"namespace,omitempty"`
	// Before and After are a cluster's state around a cluster change (nil: did not exist).
	Before *ClusterState `json:"before,omitempty"`
	After  *ClusterState `json:"after,omitempty"`
	// Counts are the figures of a bulk operation (bound, rejected, added, removed…).
	Counts map[string]int64 `json:"counts,omitempty"`
}

// ClusterState is what the audit log keeps of a cluster: the fields an operator edits, with
// secrets removed from URLs. It is a whitelist on purpose: a field added to the cluster later
// (a sync header value, say) does not reach the log unless added here.
type ClusterState struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	SSOURL    string `json:"sso_url"`
	ServerURL string `json:"server_url"`
	TokenURL  string `json:"token_url,omitempty"`
	Enabled   bool   `json:"enabled"`
	SyncURL   string `json:"sync_url,omitempty"`
}

// Redact returns s with every URL's user info and query removed: a URL is where a careless
// operator puts a password or an API key (https://user:pass@host, ?token=…).
func (c ClusterState) Redact() ClusterState {
	c.SSOURL, c.ServerURL, c.TokenURL, c.SyncURL = RedactURL(c.SSOURL), RedactURL(c.ServerURL), RedactURL(c.TokenURL), RedactURL(c.SyncURL)
	return c
}

// RedactURL drops user info, query and fragment from a URL; text that does not parse as a
// URL is replaced entirely rather than risk keeping a secret.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	u.Fragment = ""
	return u.String()
}

// Filter selects entries; empty fields match everything. Matches are exact (cluster codes in
// upper case, as stored).
type Filter struct {
	Actor   string
	Action  string
	Cluster string
}

// Match reports whether e passes f.
func (f Filter) Match(e Entry) bool {
	return (f.Actor == "" || e.Actor == f.Actor) &&
		(f.Action == "" || e.Action == f.Action) &&
		(f.Cluster == "" || strings.EqualFold(e.Cluster, f.Cluster))
}

// Query is one page request: newest first, starting after Cursor (empty: the newest).
type Query struct {
	Filter
	Cursor string
	Limit  int
}

// Retention bounds the log (SPEC section 9: 90 days or 100,000 entries, whichever is less).
type Retention struct {
	MaxEntries int
	MaxAge     time.Duration
}

// DefaultRetention is SPEC section 9's bound.
var DefaultRetention = Retention{MaxEntries: 100_000, MaxAge: 90 * 24 * time.Hour}

// Limits of a page.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// ErrBadCursor is returned (wrapped) for a cursor the store did not hand out.
var ErrBadCursor = errors.New("invalid audit cursor")

// Store is the storage contract of the log; every backend implements it and passes the
// audit cases of internal/store/conformance.
type Store interface {
	// AppendAudit stores e (its ID is assigned here) and drops what keep no longer allows:
	// entries older than keep.MaxAge and the oldest beyond keep.MaxEntries.
	AppendAudit(ctx context.Context, e Entry, keep Retention) error
	// ListAudit returns entries matching q newest first, at most q.Limit, and the cursor of
	// the next page ("" at the end). A page may hold fewer entries than the limit (even none)
	// while the cursor is not empty: a backend bounds how far one call scans.
	ListAudit(ctx context.Context, q Query) (entries []Entry, next string, err error)
}

// Recorder writes entries for the write side. A failed write is logged and counted, never
// turned into a failure of the change it describes: the change has already happened.
type Recorder struct {
	store    Store
	keep     Retention
	log      *slog.Logger
	now      func() time.Time
	failures atomic.Uint64
}

// NewRecorder returns a Recorder over store; a nil store gives a Recorder that records nothing
// (List answers an empty log).
func NewRecorder(store Store, keep Retention, log *slog.Logger) *Recorder {
	if keep.MaxEntries <= 0 {
		keep.MaxEntries = DefaultRetention.MaxEntries
	}
	if keep.MaxAge <= 0 {
		keep.MaxAge = DefaultRetention.MaxAge
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recorder{store: store, keep: keep, log: log, now: time.Now}
}

// Record stores e with its time set; the caller has set Actor (the directory takes it from
// the request's context).
func (r *Recorder) Record(ctx context.Context, e Entry) {
	if r == nil || r.store == nil {
		return
	}
	e.ID = ""
	if e.Time.IsZero() {
		e.Time = r.now().UTC()
	}
	if e.Actor == "" {
		e.Actor = "unknown"
	}
	if e.Before != nil {
		b := e.Before.Redact()
		e.Before = &b
	}
	if e.After != nil {
		a := e.After.Redact()
		e.After = &a
	}
	// The change is done even if the caller's request is cancelled now; its record should
	// still be written, within a deadline of its own.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.store.AppendAudit(wctx, e, r.keep); err != nil {
		r.failures.Add(1)
		r.log.Error("audit: entry not recorded", "action", e.Action, "target", e.Target, "actor", e.Actor, "err", err)
	}
}

// Failures counts entries that could not be written.
func (r *Recorder) Failures() uint64 {
	if r == nil {
		return 0
	}
	return r.failures.Load()
}

// List reads one page of the log.
func (r *Recorder) List(ctx context.Context, q Query) ([]Entry, string, error) {
	if r == nil || r.store == nil {
		return []Entry{}, "", nil
	}
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	q.Limit = min(q.Limit, MaxLimit)
	entries, next, err := r.store.ListAudit(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("audit: list: %w", err)
	}
	if entries == nil {
		entries = []Entry{}
	}
	return entries, next, nil
}
