package tokenapi

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ssogate/ssogate/internal/sso"
)

// Limits protect the public listener from slow or huge clients (SPEC section 6).
type Limits struct {
	ReadHeaderTimeout time.Duration // time to read the request line and headers
	ReadTimeout       time.Duration // time to read the body once headers are in
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	MaxBodyBytes      int
	MaxConns          int // simultaneous connections; beyond it a connection gets 503 and is closed
	// BufferedConns is how many connections keep their buffers between requests; the ones
	// beyond are served lean (see Server). 0: DefaultBufferedConns; negative: none.
	BufferedConns int
}

// NewServer returns the public listener's server. fasthttp serves the hot path: on two cores it
// forwards several times more logins per second than net/http with a generic client (see
// docs/benchmarks.md).
func NewServer(h *Handler, l Limits, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{buffered: int64(cmp.Or(l.BufferedConns, DefaultBufferedConns))}
	if l.BufferedConns < 0 {
		s.buffered = 0
	}
	s.full, s.lean = newFastServer(h, l, logger), newFastServer(h, l, logger)
	s.full.ConnState = s.countFullClosed
	s.lean.ReduceMemoryUsage = true
	return s
}

func newFastServer(h *Handler, l Limits, logger *slog.Logger) *fasthttp.Server {
	bodyTimeout := l.ReadTimeout
	return &fasthttp.Server{
		Handler:               h.ServeFastHTTP,
		ErrorHandler:          h.serveParseError,
		Name:                  "ssogate",
		NoDefaultServerHeader: true,
		// fasthttp's ReadTimeout covers the headers; the body gets its own budget below.
		ReadTimeout:    l.ReadHeaderTimeout,
		WriteTimeout:   l.WriteTimeout,
		IdleTimeout:    l.IdleTimeout,
		ReadBufferSize: l.MaxHeaderBytes,
		// Exactly the limit (SPEC section 2: no connection makes the gateway hold more than
		// the body limit for it). fasthttp refuses a Content-Length over it before reading
		// or allocating anything, and a chunked body as soon as it passes it; serveParseError
		// answers 413 and the connection closes lingeringly, so a client still uploading
		// reads the answer instead of a reset. (fasthttp allocates an announced length up to
		// this limit at once: 400 idle connections announcing 1 MiB once held 435 MB.)
		MaxRequestBodySize: cmp.Or(l.MaxBodyBytes, defaultMaxBody),
		Concurrency:        l.MaxConns,
		HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
			return fasthttp.RequestConfig{ReadTimeout: bodyTimeout}
		},
		CloseOnShutdown:              true,
		DisablePreParseMultipartForm: true,
		SecureErrorLogMessage:        true, // see fasthttpLogger
		Logger:                       fasthttpLogger{logger},
	}
}

var errRequestTimeout = &gatewayError{status: 408, word: errInvalidRequest, message: "请求超时", description: "请求发送过慢,连接已超时"}

// serveParseError answers requests fasthttp could not read, still in JSON with code 1002.
func (h *Handler) serveParseError(ctx *fasthttp.RequestCtx, err error) {
	x := exchange{ctx: ctx, requestID: requestID(nil)}
	ctx.Response.Header.Set("X-Request-Id", x.requestID)
	ctx.SetConnectionClose()
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		h.writeError(&x, errBodyTooLarge)
		lingerOnClose(ctx.Conn())
	case errors.As(err, &small), errors.Is(err, fasthttp.ErrSmallReadBuffer):
		h.writeError(&x, errHeaderTooLarge)
	case errors.Is(err, os.ErrDeadlineExceeded):
		// read_header_timeout or read_timeout ran out while the request was arriving (a slow
		// or slowloris client): RFC 9110 section 15.5.9.
		h.writeError(&x, errRequestTimeout)
	default:
		h.writeError(&x, errBadHTTP)
	}
	if h.opts.Recorder != nil {
		h.opts.Recorder.Answered(x.code, "", 0)
	}
}

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	// fasthttp's parse errors quote what the client sent: the offending header line and a
	// snippet of the buffer, Authorization header included. Each error is kept up to its
	// first quoted part (SPEC section 6: never the password, secret or Authorization header).
	for i, a := range args {
		if err, ok := a.(error); ok {
			args[i] = sso.RedactPeerBytes(err.Error())
		}
	}
	f.l.Debug("fasthttp", "detail", strings.TrimSpace(fmt.Sprintf(format, args...)))
}
