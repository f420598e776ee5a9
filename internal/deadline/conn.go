package deadline

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Tick is how often the watcher of [Watch] looks at the deadlines of its connections: a
// watched deadline ends I/O at most this late (more only when the process gets no CPU).
const Tick = 50 * time.Millisecond

// Watch wraps c so that its read and write deadlines are kept by one process-wide watcher,
// which looks at every watched connection each [Tick], instead of by a runtime timer re-armed
// whenever a deadline moves. fasthttp moves a served connection's deadlines four times a
// request (idle, header, body, write) and an upstream connection's twice, and each move locks
// the poller's descriptor and re-sorts a timer heap; with Watch a move is a store into the
// connection. A deadline already past when it is set reaches the connection at once, so
// SetReadDeadline(time.Now()) still interrupts a blocked Read immediately.
//
// The connection is watched until Close.
func Watch(c net.Conn) *Conn {
	w := &conns
	n := w.next.Add(1)
	wc := &Conn{Conn: c, shard: &w.shards[n%uint32(len(w.shards))]}
	wc.shard.add(wc)
	if w.count.Add(1) == 1 {
		w.start()
	}
	return wc
}

// Conn is a connection whose deadlines are kept by the watcher (see [Watch]).
type Conn struct {
	net.Conn
	shard       *shard
	read, write side
	mu          sync.Mutex // held while the underlying connection's deadline changes
	closed      atomic.Bool
}

// side is one direction's deadline.
type side struct {
	at atomic.Int64 // the deadline asked for, in Unix nanoseconds; 0: none
	// armed says the underlying connection may hold a deadline (the watcher found this one
	// due, or it was past when set): moving the deadline must then reach the connection too.
	armed atomic.Bool
}

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.set(&c.read, t, false) }

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.set(&c.write, t, true) }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	return errors.Join(c.set(&c.read, t, false), c.set(&c.write, t, true))
}

// Close implements net.Conn; the connection is no longer watched.
func (c *Conn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.shard.remove(c)
		conns.count.Add(-1)
	}
	return c.Conn.Close()
}

// CloseWrite shuts down the writing side when the wrapped connection can (TCP can): a
// lingering close sends its FIN this way.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// NetConn returns the wrapped connection.
func (c *Conn) NetConn() net.Conn { return c.Conn }

func (c *Conn) set(s *side, t time.Time, write bool) error {
	at := unixNano(t)
	s.at.Store(at) // before armed is read: see arm
	// Read the clock only for a deadline near the watcher's last tick: one already past
	// must end the I/O now, as the runtime would.
	if at != 0 && at-conns.now.Load() < 2*int64(Tick) && at <= time.Now().UnixNano() {
		return c.arm(s, write)
	}
	if s.armed.Load() {
		return c.arm(s, write)
	}
	return nil
}

// arm makes the underlying connection's deadline agree with s: s's deadline once it is due,
// none while it is still ahead (the watcher sees to it then). armed is stored before the
// deadline is read and set reads armed after storing the deadline, so of a concurrent set
// and arm at least one sees the other's store: a moved deadline is never left behind.
func (c *Conn) arm(s *side, write bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.armed.Store(true)
	var due time.Time
	if at := s.at.Load(); at != 0 && at <= time.Now().UnixNano() {
		due = time.Unix(0, at)
	} else {
		s.armed.Store(false)
	}
	if write {
		return c.Conn.SetWriteDeadline(due)
	}
	return c.Conn.SetReadDeadline(due)
}

// dueAt says whether s holds a deadline that is due at now and not yet armed.
func (s *side) dueAt(now int64) bool {
	at := s.at.Load()
	return at != 0 && at <= now && !s.armed.Load()
}

// check arms each side of c whose deadline is due at now.
func (c *Conn) check(now int64) {
	if c.read.dueAt(now) {
		c.arm(&c.read, false)
	}
	if c.write.dueAt(now) {
		c.arm(&c.write, true)
	}
}

// unixNano is t in Unix nanoseconds, 0 for the zero time; a deadline beyond what int64
// nanoseconds hold (year 2262) is none.
func unixNano(t time.Time) int64 {
	if t.IsZero() || t.After(latest) {
		return 0
	}
	return max(t.UnixNano(), 1)
}

var latest = time.Unix(0, 1<<63-1)

// watcher looks at the watched connections each Tick while there are any.
type watcher struct {
	shards [16]shard
	next   atomic.Uint32
	count  atomic.Int64 // connections watched
	now    atomic.Int64 // Unix nanoseconds at the last tick

	mu      sync.Mutex // held while the loop starts or stops
	running bool
}

var conns watcher

type shard struct {
	mu    sync.Mutex
	conns map[*Conn]struct{}
	_     [48]byte // a cache line to itself: accepts and closes lock shards concurrently
}

func (s *shard) add(c *Conn) {
	s.mu.Lock()
	if s.conns == nil {
		s.conns = make(map[*Conn]struct{})
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
}

func (s *shard) remove(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// start runs the loop unless it runs; a loop that saw no connection stops under the same
// lock, so a connection watched after it decided to stop starts a new one.
func (w *watcher) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running {
		return
	}
	w.running = true
	w.now.Store(time.Now().UnixNano())
	go w.loop()
}

func (w *watcher) loop() {
	t := time.NewTicker(Tick)
	defer t.Stop()
	var due []*Conn
	for range t.C {
		now := time.Now().UnixNano()
		w.now.Store(now)
		for i := range w.shards {
			due = w.shards[i].due(now, due[:0])
			// Armed outside the shard's lock: setting a deadline is a system call's worth.
			for _, c := range due {
				c.check(now)
			}
			clear(due)
		}
		if w.count.Load() == 0 {
			w.mu.Lock()
			if w.count.Load() == 0 {
				w.running = false
				w.mu.Unlock()
				return
			}
			w.mu.Unlock()
		}
	}
}

// due appends the connections with a deadline due at now that the watcher has not armed.
func (s *shard) due(now int64, out []*Conn) []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.read.dueAt(now) || c.write.dueAt(now) {
			out = append(out, c)
		}
	}
	return out
}
