package directory

import (
	"bufio"
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// reconcileRunNames is how many names a spool sorts in memory before writing them to a
// temporary file: ~4 MiB of Go strings, whatever the list's length. A list no longer than
// that never touches the disk.
const reconcileRunNames = 100_000

type rankedName struct {
	rank uint64
	name string
}

func compareRanked(a, b rankedName) int {
	if c := cmp.Compare(a.rank, b.rank); c != 0 {
		return c
	}
	return strings.Compare(a.name, b.name)
}

// spool is an external sort of names by (rank, bytes): sorted runs in temporary files plus
// the last run in memory, merged (and deduplicated) on every Open.
type spool struct {
	rank  func(string) uint64
	buf   []rankedName
	files []string
	count int64
	done  bool
}

func newSpool(rank func(string) uint64) *spool { return &spool{rank: rank} }

func (s *spool) add(name string) error {
	s.buf = append(s.buf, rankedName{rank: s.rank(name), name: name})
	s.count++
	if len(s.buf) >= reconcileRunNames {
		return s.flush()
	}
	return nil
}

// flush writes the buffered run, sorted, to a new temporary file.
func (s *spool) flush() error {
	slices.SortFunc(s.buf, compareRanked)
	f, err := os.CreateTemp("", "ssogate-reconcile-*")
	if err != nil {
		return fmt.Errorf("temporary file: %w", err)
	}
	s.files = append(s.files, f.Name())
	w := bufio.NewWriterSize(f, 64<<10)
	for _, rn := range s.buf {
		w.WriteString(rn.name)
		w.WriteByte('\n') // names never hold control characters
	}
	err = errors.Join(w.Flush(), f.Close())
	if err != nil {
		return fmt.Errorf("temporary file: %w", err)
	}
	clear(s.buf)
	s.buf = s.buf[:0]
	return nil
}

func (s *spool) finish() (ReconcileList, error) {
	if !s.done {
		slices.SortFunc(s.buf, compareRanked)
		s.done = true
	}
	return s, nil
}

func (s *spool) close() error {
	var errs []error
	for _, f := range s.files {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	s.files, s.buf = nil, nil
	return errors.Join(errs...)
}

// Open merges the runs.
func (s *spool) Open() (NameIterator, error) {
	it := &mergeIter{}
	for _, name := range s.files {
		f, err := os.Open(name)
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("reconcile spool: %w", err)
		}
		src := &fileRun{f: f, r: bufio.NewReaderSize(f, 64<<10), rank: s.rank}
		it.closers = append(it.closers, f)
		it.push(src)
	}
	it.push(&memRun{names: s.buf})
	return it, nil
}

// run is one sorted source of a merge.
type run interface {
	next() (rankedName, bool, error)
}

type memRun struct {
	names []rankedName
	i     int
}

func (m *memRun) next() (rankedName, bool, error) {
	if m.i >= len(m.names) {
		return rankedName{}, false, nil
	}
	m.i++
	return m.names[m.i-1], true, nil
}

type fileRun struct {
	f    *os.File
	r    *bufio.Reader
	rank func(string) uint64
}

func (f *fileRun) next() (rankedName, bool, error) {
	line, err := f.r.ReadString('\n')
	if err == io.EOF && line == "" {
		return rankedName{}, false, nil
	}
	if err != nil && err != io.EOF {
		return rankedName{}, false, err
	}
	name := strings.TrimSuffix(line, "\n")
	return rankedName{rank: f.rank(name), name: name}, true, nil
}

type head struct {
	cur rankedName
	src run
}

type runHeap []head

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return compareRanked(h[i].cur, h[j].cur) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(head)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type mergeIter struct {
	h       runHeap
	closers []io.Closer
	last    string
	started bool
	err     error
}

func (m *mergeIter) push(src run) {
	rn, ok, err := src.next()
	if err != nil {
		m.err = err
		return
	}
	if ok {
		heap.Push(&m.h, head{cur: rn, src: src})
	}
}

func (m *mergeIter) Next() (string, bool) {
	for m.err == nil && len(m.h) > 0 {
		top := m.h[0]
		rn, ok, err := top.src.next()
		if err != nil {
			m.err = fmt.Errorf("reconcile spool: %w", err)
			return "", false
		}
		if ok {
			m.h[0].cur = rn
			heap.Fix(&m.h, 0)
		} else {
			heap.Pop(&m.h)
		}
		if m.started && top.cur.name == m.last {
			continue // the same name in several lines or runs
		}
		m.started, m.last = true, top.cur.name
		return top.cur.name, true
	}
	return "", false
}

func (m *mergeIter) Err() error { return m.err }

func (m *mergeIter) Close() error {
	var errs []error
	for _, c := range m.closers {
		errs = append(errs, c.Close())
	}
	m.closers = nil
	return errors.Join(errs...)
}
