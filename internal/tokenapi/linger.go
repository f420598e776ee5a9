package tokenapi

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// A refused upload is closed lingeringly (SPEC section 2): the 413 has been written, the write
// side is shut (the client reads the answer and an orderly end of stream), and what the client
// is still sending is read and discarded for a bounded time before the socket is closed.
// Closing at once with unread data makes the kernel send a reset, and the client — still
// writing its body — sees "connection reset by peer" instead of the 413 (net/http's
// rstAvoidanceDelay and nginx's lingering_close exist for this).
const (
	lingerTimeout  = 5 * time.Second // nginx's lingering_time is 30 s; SPEC allows cutting after 5 s
	lingerMaxBytes = 16 << 20        // SPEC: a client uploading up to 16 MiB gets the 413
	lingerBufSize  = 4 << 10
)

// lingerBufs are the discard buffers: small, since one is held per lingering connection.
var lingerBufs = sync.Pool{New: func() any { b := make([]byte, lingerBufSize); return &b }}

// lingerConn closes lingeringly once lingerOnClose has been called.
type lingerConn struct {
	net.Conn
	linger atomic.Bool
}

func (c *lingerConn) lingerOnClose() { c.linger.Store(true) }

func (c *lingerConn) Close() error {
	if c.linger.Load() {
		lingerDrain(c.Conn)
	}
	return c.Conn.Close()
}

func lingerDrain(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() != nil {
			return // the peer is gone already
		}
	}
	if c.SetReadDeadline(time.Now().Add(lingerTimeout)) != nil {
		return
	}
	buf := lingerBufs.Get().(*[]byte)
	defer lingerBufs.Put(buf)
	for n := 0; n < lingerMaxBytes; {
		m, err := c.Read(*buf)
		n += m
		if err != nil {
			return // EOF (the client is done), the deadline, or a reset
		}
	}
}

// lingerOnClose marks the connection under a request, if it is one of LimitListener's (also
// beneath TLS), to be closed lingeringly.
func lingerOnClose(c net.Conn) {
	for c != nil {
		switch v := c.(type) {
		case *limitConn:
			v.lingerOnClose()
			return
		case interface{ NetConn() net.Conn }: // *tls.Conn
			c = v.NetConn()
		default:
			return
		}
	}
}

var _ io.Closer = (*lingerConn)(nil)
