package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/ssogate/ssogate/internal/directory"
)

// errorBody is every error answer of the admin API (SPEC section 5).
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing left to tell it
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: code, Message: msg})
}

// fail turns a directory error into its answer: ErrInvalid → 400, ErrNotFound (always an
// unknown cluster on these routes) → 404, and anything else → 503. The directory's only I/O
// is its store, so any other error is the store failing (stores need not wrap their transport
// errors in directory.ErrUnavailable); its text stays in the log.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := s.classify(r, err)
	writeError(w, status, code, msg)
}

func (s *server) classify(r *http.Request, err error) (status int, code, msg string) {
	switch {
	case errors.Is(err, directory.ErrInvalid):
		return http.StatusBadRequest, "invalid_request", reason(err)
	case errors.Is(err, directory.ErrNotFound):
		return http.StatusNotFound, "not_found", "unknown cluster " + strings.ToUpper(r.PathValue("code"))
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; the status only reaches the access log.
		return 499, "canceled", "request canceled"
	default:
		s.log.Warn("admin: store failed", "method", r.Method, "path", r.URL.Path, "err", err,
			"unavailable", directory.IsUnavailable(err))
		return http.StatusServiceUnavailable, "unavailable", "the directory store is unavailable; try again"
	}
}

// reason is a validation error's text without the trailing sentinel (": invalid").
func reason(err error) string {
	return strings.TrimSuffix(err.Error(), ": "+directory.ErrInvalid.Error())
}

// statusRecorder remembers the status and size of an answer for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *statusRecorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// fallbackWriter wraps the mux's own answers for unmatched requests: a 404 or 405 becomes a
// JSON error (keeping the Allow header); anything else (a redirect to a cleaned path) passes.
type fallbackWriter struct {
	w           http.ResponseWriter
	wrote       bool
	passThrough bool
}

func (f *fallbackWriter) Header() http.Header { return f.w.Header() }

func (f *fallbackWriter) WriteHeader(code int) {
	if f.wrote {
		return
	}
	f.wrote = true
	switch code {
	case http.StatusNotFound:
		writeError(f.w, code, "not_found", "no such route")
	case http.StatusMethodNotAllowed:
		writeError(f.w, code, "method_not_allowed", "method not allowed; allowed: "+f.w.Header().Get("Allow"))
	default:
		f.passThrough = true
		f.w.WriteHeader(code)
	}
}

func (f *fallbackWriter) Write(b []byte) (int, error) {
	if !f.wrote {
		f.WriteHeader(http.StatusOK)
	}
	if f.passThrough {
		return f.w.Write(b)
	}
	return len(b), nil
}
