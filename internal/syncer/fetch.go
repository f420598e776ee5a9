package syncer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/ssogate/ssogate/internal/directory"
)

// maxLineBytes is the longest line read from a plain-text source (as the bulk import).
const maxLineBytes = 4 << 10

// errTooLarge reports a body over Options.MaxBytes.
var errTooLarge = errors.New("source is larger than the size cap")

// fetchAndReconcile fetches the list and reconciles the cluster's user namespace with it,
// with the default guard (SPEC section 8). The whole body is read and validated before
// anything changes, so a failing, oversized or garbage source changes no binding.
func (s *Syncer) fetchAndReconcile(ctx context.Context, c directory.Cluster) (directory.ReconcileResult, int64, error) {
	var none directory.ReconcileResult
	fctx, cancel := context.WithTimeout(ctx, s.opts.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(fctx, http.MethodGet, c.Sync.URL, nil)
	if err != nil {
		return none, 0, fmt.Errorf("sync url: %w", err)
	}
	req.Header.Set("Accept", "text/plain, application/json")
	if c.Sync.HeaderName != "" {
		getenv := s.opts.Getenv
		if getenv == nil {
			getenv = osGetenv
		}
		v := getenv(c.Sync.HeaderValueEnv)
		if v == "" {
			return none, 0, fmt.Errorf("environment variable %s (sync.header_value_env) is not set", c.Sync.HeaderValueEnv)
		}
		req.Header.Set(c.Sync.HeaderName, v)
	}
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return none, 0, fmt.Errorf("fetch: %w", redactURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return none, 0, fmt.Errorf("fetch: the source answered HTTP %d", resp.StatusCode)
	}
	body := &capped{r: resp.Body, left: s.opts.MaxBytes}
	br := bufio.NewReaderSize(body, 64<<10)
	isJSON, err := sourceKind(resp.Header.Get("Content-Type"), br)
	if err != nil {
		return none, 0, err
	}
	rec, err := s.opts.Directory.NewReconcile(ctx, directory.NamespaceUser, c.Code)
	if err != nil {
		return none, 0, err
	}
	defer rec.Close()
	var lines, rejected int64
	if isJSON {
		lines, rejected, err = readJSON(br, rec)
	} else {
		lines, rejected, err = readLines(br, rec)
	}
	if errors.Is(err, errTooLarge) {
		return none, rejected, fmt.Errorf("fetch: source is larger than %d bytes", s.opts.MaxBytes)
	}
	if err != nil {
		return none, rejected, fmt.Errorf("fetch: %w", err)
	}
	// A source that is mostly not usernames is not a user list (an error page, a binary).
	if rejected*10 > lines {
		return none, rejected, fmt.Errorf("the source does not look like a user list: %d of %d entries are not valid usernames", rejected, lines)
	}
	if rec.Names() == 0 {
		// An empty answer is far more often a broken export than a cluster without users.
		return none, rejected, errors.New("the source listed no usernames; bindings left unchanged")
	}
	res, err := rec.Run(directory.WithActor(ctx, directory.ActorSync), directory.ReconcileOptions{MaxRemovals: directory.DefaultMaxRemovals})
	return res, rejected, err
}

// sourceKind tells a JSON array from plain lines by the Content-Type, or by the first
// non-blank byte when the type says nothing; HTML and other types are refused.
func sourceKind(contentType string, br *bufio.Reader) (isJSON bool, err error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "application/json":
		return true, nil
	case "text/plain", "text/csv":
		return false, nil
	case "", "application/octet-stream":
		for i := 1; ; i++ {
			b, err := br.Peek(i)
			if len(b) < i {
				return false, peekErr(err)
			}
			if c := b[i-1]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				return c == '[', nil
			}
			if i >= 4096 {
				return false, nil
			}
		}
	default:
		return false, fmt.Errorf("the source answered Content-Type %q; want text/plain or application/json", mt)
	}
}

func peekErr(err error) error {
	if err == nil || err == io.EOF {
		return nil
	}
	return fmt.Errorf("fetch: %w", err)
}

func readLines(br *bufio.Reader, rec *directory.Reconciler) (lines, rejected int64, err error) {
	for {
		line, err := br.ReadSlice('\n')
		long := false
		for errors.Is(err, bufio.ErrBufferFull) {
			long = true
			_, err = br.ReadSlice('\n')
		}
		if len(line) == 0 && err == io.EOF {
			return lines, rejected, nil
		}
		if err != nil && err != io.EOF {
			return lines, rejected, err
		}
		lines++
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if lines == 1 {
			line = bytes.TrimPrefix(line, []byte("\uFEFF"))
		}
		switch {
		case long || len(line) > maxLineBytes:
			rejected++
		case len(bytes.TrimSpace(line)) == 0:
			lines-- // blank lines are not entries
		default:
			if err := rec.Add(string(line)); err != nil {
				if !errors.Is(err, directory.ErrInvalid) {
					return lines, rejected, err
				}
				rejected++
			}
		}
		if err == io.EOF {
			return lines, rejected, nil
		}
	}
}

// readJSON streams a JSON array of strings; anything else is an error (nothing applied).
func readJSON(r io.Reader, rec *directory.Reconciler) (entries, rejected int64, err error) {
	dec := json.NewDecoder(r)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return 0, 0, jsonErr(err, "the JSON source is not an array of strings")
	}
	for dec.More() {
		var name string
		if err := dec.Decode(&name); err != nil {
			return entries, rejected, jsonErr(err, fmt.Sprintf("entry %d of the JSON array is not a string", entries+1))
		}
		entries++
		if err := rec.Add(name); err != nil {
			if !errors.Is(err, directory.ErrInvalid) {
				return entries, rejected, err
			}
			rejected++
		}
	}
	if _, err := dec.Token(); err != nil {
		return entries, rejected, jsonErr(err, "the JSON array is not closed")
	}
	if _, err := dec.Token(); err != io.EOF {
		return entries, rejected, jsonErr(err, "unexpected data after the JSON array")
	}
	return entries, rejected, nil
}

func jsonErr(err error, msg string) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errTooLarge):
		return errTooLarge
	case err == nil, errors.As(err, &syntax), errors.As(err, &typ), errors.Is(err, io.ErrUnexpectedEOF), err == io.EOF:
		return errors.New(msg)
	default:
		return err // the transfer failed
	}
}

// capped reads at most left bytes and fails, rather than truncating, past them: a cut list
// would otherwise look complete.
type capped struct {
	r    io.Reader
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// redactURLError drops the URL from a transport error: a sync URL may carry a token in its
// query string, and the error ends up in the status and the log.
func redactURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}
