package embedded

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/ssogate/ssogate/internal/directory"
)

// reconcileChunk bounds the list names and member keys one transaction of a reconcile
// handles, so a concurrent Bind waits for at most one chunk's commit, not the whole reconcile.
const reconcileChunk = 5000

// ReconcileRank is 0: the member index is walked in byte order, the list's own order.
func (s *Store) ReconcileRank(string) uint64 { return 0 }

// Reconcile merges the sorted list with the cluster's member index (members/NS/CODE, in byte
// order too), a chunk per transaction. A guarded or dry reconcile first counts in read
// transactions. Writes of the cluster's bindings made meanwhile (Bind, BindMany, Unbind)
// register their usernames while the reconcile runs; the merge leaves those alone, so a bind
// made during a reconcile is never undone by it.
func (s *Store) Reconcile(ctx context.Context, ns directory.Namespace, code string, list directory.ReconcileList,
	opts directory.ReconcileOptions) (directory.ReconcileResult, error) {
	if err := s.view(ctx, func(tx *bolt.Tx) error { return clusterExists(tx, code) }); err != nil {
		return directory.ReconcileResult{}, fmt.Errorf("reconcile %s %q: %w", ns, code, err)
	}
	var guard *protectSet
	if !opts.DryRun {
		var err error
		if guard, err = s.startReconcile(ns, code); err != nil {
			return directory.ReconcileResult{}, err
		}
		defer s.endReconcile(ns, code)
	}
	if opts.DryRun || opts.MaxRemovals >= 0 {
		res, err := s.reconcilePass(ctx, ns, code, list, nil)
		if err != nil || opts.DryRun {
			res.DryRun = opts.DryRun
			return res, err
		}
		if res.Removed > opts.MaxRemovals {
			return res, &directory.TooManyRemovalsError{Result: res, MaxRemovals: opts.MaxRemovals}
		}
	}
	return s.reconcilePass(ctx, ns, code, list, guard)
}

func clusterExists(tx *bolt.Tx, code string) error {
	if tx.Bucket(bucketClusters).Get([]byte(code)) == nil {
		return fmt.Errorf("cluster %q: %w", code, directory.ErrNotFound)
	}
	return nil
}

// reconcilePass runs the merge once: counting only when guard is nil, applying otherwise.
func (s *Store) reconcilePass(ctx context.Context, ns directory.Namespace, code string, list directory.ReconcileList,
	guard *protectSet) (directory.ReconcileResult, error) {
	it, err := list.Open()
	if err != nil {
		return directory.ReconcileResult{}, err
	}
	defer it.Close()
	m := &merge{it: it, code: code, ns: ns, guard: guard}
	for !m.done {
		if err := m.fill(); err != nil {
			return m.res, err
		}
		fn := func(tx *bolt.Tx) error { return m.chunk(tx) }
		if guard == nil {
			err = s.view(ctx, fn)
		} else {
			err = s.update(ctx, false, fn)
		}
		if err != nil {
			return m.res, fmt.Errorf("reconcile %s %q: %w", ns, code, err)
		}
	}
	return m.res, nil
}

// merge is the state of one pass between chunks: the list names read but not merged yet,
// and the last key merged.
type merge struct {
	it       directory.NameIterator
	ns       directory.Namespace
	code     string
	guard    *protectSet
	pending  []string
	listDone bool
	after    string
	started  bool
	done     bool
	res      directory.ReconcileResult
}

// fill reads list names outside any transaction (reading may be slow: a spool on disk).
func (m *merge) fill() error {
	for len(m.pending) < reconcileChunk && !m.listDone {
		name, ok := m.it.Next()
		if !ok {
			m.listDone = true
			return m.it.Err()
		}
		m.pending = append(m.pending, name)
	}
	return nil
}

