package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/ratelimit"
	"github.com/ssogate/ssogate/internal/refresh"
	"github.com/ssogate/ssogate/internal/store"
)

var (
	_ directory.Store    = (*Store)(nil)
	_ store.Backend      = (*Store)(nil)
	_ refresh.Store      = (*Store)(nil)
	_ refresh.Batcher    = (*Store)(nil)
	_ ratelimit.Counters = (*Store)(nil)
)

// Options tune a Store; zero values take the defaults.
type Options struct {
	// LockTimeout is how long Open waits for the file lock another process holds before it
	// fails (default 1 s). bbolt would otherwise wait forever.
	LockTimeout time.Duration
	// SweepInterval is how often expired refresh records and counters are deleted from the
	// file (default 10 min). Reads already treat them as absent; sweeping only reclaims space.
	SweepInterval time.Duration
	// Logger receives sweep failures.
	Logger *slog.Logger
	// TrimInterval is how often the pages of the file that reads mapped into the process are
	// released again (default 10 s; trim.go). They stay in the kernel's page cache.
	TrimInterval time.Duration
}

func (o *Options) setDefaults() {
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.TrimInterval <= 0 {
		o.TrimInterval = 10 * time.Second
	}
}

// Bucket layout. Nested buckets keep each namespace, and each cluster's member list, apart so
// that deleting a cluster drops one bucket and listing its users is a range scan.
//
//	meta                         "version" → schemaVersion
//	clusters                     code → JSON directory.Cluster
//	bindings/<namespace>         username → sorted codes joined by ','
//	members/<namespace>/<code>   username → empty (the reverse index ListUsers pages through)
//	refresh                      key → expiry (8 bytes, Unix ns) + cluster code
//	counters                     key → value (8 bytes) + expiry (8 bytes, Unix ns)
var (
	bucketMeta     = []byte("meta")
	bucketClusters = []byte("clusters")
	bucketBindings = []byte("bindings")
	bucketMembers  = []byte("members")
	bucketRefresh  = []byte("refresh")
	bucketCounters = []byte("counters")

	keyVersion = []byte("version")
)

// schemaVersion is written on creation; a file from a newer layout is refused rather than
// misread.
const schemaVersion = "1"

// Store is the embedded store. It is safe for concurrent use by one process; a second
// process opening the same file fails (the file is locked).
type Store struct {
	db   *bolt.DB
	path string
	opts Options

	// recon holds the running reconciles' protected usernames (reconcile.go).
	reconMu sync.Mutex
	recon   map[string]*protectSet

	stop      chan struct{}
	sweeper   sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Open opens or creates the store file at path, creating its directory.
func Open(path string, opts Options) (*Store, error) {
	opts.setDefaults()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: create directory: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: opts.LockTimeout,
		// Every commit wrote the freelist (the ids of the pages freed by earlier ones) and
		// searched it as an array; the refresh records' batches (tokenapi) free and take
		// hundreds of pages each, every 20 ms at load. Not writing it, and keeping it as a
		// map, takes that work off each commit — the login p99 at half load fell by 0.4–0.5
		// ms (docs/benchmarks.md) — for a scan of the file when it is opened (bbolt
		// rebuilds the freelist from the pages in use; etcd runs bbolt the same way).
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: the file is locked, probably by another ssogate process (waited %s; the embedded store serves one process only, use the redis store to share): %w",
			path, opts.LockTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// Counter and refresh writes come in bursts from concurrent logins; a short batching
	// window lets one fsync commit many of them instead of one each.
	db.MaxBatchDelay = time.Millisecond
	if err := db.Update(initBuckets); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db, path: path, opts: opts, stop: make(chan struct{})}
	s.sweeper.Add(2)
	go s.sweepLoop()
	go s.trimLoop()
	return s, nil
}

func initBuckets(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketMeta, err)
	}
	switch v := meta.Get(keyVersion); {
	case v == nil:
		if err := meta.Put(keyVersion, []byte(schemaVersion)); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
	case string(v) != schemaVersion:
		return fmt.Errorf("schema version %q is not %q, written by another ssogate version", v, schemaVersion)
	}
	for _, name := range [][]byte{bucketClusters, bucketRefresh, bucketCounters} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	for _, name := range [][]byte{bucketBindings, bucketMembers} {
		parent, err := tx.CreateBucketIfNotExists(name)
		if err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
		for _, ns := range directory.Namespaces {
			if _, err := parent.CreateBucketIfNotExists([]byte(ns)); err != nil {
				return fmt.Errorf("create bucket %s/%s: %w", name, ns, err)
			}
		}
	}
	return nil
}

// Close stops the sweeper and closes the file. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.sweeper.Wait()
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close store %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// Ping reports whether the file is open and readable.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	if err := s.db.View(func(*bolt.Tx) error { return nil }); err != nil {
		return fmt.Errorf("ping store %s: %w", s.path, err)
	}
	return nil
}

// view runs fn in a read transaction. bbolt readers never wait for writers, so checking ctx
// before starting is enough to honour it.
func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// update runs fn in a read-write transaction; batch lets bbolt coalesce it with concurrent
// callers' (then fn may run more than once, so it must only set results, not accumulate).
//
// Writers are serialised and each commit waits for fsync, so a slow disk or a long bulk
// import could keep a caller waiting past its deadline. The wait is therefore bounded by ctx:
// the caller gets ctx's error, and the transaction, if it had already started, may still
// commit — the same unknown outcome as a network store's timeout.
func (s *Store) update(ctx context.Context, batch bool, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	run := s.db.Update
	if batch {
		run = s.db.Batch
	}
	guarded := func(tx *bolt.Tx) error {
		// Do not start work the caller has already given up on.
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(tx)
	}
	if ctx.Done() == nil {
		return run(guarded)
	}
	done := make(chan error, 1)
	go func() { done <- run(guarded) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done:
			return err
		default:
			return ctx.Err()
		}
	}
}
