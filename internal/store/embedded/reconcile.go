package embedded

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/ssogate/ssogate/internal/directory"
)

// reconcileChunk bounds the list names and member keys one read transaction of a reconcile
// walks; reconcileWrite bounds the changes one write transaction applies, so a concurrent
// Bind waits for at most one such commit, never for the whole reconcile.
const (
	reconcileChunk = 50_000
	reconcileWrite = 5_000
)

// ReconcileRank is 0: the member index is walked in byte order, the list's own order.
func (s *Store) ReconcileRank(string) uint64 { return 0 }

// Reconcile merges the sorted list with the cluster's member index (members/NS/CODE, in byte
// order too), a chunk per read transaction; the changes a chunk finds are then applied in
// write transactions of at most reconcileWrite changes (a walk that finds nothing to change
// writes nothing). A guarded or dry reconcile first counts. Writes of the cluster's bindings
// made meanwhile (Bind, BindMany, Unbind) register their usernames while the reconcile runs,
// from inside their own transaction; every write transaction of the reconcile checks them,
// so a bind made during a reconcile — before or after the walk saw that name — is never
// undone by it.
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
		if err := s.view(ctx, m.walk); err != nil {
			return m.res, fmt.Errorf("reconcile %s %q: %w", ns, code, err)
		}
		if guard == nil {
			m.count()
			continue
		}
		for len(m.adds)+len(m.removes) > 0 {
			if err := s.update(ctx, false, m.apply); err != nil {
				return m.res, fmt.Errorf("reconcile %s %q: %w", ns, code, err)
			}
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
	// adds and removes are what the last walk found, not yet counted or applied.
	adds, removes []string
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

// walk merges the pending list names with the member index from the last key merged on,
// for at most reconcileChunk steps, and collects what differs.
func (m *merge) walk(tx *bolt.Tx) error {
	if err := clusterExists(tx, m.code); err != nil {
		return err
	}
	var k []byte
	var c *bolt.Cursor
	if members := tx.Bucket(bucketMembers).Bucket([]byte(m.ns)).Bucket([]byte(m.code)); members != nil {
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
			m.adds = append(m.adds, name)
		case !hasL || string(k) < m.pending[i]:
			name = string(k) // a copy: k is only valid inside the transaction
			k, _ = c.Next()
			m.removes = append(m.removes, name)
		default:
			name = m.pending[i]
			i++
			k, _ = c.Next()
			m.res.Unchanged++
		}
		m.after, m.started = name, true
	}
	m.pending = m.pending[i:]
	return nil
}

// count records the walk's findings of a counting pass.
func (m *merge) count() {
	for _, n := range m.adds {
		m.res.Added++
		m.res.SampleAdded = directory.Sample(m.res.SampleAdded, n)
	}
	for _, n := range m.removes {
		m.res.Removed++
		m.res.SampleRemoved = directory.Sample(m.res.SampleRemoved, n)
	}
	m.adds, m.removes = m.adds[:0], m.removes[:0]
}

// apply writes up to reconcileWrite of the walk's findings, skipping usernames written by
// others since the reconcile began.
func (m *merge) apply(tx *bolt.Tx) error {
	if err := clusterExists(tx, m.code); err != nil {
		return err
	}
	fwd, err := bindingsBucket(tx, m.ns)
	if err != nil {
		return err
	}
	members := tx.Bucket(bucketMembers).Bucket([]byte(m.ns)).Bucket([]byte(m.code))
	budget := reconcileWrite
	var removed, added int64
	var sampleRemoved, sampleAdded []string
	nr := min(len(m.removes), budget)
	for _, n := range m.removes[:nr] {
		if m.guard.has(n) || members == nil {
			continue
		}
		if err := removeCode(fwd, []byte(n), m.code); err != nil {
			return err
		}
		if err := members.Delete([]byte(n)); err != nil {
			return err
		}
		removed++
		sampleRemoved = append(sampleRemoved, n)
	}
	budget -= nr
	na := min(len(m.adds), budget)
	var toBind []string
	for _, n := range m.adds[:na] {
		if !m.guard.has(n) {
			toBind = append(toBind, n)
		}
	}
	if len(toBind) > 0 {
		if err := bindTx(tx, m.ns, m.code, toBind); err != nil {
			return err
		}
		added, sampleAdded = int64(len(toBind)), toBind
	}
	// Only now, with every write done, is the transaction's outcome this function's: record
	// it (bbolt runs an Update's function once).
	skipped := int64(nr+na) - removed - added
	m.res.Removed += removed
	m.res.Added += added
	m.res.Unchanged += skipped
	for _, n := range sampleRemoved {
		m.res.SampleRemoved = directory.Sample(m.res.SampleRemoved, n)
	}
	for _, n := range sampleAdded {
		m.res.SampleAdded = directory.Sample(m.res.SampleAdded, n)
	}
	m.removes, m.adds = m.removes[nr:], m.adds[na:]
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
