package directory

import "context"

// Store is the storage contract for clusters and bindings. Every backend (embedded, redis)
// implements it and passes the shared suite in internal/store/conformance.
//
// Usernames and codes reach a Store already normalised (NormalizeUsername, NormalizeCode);
// namespaces are valid. Every method honours ctx's deadline.
type Store interface {
	// PutCluster creates or replaces a cluster.
	PutCluster(ctx context.Context, c Cluster) error
	// GetCluster returns ErrNotFound (wrapped) for an unknown code.
	GetCluster(ctx context.Context, code string) (Cluster, error)
	// ListClusters returns every cluster ordered by code.
	ListClusters(ctx context.Context) ([]Cluster, error)
	// DeleteCluster removes a cluster and its bindings in every namespace; ErrNotFound if
	// unknown. Bindings may be removed in the background, but a cluster created again with the
	// same code never sees the old bindings.
	DeleteCluster(ctx context.Context, code string) error

	// Bind and Unbind are idempotent. The caller has checked that the cluster exists.
	Bind(ctx context.Context, ns Namespace, username, code string) error
	Unbind(ctx context.Context, ns Namespace, username, code string) error
	// BindMany binds a batch of usernames to one cluster (the bulk import's unit of write).
	BindMany(ctx context.Context, ns Namespace, code string, usernames []string) error
	// Lookup returns the codes bound to username, sorted; an empty result (no error) for an
	// unknown username. It may still list a cluster deleted a moment ago: the Directory
	// filters against the cluster table.
	Lookup(ctx context.Context, ns Namespace, username string) ([]string, error)
	// ListUsers pages through the usernames bound to a cluster. An empty cursor starts; an
	// empty next cursor means the end. Every bound username appears exactly once over a
	// complete iteration that runs without concurrent writes.
	ListUsers(ctx context.Context, ns Namespace, code, cursor string, limit int) (usernames []string, next string, err error)

	// ReconcileRank is the primary order in which Reconcile reads its list (ties are ordered
	// by bytes): 0 for a store that walks its bindings in byte order, the bucket position
	// for one that walks them bucket by bucket.
	ReconcileRank(username string) uint64
	// Reconcile makes the bindings of cluster code in ns exactly the names of list (SPEC
	// section 8), which arrive distinct and sorted by (ReconcileRank, bytes). With
	// opts.DryRun nothing changes. When more than opts.MaxRemovals (>= 0) bindings would be
	// removed it changes nothing and returns a *TooManyRemovalsError. Bindings of the same
	// usernames to other clusters are never touched. A Bind, BindMany or Unbind of that
	// cluster acknowledged while the reconcile runs is kept as it was made. Other instances
	// are told with one change notification. ErrNotFound for an unknown cluster;
	// ErrReconcileBusy when another reconcile of the same cluster and namespace is applying.
	Reconcile(ctx context.Context, ns Namespace, code string, list ReconcileList, opts ReconcileOptions) (ReconcileResult, error)

	// Ping reports whether the store is reachable (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// Change tells a Directory which cached answers another gateway instance made stale.
type Change struct {
	// All is set when everything may have changed: a cluster changed, or the watch was
	// interrupted and changes may have been missed.
	All       bool
	Namespace Namespace
	Username  string
}

// Watcher is implemented by stores shared between gateway instances: Watch calls fn for every
// change made through any instance (including this one) until ctx ends, and with All set after
// any interruption of the feed. It returns when ctx ends.
type Watcher interface {
	Watch(ctx context.Context, fn func(Change)) error
}
