package directory

import (
	"context"
	"errors"
	"fmt"
	"github.com/ssogate/ssogate/internal/audit"
	"time"
)

// Reconcile (SPEC section 8) makes a cluster's bindings in one namespace exactly a complete
// list. The list is streamed through a Reconciler, which validates each name and spools the
// names, sorted in the store's order (Store.ReconcileRank, then bytes), in bounded memory:
// runs of reconcileRunNames names are sorted in memory and written to temporary files, then
// merged while the store reads them. The store compares that sorted stream with the
// cluster's bindings piece by piece (a bucket range at a time on Redis, a key range of its
// member index on the embedded store), so neither the whole list nor the whole cluster is
// ever held as Go strings.

// DefaultMaxRemovals is the guard of a reconcile when the caller sets none (SPEC section 8):
// a truncated export must not wipe a cluster.
const DefaultMaxRemovals = 1000

// ReconcileSamples bounds sample_added and sample_removed.
const ReconcileSamples = 20

// ReconcileOptions tune one reconcile.
type ReconcileOptions struct {
	// DryRun computes the changes without making them.
	DryRun bool
	// MaxRemovals refuses the whole reconcile, changing nothing, when more bindings would be
	// removed; negative means no limit. Zero means zero: nothing may be removed.
	MaxRemovals int64
}

// ReconcileResult is what a reconcile did (or, in a dry run, would do).
type ReconcileResult struct {
	Added, Removed, Unchanged int64
	// SampleAdded and SampleRemoved hold up to ReconcileSamples names each.
	SampleAdded, SampleRemoved []string
	DryRun                     bool
}

// Changed reports whether any binding changed.
func (r ReconcileResult) Changed() bool { return !r.DryRun && r.Added+r.Removed > 0 }

// ErrTooManyRemovals is wrapped by *TooManyRemovalsError.
var ErrTooManyRemovals = errors.New("too many removals")

// ErrReconcileBusy is returned when another reconcile of the same cluster and namespace is
// applying changes (a dry run never conflicts).
var ErrReconcileBusy = errors.New("another reconcile of this cluster is running")

// TooManyRemovalsError refuses a reconcile whose removals exceed the guard; Result holds the
// counts the reconcile would have had (nothing was changed).
type TooManyRemovalsError struct {
	Result      ReconcileResult
	MaxRemovals int64
}

func (e *TooManyRemovalsError) Error() string {
	return fmt.Sprintf("reconcile would remove %d bindings, more than max_removals %d", e.Result.Removed, e.MaxRemovals)
}

func (e *TooManyRemovalsError) Unwrap() error { return ErrTooManyRemovals }

// ReconcileList is the complete list handed to Store.Reconcile: normalised, distinct
// usernames in the store's order. It can be read more than once (a guarded reconcile counts
// first, then applies).
type ReconcileList interface {
	Open() (NameIterator, error)
}

// NameIterator reads a ReconcileList once.
type NameIterator interface {
	// Next returns the next name; false at the end or after an error (see Err).
	Next() (string, bool)
	Err() error
	Close() error
}

// Sample appends name to samples while fewer than ReconcileSamples are held (for stores).
func Sample(samples []string, name string) []string {
	if len(samples) < ReconcileSamples {
		samples = append(samples, name)
	}
	return samples
}

// Reconciler collects the list of one reconcile; see Directory.NewReconcile.
type Reconciler struct {
	d     *Directory
	ns    Namespace
	code  string
	spool *spool
}

// NewReconcile starts a reconcile of the cluster code (which must exist) in ns. The caller
// adds every line with Add, then calls Run once, and always Close.
func (d *Directory) NewReconcile(ctx context.Context, ns Namespace, code string) (*Reconciler, error) {
	code, err := d.checkCluster(ctx, code)
	if err != nil {
		return nil, err
	}
	return &Reconciler{d: d, ns: ns, code: code, spool: newSpool(d.store.ReconcileRank)}, nil
}

// Code is the normalised cluster code.
func (r *Reconciler) Code() string { return r.code }

// Add validates and spools one username. A name that fails validation is reported with
// ErrInvalid and left out; other errors (a full temporary disk) end the reconcile.
func (r *Reconciler) Add(username string) error {
	name, err := r.d.NormalizeUsername(username)
	if err != nil {
		return err
	}
	return r.spool.add(name)
}

// Names is the number of valid names added so far (duplicates included).
func (r *Reconciler) Names() int64 { return r.spool.count }

// Run hands the list to the store. The change is seen at once by this instance and, through
// the store's one change notification, by the others: a few changed names are invalidated
// one by one, more drop the whole cache (never one message per name).
func (r *Reconciler) Run(ctx context.Context, opts ReconcileOptions) (ReconcileResult, error) {
	list, err := r.spool.finish()
	if err != nil {
		return ReconcileResult{}, fmt.Errorf("reconcile %q: spool: %w", r.code, err)
	}
	start := time.Now()
	res, err := r.d.store.Reconcile(ctx, r.ns, r.code, list, opts)
	if err != nil {
		return res, fmt.Errorf("reconcile %q: %w", r.code, err)
	}
	if res.Changed() {
		if res.Added <= ReconcileSamples && res.Removed <= ReconcileSamples {
			for _, n := range res.SampleAdded {
				r.d.cache.invalidate(cacheKey(r.ns, n))
			}
			for _, n := range res.SampleRemoved {
				r.d.cache.invalidate(cacheKey(r.ns, n))
			}
		} else {
			r.d.invalidateAll(ctx)
		}
	}
	r.d.opts.Logger.Info("directory: reconcile", "code", r.code, "client", string(r.ns), "actor", ActorFrom(ctx),
		"dry_run", res.DryRun, "added", res.Added, "removed", res.Removed, "unchanged", res.Unchanged,
		"duration", time.Since(start).String())
	if !res.DryRun { // a dry run changes nothing, so it is no entry of the audit log
		r.d.RecordChange(ctx, audit.Entry{Action: audit.ActionUserReconcile, Cluster: r.code, Target: "cluster:" + r.code,
			Namespace: string(r.ns), Counts: map[string]int64{"added": res.Added, "removed": res.Removed, "unchanged": res.Unchanged}})
	}
	return res, nil
}

// Close removes the temporary files.
func (r *Reconciler) Close() error { return r.spool.close() }
