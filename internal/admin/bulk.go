package admin

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
)

// Bounds of the bulk import (POST /admin/clusters/{code}/users).
const (
	// MaxImportLineBytes is the longest line accepted; a longer one is a rejected line, not a
	// failed import.
	MaxImportLineBytes = 4 << 10
	// MaxRejectedListed caps the rejected lines listed in the answer; rejected_count has them all.
	MaxRejectedListed = 1000
)

// rejectedLine is one line of a bulk import that was not bound.
type rejectedLine struct {
	Line   int64  `json:"line"`
	Reason string `json:"reason"`
}

type bulkResult struct {
	Bound         int            `json:"bound"`
	Rejected      []rejectedLine `json:"rejected"`
	RejectedCount int64          `json:"rejected_count"`
}

// bulkFailure is the answer of an import that stopped part-way: the error plus what was
// already written, so that the operator knows the import can simply be run again.
type bulkFailure struct {
	errorBody
	Bound int   `json:"bound"`
	Line  int64 `json:"line"`
}

// bulkBind binds a text/plain stream of usernames, one per line, to a cluster. The body is
// read line by line and written in batches (directory.BulkBindBatch), so an import of any size
// runs in constant memory (SPEC section 7: millions of bindings).
func (s *server) bulkBind(w http.ResponseWriter, r *http.Request) {
	ns, ok := namespace(w, r)
	if !ok {
		return
	}
	code, ok := s.pathCode(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	b, err := s.dir.BulkBind(ctx, ns, code)
	if err != nil {
		s.fail(w, r, fmt.Errorf("bulk bind to %q: %w", code, err))
		return
	}
	res := bulkResult{Rejected: []rejectedLine{}}
	reject := func(line int64, why string) {
		res.RejectedCount++
		if len(res.Rejected) < MaxRejectedListed {
			res.Rejected = append(res.Rejected, rejectedLine{Line: line, Reason: why})
		}
	}
	body := io.Reader(r.Body)
	if idle := s.opts.BulkIdleTimeout; idle > 0 {
		body = &progressReader{r: r.Body, rc: http.NewResponseController(w), idle: idle}
	}
	lines := newLineReader(body)
	for {
		line, n, tooLong, err := lines.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.bulkFail(w, r, b, res.RejectedCount, n, http.StatusBadRequest, "read_failed",
				fmt.Sprintf("reading the body failed at line %d: %v", n, err))
			return
		}
		if tooLong {
			reject(n, fmt.Sprintf("line is longer than %d bytes", MaxImportLineBytes))
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := b.Add(ctx, string(line)); err != nil {
			if errors.Is(err, directory.ErrInvalid) {
				reject(n, reason(err))
				continue
			}
			status, code, msg := s.classify(r, err)
			s.bulkFail(w, r, b, res.RejectedCount, n, status, code, msg)
			return
		}
	}
	if err := b.Flush(ctx); err != nil {
		status, code, msg := s.classify(r, err)
		s.bulkFail(w, r, b, res.RejectedCount, lines.n, status, code, msg)
		return
	}
	_ = b.Finish(ctx, res.RejectedCount, false) // everything is flushed: this only records
	res.Bound = b.Bound
	s.log.Info("admin: bulk import", "code", code, "client", string(ns),
		"bound", res.Bound, "rejected", res.RejectedCount, "lines", lines.n)
	writeJSON(w, http.StatusOK, res)
}

func (s *server) bulkFail(w http.ResponseWriter, r *http.Request, b *directory.BulkBinder, rejected int64,
	line int64, status int, code, msg string) {
	_ = b.Finish(r.Context(), rejected, true) // records what was bound before the failure
	s.log.Warn("admin: bulk import stopped", "path", r.URL.Path, "line", line, "bound", b.Bound, "err", msg)
	writeJSON(w, status, bulkFailure{errorBody: errorBody{Error: code, Message: msg}, Bound: b.Bound, Line: line})
}

// bulkAnswerSlack is how long past the read deadline a bulk import may take to write its last
// batch and its answer.
const bulkAnswerSlack = time.Minute

// progressReader moves the connection's deadlines forward each time the body brings data,
// so that an import is cut off when its client stalls for BulkIdleTimeout, not when it has
// run longer than a small request may (SPEC section 6: slow clients are cut off; section 7:
// millions of bindings in one stream).
type progressReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
	// last is when the deadlines were last moved: at most once per tenth of the idle time.
	last time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	if p.last.IsZero() {
		p.extend(time.Now()) // the headers took part of the server's ReadTimeout already
	}
	n, err := p.r.Read(b)
	if n > 0 {
		if now := time.Now(); now.Sub(p.last) >= p.idle/10 {
			p.extend(now)
		}
	}
	return n, err
}

func (p *progressReader) extend(now time.Time) {
	p.last = now
	// ErrNotSupported (a ResponseWriter without deadlines, as in some tests) leaves the
	// server's own deadlines in force, which is safe.
	_ = p.rc.SetReadDeadline(now.Add(p.idle))
	_ = p.rc.SetWriteDeadline(now.Add(p.idle + bulkAnswerSlack))
}

// lineReader splits a stream into lines without ever holding more than one bounded buffer:
// unlike bufio.Scanner, an over-long line is skipped and reported rather than ending the scan.
type lineReader struct {
	br *bufio.Reader
	n  int64 // number of the last line returned, from 1
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its "\n" or "\r\n" and its number; tooLong is set (and
// line is nil) for a line over MaxImportLineBytes. A last line without a newline counts.
func (l *lineReader) next() (line []byte, n int64, tooLong bool, err error) {
	var long bool
	for {
		chunk, err := l.br.ReadSlice('\n')
		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull):
			long = true // keep discarding until the end of the line
			continue
		case err == io.EOF:
			if len(chunk) == 0 && !long {
				return nil, l.n, false, io.EOF
			}
		default:
			return nil, l.n + 1, false, err
		}
		l.n++
		chunk = bytes.TrimSuffix(chunk, []byte("\n"))
		chunk = bytes.TrimSuffix(chunk, []byte("\r"))
		if l.n == 1 {
			// Spreadsheet exports often start with a UTF-8 byte order mark.
			chunk = bytes.TrimPrefix(chunk, []byte("\uFEFF"))
		}
		if long || len(chunk) > MaxImportLineBytes {
			return nil, l.n, true, nil
		}
		return chunk, l.n, false, nil
	}
}
