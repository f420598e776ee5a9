package tokenapi

import (
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/ssogate/ssogate/internal/deadline"
)

// LimitListener bounds the simultaneous connections of the public listener (SPEC section 6).
// Past the bound a new connection is answered at once with a JSON 503 carrying code 1002 and
// closed: a client always gets an answer it can parse, never a hang in the accept queue nor
// fasthttp's plain-text refusal. max <= 0 means no bound. Its connections can also be closed
// lingeringly (see lingerConn), which a refused upload needs.
func LimitListener(ln net.Listener, max int) net.Listener {
	l := &limitListener{Listener: ln}
	if max > 0 {
		l.slots = make(chan struct{}, max)
	}
	return l
}

type limitListener struct {
	net.Listener
	slots chan struct{} // nil: no bound
}

var busyAnswer = func() []byte {
	body := appendGatewayError(nil, &gatewayError{word: errUnavailable, message: "服务繁忙", description: "服务器连接数已满,请稍后再试"}, "")
	head := "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json;charset=UTF-8\r\n" +
		"Cache-Control: no-store\r\nPragma: no-cache\r\nRetry-After: 1\r\nConnection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	return append([]byte(head), body...)
}()

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		// Deadlines watched, not timed: fasthttp moves them four times a request.
		if l.slots == nil {
			return &limitConn{lingerConn: lingerConn{Conn: deadline.Watch(c)}, release: func() {}}, nil
		}
		select {
		case l.slots <- struct{}{}:
			return &limitConn{lingerConn: lingerConn{Conn: deadline.Watch(c)}, release: func() { <-l.slots }}, nil
		default:
			go refuse(c)
		}
	}
}

func refuse(c net.Conn) {
	c.SetDeadline(time.Now().Add(time.Second))
	c.Write(busyAnswer)
	c.Close()
}

type limitConn struct {
	lingerConn
	once    sync.Once
	release func()
}

// Close lingers first when asked to; the slot is held until the connection is really gone.
func (c *limitConn) Close() error {
	err := c.lingerConn.Close()
	c.once.Do(c.release)
	return err
}