func (m *merge) chunk(tx *bolt.Tx) error {
	if err := clusterExists(tx, m.code); err != nil {
		return err
	}
	apply := m.guard != nil
	var adds, removes []string
	var k []byte
	members := tx.Bucket(bucketMembers).Bucket([]byte(m.ns)).Bucket([]byte(m.code))
	var c *bolt.Cursor
	if members != nil {
		c = members.Cursor()
		if !m.started {
			k, _ = c.First()
		} else if k, _ = c.Seek([]byte(m.after)); k != nil && string(k) == m.after {
			k, _ = c.Next()
		}
	}
	i := 0
	for steps := 0; steps < reconcileChunk; steps++ {
		hasL, hasM := i < len(m.pending), k != nil
		if !hasL && !m.listDone {
			break // members past here are decided once more names are read
		}
		if !hasL && !hasM {
			m.done = true
			break
		}
		var name string
		switch {
		case hasL && (!hasM || m.pending[i] < string(k)):
			name = m.pending[i]
			i++
			adds = append(adds, name)
		case !hasL || string(k) < m.pending[i]:
			name = string(k)
			k, _ = c.Next()
			removes = append(removes, name)
		default:
			name = m.pending[i]
			i++
			k, _ = c.Next()
			m.res.Unchanged++
		}
		m.after, m.started = name, true
	}
	m.pending = m.pending[i:]
	if !apply {
		for _, n := range adds {
			m.res.Added++
			m.res.SampleAdded = directory.Sample(m.res.SampleAdded, n)
		}
		for _, n := range removes {
			m.res.Removed++
			m.res.SampleRemoved = directory.Sample(m.res.SampleRemoved, n)
		}
		return nil
	}
	// Writes come after the walk: a bbolt cursor is not valid across changes to its bucket.
	fwd, err := bindingsBucket(tx, m.ns)
	if err != nil {
		return err
	}
	for _, n := range removes {
		if m.guard.has(n) {
			m.res.Unchanged++
			continue
		}
		if err := removeCode(fwd, []byte(n), m.code); err != nil {
			return err
		}
		if err := members.Delete([]byte(n)); err != nil {
			return err
		}
		m.res.Removed++
		m.res.SampleRemoved = directory.Sample(m.res.SampleRemoved, n)
	}
	var toBind []string
	for _, n := range adds {
		if m.guard.has(n) {
			m.res.Unchanged++
			continue
		}
		toBind = append(toBind, n)
		m.res.Added++
		m.res.SampleAdded = directory.Sample(m.res.SampleAdded, n)
	}
	if len(toBind) > 0 {
		return bindTx(tx, m.ns, m.code, toBind)
	}
	return nil
}

// protectSet holds the usernames of a cluster written by others during a reconcile.
type protectSet struct{ names map[string]struct{} }

// has is called inside a write transaction; writers are serialised by bbolt and register
// inside theirs, so no lock is needed beyond the one the map is reached through.
func (p *protectSet) has(name string) bool {
	_, ok := p.names[name]
	return ok
}

func reconcileKey(ns directory.Namespace, code string) string { return string(ns) + "\x00" + code }

func (s *Store) startReconcile(ns directory.Namespace, code string) (*protectSet, error) {
	s.reconMu.Lock()
	defer s.reconMu.Unlock()
	key := reconcileKey(ns, code)
	if s.recon == nil {
		s.recon = map[string]*protectSet{}
	}
	if _, busy := s.recon[key]; busy {
		return nil, fmt.Errorf("reconcile %s %q: %w", ns, code, directory.ErrReconcileBusy)
	}
	p := &protectSet{names: map[string]struct{}{}}
	s.recon[key] = p
	return p, nil
}

func (s *Store) endReconcile(ns directory.Namespace, code string) {
	s.reconMu.Lock()
	defer s.reconMu.Unlock()
	delete(s.recon, reconcileKey(ns, code))
}

// protect records, from inside a write transaction, usernames whose binding to code was just
// written by someone else than a running reconcile of that cluster.
func (s *Store) protect(ns directory.Namespace, code string, names []string) {
	s.reconMu.Lock()
	defer s.reconMu.Unlock()
	p := s.recon[reconcileKey(ns, code)]
	if p == nil {
		return
	}
	for _, n := range names {
		p.names[n] = struct{}{}
	}
}
