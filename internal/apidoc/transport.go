package apidoc

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// captureLimit bounds the request body kept for validation; a larger body (a bulk import of a
// million lines) is streamed unchanged and only its answer is validated.
const captureLimit = 1 << 20

// Transport returns a RoundTripper that sends through base (nil: http.DefaultTransport) and
// reports every exchange that does not match the document as a test error on t. Bodies are
// streamed as the test wrote them (a slow upload stays slow); the answer's body is read whole
// and handed back unchanged, except event streams, which are neither read nor validated.
func Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	t.Helper()
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{t: t, base: base, c: c}
}

// Client returns a copy of client (nil: a new one) whose transport validates (see Transport).
func Client(t testing.TB, client *http.Client) *http.Client {
	t.Helper()
	var c http.Client
	if client != nil {
		c = *client
	}
	c.Transport = Transport(t, c.Transport)
	return &c
}

type transport struct {
	t    testing.TB
	base http.RoundTripper
	c    *Checker
}

// capture keeps the first captureLimit bytes read through it. The transport's writer reads
// the body on a goroutine of its own, which may still be sending when the answer is back (a
// 413 answered before the whole body arrived), hence the lock.
type capture struct {
	io.ReadCloser
	mu        sync.Mutex
	buf       bytes.Buffer
	truncated bool
	eof       bool
}

func (c *capture) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := captureLimit - c.buf.Len(); n > 0 {
		if n > room {
			c.buf.Write(p[:room])
			c.truncated = true
		} else {
			c.buf.Write(p[:n])
		}
	}
	if err == io.EOF {
		c.eof = true
	}
	return n, err
}

// snapshot is what was read so far, and whether that is the whole body: all of the announced
// length (size, -1 when unknown), or everything up to the end.
func (c *capture) snapshot(size int64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	whole := c.eof || size >= 0 && int64(c.buf.Len()) == size
	return bytes.Clone(c.buf.Bytes()), whole && !c.truncated
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body *capture
	if req.Body != nil && req.Body != http.NoBody {
		body = &capture{ReadCloser: req.Body}
		clone := req.Clone(req.Context())
		clone.Body = body
		clone.GetBody = nil
		req = clone
	}
	resp, err := tr.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp, nil
	}
	raw, readErr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if readErr != nil {
		// The test reads the same bytes and then the same error, and decides what it means.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(raw), errReader{readErr}))
		return resp, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	x := Exchange{Request: req, Response: resp, ResponseBody: raw, RequestBodyComplete: true}
	if body != nil {
		x.RequestBody, x.RequestBodyComplete = body.snapshot(req.ContentLength)
	}
	if err := tr.c.Check(x); err != nil {
		tr.t.Errorf("apidoc: %v", err)
	}
	return resp, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
