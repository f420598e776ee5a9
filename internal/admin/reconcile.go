package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/ssogate/ssogate/internal/directory"
)

// reconcileResult is the answer of PUT /admin/clusters/{code}/users (SPEC section 8).
type reconcileResult struct {
	Added         int64          `json:"added"`
	Removed       int64          `json:"removed"`
	Unchanged     int64          `json:"unchanged"`
	Rejected      []rejectedLine `json:"rejected"`
	RejectedCount int64          `json:"rejected_count"`
	DryRun        bool           `json:"dry_run"`
	SampleAdded   []string       `json:"sample_added"`
	SampleRemoved []string       `json:"sample_removed"`
}

// tooManyRemovals is the 409 answer of a reconcile refused by its guard: the error and the
// counts it would have had.
type tooManyRemovals struct {
	errorBody
	reconcileResult
	MaxRemovals int64 `json:"max_removals"`
}

// reconcileQuery reads ?dry_run= and ?max_removals= (default directory.DefaultMaxRemovals,
// -1 for no limit).
func reconcileQuery(w http.ResponseWriter, r *http.Request) (directory.ReconcileOptions, bool) {
	q := r.URL.Query()
	opts := directory.ReconcileOptions{MaxRemovals: directory.DefaultMaxRemovals}
	if v := q.Get("dry_run"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", fmt.Sprintf("dry_run %q: must be true or false", v))
			return opts, false
		}
		opts.DryRun = b
	}
	if v := q.Get("max_removals"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < -1 {
			writeError(w, http.StatusBadRequest, "invalid_request",
				fmt.Sprintf("max_removals %q: must be a non-negative integer, or -1 for no limit", v))
			return opts, false
		}
		opts.MaxRemovals = n
	}
	return opts, true
}

// reconcile makes the cluster's bindings in the namespace exactly the streamed list, one
// username a line (SPEC section 8). Bad lines are rejected with their numbers and the rest
// is applied; the list is spooled in bounded memory by the directory (reconcile.go there).
func (s *server) reconcile(w http.ResponseWriter, r *http.Request) {
	ns, ok := namespace(w, r)
	if !ok {
		return
	}
	code, ok := s.pathCode(w, r)
	if !ok {
		return
	}
	opts, ok := reconcileQuery(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	rec, err := s.dir.NewReconcile(ctx, ns, code)
	if err != nil {
		s.fail(w, r, fmt.Errorf("reconcile %q: %w", code, err))
		return
	}
	defer rec.Close()
	out := reconcileResult{Rejected: []rejectedLine{}}
	lines := newLineReader(r.Body)
	for {
		line, n, tooLong, err := lines.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// Nothing has been changed yet: the list is applied only once it is complete.
			writeError(w, http.StatusBadRequest, "read_failed",
				fmt.Sprintf("reading the body failed at line %d: %v; nothing was changed", n, err))
			return
		}
		if tooLong {
			out.reject(n, fmt.Sprintf("line is longer than %d bytes", MaxImportLineBytes))
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := rec.Add(string(line)); err != nil {
			if errors.Is(err, directory.ErrInvalid) {
				out.reject(n, reason(err))
				continue
			}
			s.fail(w, r, err)
			return
		}
	}
	// Once the whole list is in, an applied reconcile runs to its end even if the caller
	// hangs up: stopping half-way would leave the cluster neither as it was nor as listed.
	runCtx := ctx
	if !opts.DryRun {
		runCtx = context.WithoutCancel(ctx)
	}
	res, err := rec.Run(runCtx, opts)
	out.fill(res)
	var tooMany *directory.TooManyRemovalsError
	switch {
	case errors.As(err, &tooMany):
		writeJSON(w, http.StatusConflict, tooManyRemovals{
			errorBody: errorBody{Error: "too_many_removals", Message: fmt.Sprintf(
				"the list would remove %d bindings, more than max_removals=%d; nothing was changed (check the list, or raise max_removals, -1 for no limit)",
				res.Removed, opts.MaxRemovals)},
			reconcileResult: out, MaxRemovals: opts.MaxRemovals})
		return
	case errors.Is(err, directory.ErrReconcileBusy):
		writeError(w, http.StatusConflict, "reconcile_in_progress",
			"another reconcile of this cluster is being applied; try again when it ends")
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.log.Info("admin: reconcile", "code", code, "client", string(ns), "dry_run", out.DryRun, "added", out.Added,
		"removed", out.Removed, "unchanged", out.Unchanged, "rejected", out.RejectedCount, "lines", lines.n)
	writeJSON(w, http.StatusOK, out)
}

func (o *reconcileResult) reject(line int64, why string) {
	o.RejectedCount++
	if len(o.Rejected) < MaxRejectedListed {
		o.Rejected = append(o.Rejected, rejectedLine{Line: line, Reason: why})
	}
}

func (o *reconcileResult) fill(res directory.ReconcileResult) {
	o.Added, o.Removed, o.Unchanged, o.DryRun = res.Added, res.Removed, res.Unchanged, res.DryRun
	o.SampleAdded, o.SampleRemoved = res.SampleAdded, res.SampleRemoved
	if o.SampleAdded == nil {
		o.SampleAdded = []string{}
	}
	if o.SampleRemoved == nil {
		o.SampleRemoved = []string{}
	}
}

// syncStatus answers GET /admin/clusters/{code}/sync from Options.SyncStatus.
func (s *server) syncStatus(w http.ResponseWriter, r *http.Request) {
	code, ok := s.pathCode(w, r)
	if !ok {
		return
	}
	st, err := s.opts.SyncStatus(r.Context(), code)
	if err != nil {
		s.fail(w, r, fmt.Errorf("sync status of %q: %w", code, err))
		return
	}
	writeJSON(w, http.StatusOK, st)
}
