package tokenapi

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// DefaultBufferedConns is how many client connections keep their buffers and request state
// between requests when Limits.BufferedConns is 0.
const DefaultBufferedConns = 128

// Server is the public listener's server: one handler behind two fasthttp servers. The first
// BufferedConns open connections are served as fasthttp serves by default, with their read and
// write buffers and request state kept between requests — the fastest path, and the one a
// gateway behind a load balancer's pooled connections always takes. Connections beyond them
// (apps connecting directly, most of them idle in keep-alive) are served lean: fasthttp's
// ReduceMemoryUsage returns buffers and request state to pools while the connection waits,
// at the price of one more read per request (SPEC section 7: 10,000 idle keep-alive
// connections add at most 100 MiB; a kept connection holds ~22 KiB, a lean one ~10 KiB).
type Server struct {
	full, lean *fasthttp.Server
	buffered   int64

	fullOpen   atomic.Int64  // connections given to full and not yet closed
	leanServed atomic.Uint64 // connections ever given to lean

	mu       sync.Mutex
	ln       net.Listener
	stopping bool
}

// Serve accepts connections from ln until it is closed or the server shuts down, and serves
// them. Like fasthttp's Serve it returns nil once shut down.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return nil
	}
	s.ln = ln
	s.mu.Unlock()

	full, lean := newConnQueue(ln), newConnQueue(ln)
	errc := make(chan error, 2)
	go func() { errc <- s.full.Serve(full) }()
	go func() { errc <- s.lean.Serve(lean) }()
	stopReclaim := make(chan struct{})
	go s.reclaimIdle(stopReclaim)

	var acceptErr error
	for {
		c, err := ln.Accept()
		if err != nil {
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				time.Sleep(10 * time.Millisecond) // as fasthttp does with a temporary error
				continue
			}
			if !errors.Is(err, net.ErrClosed) {
				acceptErr = err
			}
			break
		}
		if s.fullOpen.Add(1) <= s.buffered {
			if !full.put(c) {
				s.fullOpen.Add(-1) // shutting down: closed, never served
			}
			continue
		}
		s.fullOpen.Add(-1)
		s.leanServed.Add(1)
		lean.put(c)
	}
	close(stopReclaim)
	full.Close()
	lean.Close()
	err := errors.Join(<-errc, <-errc)
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if stopping {
		return nil
	}
	return errors.Join(acceptErr, err)
}

// ShutdownWithContext stops accepting, lets requests in flight finish and closes idle
// connections, on both servers, within ctx.
func (s *Server) ShutdownWithContext(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	var wg sync.WaitGroup
	var fullErr, leanErr error
	wg.Add(2)
	go func() { defer wg.Done(); fullErr = s.full.ShutdownWithContext(ctx) }()
	go func() { defer wg.Done(); leanErr = s.lean.ShutdownWithContext(ctx) }()
	wg.Wait()
	return errors.Join(fullErr, leanErr)
}

// Shutdown is ShutdownWithContext without a deadline.
func (s *Server) Shutdown() error { return s.ShutdownWithContext(context.Background()) }

// countFullClosed is the full server's ConnState hook: a closed connection frees its place.
func (s *Server) countFullClosed(_ net.Conn, st fasthttp.ConnState) {
	if st == fasthttp.StateClosed || st == fasthttp.StateHijacked {
		s.fullOpen.Add(-1)
	}
}

// reclaimIdle frees what lean connections gone idle gave back. They return their buffers and
// request state to pools, but only a garbage collection frees them, and a gateway that just
// took many connections and is now quiet may not collect for minutes (GOGC 400): measured,
// 10,000 idle lean connections held +111 MiB without one and +96 to +99 MiB after it. Once a
// second it looks, and reclaimer says when to collect: after a burst of reclaimAfter lean
// connections is over, never chasing a steady churn (each collection walks the whole heap, a
// million cached usernames included), and not when the runtime collected on its own. (The
// goroutines' stacks stay at the 8 KiB a request grew them to: an idle one still uses ~2.7 KiB,
// over the quarter below which the collector halves a stack.)
func (s *Server) reclaimIdle(stop <-chan struct{}) {
	sample := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	cycles := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	r := newReclaimer(cycles(), s.leanServed.Load())
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if r.due(cycles(), s.leanServed.Load()) {
			// A collection, and the freed pages handed back to the system at once (the
			// background scavenger would take minutes to return what a burst left).
			debug.FreeOSMemory()
			r.collected(cycles())
		}
	}
}

// reclaimAfter is how many lean connections must have arrived since the last collection.
const reclaimAfter = 1000

// reclaimer decides, look by look, when reclaimIdle collects.
type reclaimer struct {
	cycles uint64 // collections counted at the last one seen
	served uint64 // lean connections served at the last collection
	prev   uint64 // lean connections served at the previous look
}

func newReclaimer(cycles, served uint64) *reclaimer {
	return &reclaimer{cycles: cycles, served: served, prev: served}
}

// due takes one look: the collections run so far and the lean connections served so far.
func (r *reclaimer) due(cycles, served uint64) bool {
	quiet := served == r.prev
	r.prev = served
	if cycles != r.cycles {
		// Collected on its own since the last look: what was given back then is freed.
		r.cycles, r.served = cycles, served
		return false
	}
	return quiet && served-r.served >= reclaimAfter
}

// collected records the collection due asked for.
func (r *reclaimer) collected(cycles uint64) { r.cycles, r.served = cycles, r.prev }

// connQueue is a net.Listener whose connections are put into it: the dispatcher's way of
// handing each accepted connection to one of the two fasthttp servers.
type connQueue struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newConnQueue(ln net.Listener) *connQueue {
	return &connQueue{addr: ln.Addr(), conns: make(chan net.Conn), done: make(chan struct{})}
}

// put hands c to the server accepting from q, or closes it and says false when q is closed.
func (q *connQueue) put(c net.Conn) bool {
	select {
	case q.conns <- c:
		return true
	case <-q.done:
		c.Close()
		return false
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.conns:
		return c, nil
	case <-q.done:
		return nil, io.EOF // fasthttp's Serve returns nil on it
	}
}

func (q *connQueue) Close() error {
	q.closed.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }
