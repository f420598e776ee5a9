package deadline

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// pair is a watched connection and its plain peer, over loopback TCP.
func pair(t testing.TB) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	w := Watch(c)
	t.Cleanup(func() { w.Close(); peer.Close() })
	return w, peer
}

// readOne reads one byte and returns the error and how long the Read took.
func readOne(c net.Conn) (time.Duration, error) {
	start := time.Now()
	var b [1]byte
	_, err := c.Read(b[:])
	return time.Since(start), err
}

// wantDeadlineExceeded waits (at most 10 s: a hang detector) for the error of an I/O that a
// deadline must end, and fails unless it is os.ErrDeadlineExceeded.
func wantDeadlineExceeded(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s: %v, want os.ErrDeadlineExceeded", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: never ended", what)
	}
}

func TestWatchedReadDeadlineEndsABlockedRead(t *testing.T) {
	c, _ := pair(t)
	const d = 100 * time.Millisecond
	c.SetReadDeadline(time.Now().Add(d))
	done := make(chan struct{})
	var took time.Duration
	var err error
	go func() { took, err = readOne(c); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the read never ended")
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read error = %v, want os.ErrDeadlineExceeded", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read error %v is not a net.Error timeout (fasthttp and net/http look for one)", err)
	}
	if took < d-5*time.Millisecond { // the clock's granularity, no more
		t.Fatalf("the read ended after %v, before its deadline %v", took, d)
	}
}

func TestWatchedDeadlineAlreadyPastFailsAtOnce(t *testing.T) {
	c, peer := pair(t)
	// Data is waiting: only a deadline enforced when set (as the runtime does), not at the
	// next tick, makes this Read fail.
	if _, err := peer.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the byte is in c's receive buffer
	c.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := readOne(c); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with a past deadline and data waiting: %v, want os.ErrDeadlineExceeded", err)
	}
	// time.Now() as the deadline interrupts a Read that is already blocked.
	c.SetReadDeadline(time.Time{})
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil {
		t.Fatalf("read after the deadline was cleared: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := readOne(c); done <- err }()
	time.Sleep(20 * time.Millisecond)
	c.SetReadDeadline(time.Now())
	wantDeadlineExceeded(t, done, "interrupted read")
}

func TestWatchedDeadlineMovedAheadKeepsTheConnection(t *testing.T) {
	c, peer := pair(t)
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	c.SetReadDeadline(time.Now().Add(time.Minute)) // moved before it was due
	go func() {
		time.Sleep(3 * Tick) // well past the first deadline
		peer.Write([]byte("x"))
	}()
	if _, err := readOne(c); err != nil {
		t.Fatalf("read under a deadline moved ahead: %v", err)
	}
}

func TestWatchedConnUsableAfterItsDeadlineFired(t *testing.T) {
	c, peer := pair(t)
	for round := range 3 {
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := readOne(c); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("round %d: read past a 1 ms deadline: %v, want os.ErrDeadlineExceeded", round, err)
		}
		if round%2 == 0 {
			c.SetReadDeadline(time.Now().Add(time.Minute))
		} else {
			c.SetReadDeadline(time.Time{})
		}
		if _, err := peer.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := readOne(c); err != nil {
			t.Fatalf("round %d: read after the deadline moved ahead of a fired one: %v", round, err)
		}
	}
}

func TestWatchedWriteDeadlineEndsABlockedWrite(t *testing.T) {
	c, _ := pair(t) // the peer never reads: the buffers fill and Write blocks
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	chunk := make([]byte, 1<<20)
	done := make(chan error, 1)
	go func() {
		for range 512 { // 512 MiB: far more than loopback buffers hold
			if _, err := c.Write(chunk); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	wantDeadlineExceeded(t, done, "blocked write")
}

func TestWatchedSetDeadlineCoversBoth(t *testing.T) {
	c, peer := pair(t)
	c.SetDeadline(time.Now().Add(-time.Second))
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past SetDeadline: %v", err)
	}
	if _, err := readOne(c); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past SetDeadline: %v", err)
	}
	c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte("y")); err != nil {
		t.Fatalf("write after the deadline was cleared: %v", err)
	}
	var b [1]byte
	if _, err := io.ReadFull(peer, b[:]); err != nil || b[0] != 'y' {
		t.Fatalf("peer read %q, %v", b[:], err)
	}
}

// Many connections moving their deadlines while the watcher fires others: a deadline that
// fired never lingers into the next one (run with -race).
func TestWatchedConcurrentMoves(t *testing.T) {
	var wg sync.WaitGroup
	for range 8 {
		c, peer := pair(t)
		wg.Go(func() {
			for round := range 10 {
				c.SetReadDeadline(time.Now().Add(time.Duration(round%3) * Tick / 2))
				if _, err := readOne(c); !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("round %d: %v, want os.ErrDeadlineExceeded", round, err)
					return
				}
				c.SetReadDeadline(time.Now().Add(time.Minute))
				if _, err := peer.Write([]byte("x")); err != nil {
					t.Error(err)
					return
				}
				if _, err := readOne(c); err != nil {
					t.Errorf("round %d: read under a deadline a minute ahead: %v", round, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestWatcherStopsWithoutConnectionsAndStartsAgain(t *testing.T) {
	c, _ := pair(t)
	c.Close()
	stopped := func() bool {
		conns.mu.Lock()
		defer conns.mu.Unlock()
		return !conns.running
	}
	deadline := time.Now().Add(10 * time.Second)
	for !stopped() {
		if time.Now().After(deadline) {
			t.Fatalf("the watcher still runs with %d connections", conns.count.Load())
		}
		time.Sleep(Tick)
	}
	// A connection watched after the stop is watched by a new loop.
	c2, _ := pair(t)
	c2.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	done := make(chan error, 1)
	go func() { _, err := readOne(c2); done <- err }()
	wantDeadlineExceeded(t, done, "read on a connection watched after a stop")
	if got := conns.count.Load(); got != 1 {
		t.Fatalf("%d connections watched, want 1", got)
	}
}

// BenchmarkMoveDeadline is what fasthttp pays each time it moves a deadline (four times a
// served request): the runtime's timer against the watcher's store.
func BenchmarkMoveDeadline(b *testing.B) {
	for _, watched := range []bool{false, true} {
		name := "runtime"
		if watched {
			name = "watched"
		}
		b.Run(name, func(b *testing.B) {
			c, _ := pair(b)
			var conn net.Conn = c
			if !watched {
				conn = c.Conn
			}
			b.ResetTimer()
			for i := range b.N {
				conn.SetReadDeadline(time.Now().Add(time.Duration(10+i%3) * time.Second))
			}
		})
	}
}
