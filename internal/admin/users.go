package admin

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/ssogate/ssogate/internal/directory"
)

// List paging bounds of GET /admin/clusters/{code}/users.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// namespace reads ?client=: "manager" selects the administrator app's namespace (SPEC
// section 2, parameter client); absent or "user" the ordinary one. Anything else is refused,
// so that a typo never writes bindings into the wrong namespace.
func namespace(w http.ResponseWriter, r *http.Request) (directory.Namespace, bool) {
	switch c := r.URL.Query().Get("client"); c {
	case "", "user":
		return directory.NamespaceUser, true
	case "manager":
		return directory.NamespaceManager, true
	default:
		writeError(w, http.StatusBadRequest, "invalid_request",
			fmt.Sprintf("client %q: use client=manager for the manager namespace, or omit it", c))
		return "", false
	}
}

// pathUsername validates the {username} path value (already path-unescaped by the mux, so
// usernames with '/' or spaces arrive whole when escaped by the caller).
func (s *server) pathUsername(w http.ResponseWriter, r *http.Request) (string, bool) {
	name, err := s.dir.NormalizeUsername(r.PathValue("username"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", reason(err))
		return "", false
	}
	return name, true
}

// bindingArgs gathers the namespace, cluster code and username of a binding route.
func (s *server) bindingArgs(w http.ResponseWriter, r *http.Request) (ns directory.Namespace, code, name string, ok bool) {
	if ns, ok = namespace(w, r); !ok {
		return
	}
	if code, ok = s.pathCode(w, r); !ok {
		return
	}
	name, ok = s.pathUsername(w, r)
	return
}

type bindingView struct {
	Username    string `json:"username"`
	ClusterCode string `json:"cluster_code"`
	Client      string `json:"client"`
}

func (s *server) bind(w http.ResponseWriter, r *http.Request) {
	ns, code, name, ok := s.bindingArgs(w, r)
	if !ok {
		return
	}
	if err := s.dir.Bind(r.Context(), ns, name, code); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, bindingView{Username: name, ClusterCode: code, Client: string(ns)})
}

func (s *server) unbind(w http.ResponseWriter, r *http.Request) {
	ns, code, name, ok := s.bindingArgs(w, r)
	if !ok {
		return
	}
	if err := s.dir.Unbind(r.Context(), ns, name, code); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) listUsers(w http.ResponseWriter, r *http.Request) {
	ns, ok := namespace(w, r)
	if !ok {
		return
	}
	code, ok := s.pathCode(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit := defaultListLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "invalid_request",
				fmt.Sprintf("limit %q: must be a positive integer (at most %d)", v, maxListLimit))
			return
		}
		limit = min(n, maxListLimit)
	}
	names, next, err := s.dir.ListUsers(r.Context(), ns, code, q.Get("cursor"), limit)
	if err != nil {
		s.fail(w, r, fmt.Errorf("list users of %q: %w", code, err))
		return
	}
	if names == nil {
		names = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"usernames": names, "next_cursor": next})
}

type userClusterView struct {
	ClusterCode string `json:"cluster_code"`
	Name        string `json:"name"`
	// Enabled tells the operator whether a login would be routed there (a disabled cluster's
	// bindings are kept but ignored).
	Enabled bool `json:"enabled"`
}

func (s *server) lookupUser(w http.ResponseWriter, r *http.Request) {
	ns, ok := namespace(w, r)
	if !ok {
		return
	}
	name, ok := s.pathUsername(w, r)
	if !ok {
		return
	}
	name, clusters, err := s.dir.UserClusters(r.Context(), ns, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]userClusterView, 0, len(clusters))
	for _, c := range clusters {
		out = append(out, userClusterView{ClusterCode: c.Code, Name: c.Name, Enabled: c.Enabled})
	}
	writeJSON(w, http.StatusOK, map[string]any{"username": name, "clusters": out})
}
