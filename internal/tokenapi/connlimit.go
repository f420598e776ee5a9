package tokenapi

import (
	"net"
	"strconv"
	"sync"
	"time"
)

// LimitListener bounds the simultaneous connections of the public listener (SPEC section 6).
// Past the bound a new connection is answered at once with a JSON 503 carrying code 1002 and
// closed: a client always gets an answer it can parse, never a hang in the accept queue nor
// fasthttp's plain-text refusal. max <= 0 means no bound.
func LimitListener(ln net.Listener, max int) net.Listener {
	if max <= 0 {
		return ln
	}
	return &limitListener{Listener: ln, slots: make(chan struct{}, max)}
}

type limitListener struct {
	net.Listener
	slots chan struct{}
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
		select {
		case l.slots <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
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
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
