package directory

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/ssogate/ssogate/internal/audit"
)

// The methods in this file are the write side used by the admin API and the configuration's
// cluster list. Each applies the change to the store, then makes this instance's answers
// reflect it at once; other instances learn of it through their store's Watcher.

func (d *Directory) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.opts.StoreTimeout)
}

// PutCluster validates and creates or replaces a cluster.
func (d *Directory) PutCluster(ctx context.Context, c Cluster) (Cluster, error) {
	if err := c.Validate(); err != nil {
		return Cluster{}, err
	}
	sctx, cancel := d.storeCtx(ctx)
	defer cancel()
	before, err := d.previous(sctx, c.Code)
	if err != nil {
		return Cluster{}, fmt.Errorf("put cluster %q: %w", c.Code, err)
	}
	if err := d.store.PutCluster(sctx, c); err != nil {
		return Cluster{}, fmt.Errorf("put cluster %q: %w", c.Code, err)
	}
	d.invalidateAll(ctx)
	// A put that changes nothing (the config's clusters upserted at every start) is no change.
	if before == nil || !reflect.DeepEqual(*before, c) {
		d.RecordChange(ctx, audit.Entry{Action: audit.ActionClusterPut, Cluster: c.Code, Target: "cluster:" + c.Code,
			Before: auditState(before), After: auditState(&c)})
	}
	return c, nil
}

// GetCluster returns a cluster by code (any case); ErrNotFound if unknown.
func (d *Directory) GetCluster(ctx context.Context, code string) (Cluster, error) {
	code, err := NormalizeCode(code)
	if err != nil {
		return Cluster{}, fmt.Errorf("cluster %q: %w", code, ErrNotFound)
	}
	sctx, cancel := d.storeCtx(ctx)
	defer cancel()
	return d.store.GetCluster(sctx, code)
}

// ListClusters returns every cluster ordered by code.
func (d *Directory) ListClusters(ctx context.Context) ([]Cluster, error) {
	sctx, cancel := d.storeCtx(ctx)
	defer cancel()
	return d.store.ListClusters(sctx)
}

// DeleteCluster removes a cluster; its bindings vanish from every answer at once.
func (d *Directory) DeleteCluster(ctx context.Context, code string) error {
	code, err := NormalizeCode(code)
	if err != nil {
		return fmt.Errorf("cluster %q: %w", code, ErrNotFound)
	}
	sctx, cancel := d.storeCtx(ctx)
	defer cancel()
	before, err := d.previous(sctx, code)
	if err != nil {
		return fmt.Errorf("delete cluster %q: %w", code, err)
	}
	if err := d.store.DeleteCluster(sctx, code); err != nil {
		return fmt.Errorf("delete cluster %q: %w", code, err)
	}
	d.invalidateAll(ctx)
	d.RecordChange(ctx, audit.Entry{Action: audit.ActionClusterDelete, Cluster: code, Target: "cluster:" + code,
		Before: auditState(before)})
	return nil
}

