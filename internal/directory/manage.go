package directory

import (
	"context"
	"fmt"
	"time"
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
	if err := d.store.PutCluster(sctx, c); err != nil {
		return Cluster{}, fmt.Errorf("put cluster %q: %w", c.Code, err)
	}
	d.invalidateAll(ctx)
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
	if err := d.store.DeleteCluster(sctx, code); err != nil {
		return fmt.Errorf("delete cluster %q: %w", code, err)
	}
	d.invalidateAll(ctx)
	return nil
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
	return d.changeBinding(ctx, ns, username, code, d.store.Bind)
}

// Unbind removes a binding; unbinding an absent binding is not an error.
func (d *Directory) Unbind(ctx context.Context, ns Namespace, username, code string) error {
	return d.changeBinding(ctx, ns, username, code, d.store.Unbind)
}

func (d *Directory) changeBinding(ctx context.Context, ns Namespace, username, code string,
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
