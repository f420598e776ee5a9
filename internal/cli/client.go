package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// requestTimeout bounds every call but the import, whose length depends on the file.
const requestTimeout = 60 * time.Second

// client calls the admin API.
type client struct {
	ctx   context.Context
	base  string // scheme://host[/prefix], without a trailing slash
	token string
	hc    *http.Client
	out   io.Writer
	// errOut receives progress of long uploads (user sync).
	errOut io.Writer
}

func newClient(ctx context.Context, base, token string, out io.Writer) (*client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--admin-url %q: must be an http(s) URL such as %s", base, DefaultAdminURL)
	}
	return &client{ctx: ctx, base: strings.TrimRight(base, "/"), token: token, hc: &http.Client{}, out: out}, nil
}

// apiError is a non-2xx answer of the admin API.
type apiError struct {
	Status  int
	Code    string // the API's "error" word
	Message string
}

func (e *apiError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// seg escapes one path segment. Beyond url.PathEscape ('/' → %2F, ' ' → %20), "." and ".."
// are escaped too, or the server would clean them out of the path.
func seg(s string) string {
	e := url.PathEscape(s)
	if e == "." || e == ".." {
		e = strings.ReplaceAll(e, ".", "%2E")
	}
	return e
}

// request is one call: path is already escaped (built with seg).
type request struct {
	method, path string
	query        url.Values
	body         io.Reader
	contentType  string
	contentLen   int64 // -1 when unknown
	noTimeout    bool  // the import streams for as long as the file takes
}

// do sends req and decodes a 2xx JSON answer into out (when out is non-nil). It returns the
// HTTP status, or an *apiError for a non-2xx answer.
func (c *client) do(req request, out any) (int, error) {
	ctx := c.ctx
	if !req.noTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, requestTimeout)
		defer cancel()
	}
	u := c.base + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, req.body)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", req.method, req.path, err)
	}
	if req.body != nil && req.contentLen >= 0 {
		hr.ContentLength = req.contentLen
	}
	if req.contentType != "" {
		hr.Header.Set("Content-Type", req.contentType)
	}
	hr.Header.Set("Accept", "application/json")
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		return 0, fmt.Errorf("calling the admin API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, decodeError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: decoding the answer: %w", req.method, req.path, err)
	}
	return resp.StatusCode, nil
}

func decodeError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &apiError{Status: resp.StatusCode}
	var eb struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &eb) == nil && (eb.Error != "" || eb.Message != "") {
		e.Code, e.Message = eb.Error, eb.Message
		if e.Message == "" {
			e.Message = eb.Error
		}
		return e
	}
	// Not our API (a proxy, a wrong port): show the start of what came back.
	e.Message = strings.TrimSpace(string(body))
	if len(e.Message) > 200 {
		e.Message = e.Message[:200] + "…"
	}
	return e
}

func (c *client) getJSON(path string, query url.Values, out any) error {
	_, err := c.do(request{method: http.MethodGet, path: path, query: query, contentLen: -1}, out)
	return err
}