// previous reads a cluster's state before a change, for the audit log; nil if it is new.
func (d *Directory) previous(ctx context.Context, code string) (*Cluster, error) {
	c, err := d.store.GetCluster(ctx, code)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// checkCluster normalises code and checks that the cluster exists.
func (d *Directory) checkCluster(ctx context.Context, code string) (string, error) {
	c, err := d.GetCluster(ctx, code)
	if err != nil {
		return "", err
	}
	return c.Code, nil
}

// Bind binds a username to a cluster in a namespace.
func (d *Directory) Bind(ctx context.Context, ns Namespace, username, code string) error {
	return d.changeBinding(ctx, ns, username, code, audit.ActionUserBind, d.store.Bind)
}

// Unbind removes a binding; unbinding an absent binding is not an error.
func (d *Directory) Unbind(ctx context.Context, ns Namespace, username, code string) error {
	return d.changeBinding(ctx, ns, username, code, audit.ActionUserUnbind, d.store.Unbind)
}

func (d *Directory) changeBinding(ctx context.Context, ns Namespace, username, code, action string,
	apply func(context.Context, Namespace, string, string) error) error {
	name, err := d.NormalizeUsername(username)
	if err != nil {
		return err
	}
	code, err = d.checkCluster(ctx, code)
	if err != nil {
		return err
	}
	sctx, cancel := d.storeCtx(ctx)
	defer cancel()
	if err := apply(sctx, ns, name, code); err != nil {
		return fmt.Errorf("binding %q to %q: %w", name, code, err)
	}
	d.cache.invalidate(cacheKey(ns, name))
	d.RecordChange(ctx, audit.Entry{Action: action, Cluster: code, Target: "user:" + name, Namespace: string(ns)})
	return nil
}

// BulkBinder binds a stream of usernames to one cluster in batches; see Directory.BulkBind.
type BulkBinder struct {
	d       *Directory
	ns      Namespace
	code    string
	pending []string
	// Bound counts usernames written so far.
	Bound int
}

// BulkBindBatch is the number of usernames written per store call.
const BulkBindBatch = 5000

// BulkBind starts a bulk import into the cluster code (which must exist).
func (d *Directory) BulkBind(ctx context.Context, ns Namespace, code string) (*BulkBinder, error) {
	code, err := d.checkCluster(ctx, code)
	if err != nil {
		return nil, err
	}
	return &BulkBinder{d: d, ns: ns, code: code, pending: make([]string, 0, BulkBindBatch)}, nil
}

// Add normalises and queues one username, writing a batch when full. A username that fails
// validation is reported with ErrInvalid and not queued; other errors are store failures.
func (b *BulkBinder) Add(ctx context.Context, username string) error {
	name, err := b.d.NormalizeUsername(username)
	if err != nil {
		return err
	}
	b.pending = append(b.pending, name)
	if len(b.pending) >= BulkBindBatch {
		return b.Flush(ctx)
	}
	return nil
}

// Flush writes the queued usernames.
func (b *BulkBinder) Flush(ctx context.Context) error {
	if len(b.pending) == 0 {
		return nil
	}
	// A batch gets a longer deadline than a single operation: it is thousands of writes.
	sctx, cancel := context.WithTimeout(ctx, 10*b.d.opts.StoreTimeout+10*time.Second)
	defer cancel()
	if err := b.d.store.BindMany(sctx, b.ns, b.code, b.pending); err != nil {
		return fmt.Errorf("bulk bind to %q: %w", b.code, err)
	}
	for _, name := range b.pending {
		b.d.cache.invalidate(cacheKey(b.ns, name))
	}
	b.Bound += len(b.pending)
	b.pending = b.pending[:0]
	return nil
}

// Finish writes what is still queued and records the import in the audit log with its
// counts: rejected is the number of lines the caller refused, failed whether the import
// stopped early (what was bound so far stays bound, and is recorded as such).
func (b *BulkBinder) Finish(ctx context.Context, rejected int64, failed bool) error {
	var err error
	if !failed {
		err = b.Flush(ctx)
	}
	counts := map[string]int64{"bound": int64(b.Bound), "rejected": rejected}
	if failed || err != nil {
		counts["failed"] = 1
	}
	b.d.RecordChange(ctx, audit.Entry{Action: audit.ActionUserImport, Cluster: b.code, Target: "cluster:" + b.code,
		Namespace: string(b.ns), Counts: counts})
	return err
}

// ListUsers pages through the usernames bound to a cluster.
func (d *Directory) ListUsers(ctx context.Context, ns Namespace, code, cursor string, limit int) ([]string, string, error) {
	code, err := d.checkCluster(ctx, code)
	if err != nil {
		return nil, "", err
	}
	sctx, cancel := d.storeCtx(ctx)
	defer cancel()
	return d.store.ListUsers(sctx, ns, code, cursor, limit)
}

// UserClusters returns the clusters (enabled or not) a username is bound to, read from the
// store rather than the cache, for the admin API.
func (d *Directory) UserClusters(ctx context.Context, ns Namespace, username string) (string, []Cluster, error) {
	name, err := d.NormalizeUsername(username)
	if err != nil {
		return "", nil, err
	}
	sctx, cancel := d.storeCtx(ctx)
	defer cancel()
	codes, err := d.store.Lookup(sctx, ns, name)
	if err != nil {
		return "", nil, fmt.Errorf("lookup %q: %w", name, err)
	}
	t := d.table.Load()
	out := []Cluster{}
	for _, code := range codes {
		if c, ok := t.byCode[code]; ok {
			out = append(out, *c)
		}
	}
	return name, out, nil
}
