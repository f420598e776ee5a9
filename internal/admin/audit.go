package admin

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/ssogate/ssogate/internal/audit"
)

// auditPage is the answer of GET /admin/audit (SPEC section 9).
type auditPage struct {
	Entries    []audit.Entry `json:"entries"`
	NextCursor string        `json:"next_cursor"`
}

// auditLog answers GET /admin/audit?actor=&action=&cluster=&cursor=&limit=, newest first.
func (s *server) auditLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := audit.DefaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > audit.MaxLimit {
			writeError(w, http.StatusBadRequest, "invalid_request", "limit must be a number from 1 to "+strconv.Itoa(audit.MaxLimit))
			return
		}
		limit = n
	}
	entries, next, err := s.dir.AuditLog(r.Context(), audit.Query{
		Filter: audit.Filter{Actor: q.Get("actor"), Action: q.Get("action"), Cluster: q.Get("cluster")},
		Cursor: q.Get("cursor"), Limit: limit,
	})
	if errors.Is(err, audit.ErrBadCursor) {
		writeError(w, http.StatusBadRequest, "invalid_request", "invalid cursor: pass the next_cursor of a previous page")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, auditPage{Entries: entries, NextCursor: next})
}
