package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/ssogate/ssogate/internal/directory"
)

// clusterView is a cluster as the admin API renders it (SPEC section 5).
type clusterView struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	SSOURL    string `json:"sso_url"`
	ServerURL string `json:"server_url"`
	TokenURL  string `json:"token_url"`
	Enabled   bool   `json:"enabled"`
	// Sync is the scheduled sync, when the cluster has one (SPEC section 8).
	Sync *directory.ClusterSync `json:"sync,omitempty"`
	// Breaker is the circuit breaker's state, when the gateway wires one in.
	Breaker string `json:"breaker,omitempty"`
}

func (s *server) view(c directory.Cluster) clusterView {
	v := clusterView{Code: c.Code, Name: c.Name, SSOURL: c.SSOURL, ServerURL: c.ServerURL,
		TokenURL: c.TokenURL, Enabled: c.Enabled, Sync: c.Sync}
	if s.opts.BreakerState != nil {
		v.Breaker = s.opts.BreakerState(c.Code)
	}
	return v
}

// clusterInput is the body of PUT /admin/clusters/{code}; the code comes from the path.
type clusterInput struct {
	Name      string `json:"name"`
	SSOURL    string `json:"sso_url"`
	ServerURL string `json:"server_url"`
	TokenURL  string `json:"token_url"`
	// Enabled defaults to true when absent.
	Enabled *bool `json:"enabled"`
	// Sync sets the scheduled sync; absent or null means none.
	Sync *directory.ClusterSync `json:"sync"`
}

// pathCode validates the {code} path value, answering 400 for a malformed code (an unknown
// but well-formed code is the handler's 404).
func (s *server) pathCode(w http.ResponseWriter, r *http.Request) (string, bool) {
	code, err := directory.NormalizeCode(r.PathValue("code"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", reason(err))
		return "", false
	}
	return code, true
}

func (s *server) listClusters(w http.ResponseWriter, r *http.Request) {
	list, err := s.dir.ListClusters(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("list clusters: %w", err))
		return
	}
	out := make([]clusterView, 0, len(list))
	for _, c := range list {
		out = append(out, s.view(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"clusters": out})
}

func (s *server) getCluster(w http.ResponseWriter, r *http.Request) {
	code, ok := s.pathCode(w, r)
	if !ok {
		return
	}
	c, err := s.dir.GetCluster(r.Context(), code)
	if err != nil {
		s.fail(w, r, fmt.Errorf("get cluster %q: %w", code, err))
		return
	}
	writeJSON(w, http.StatusOK, s.view(c))
}

// putCluster creates (201) or replaces (200) a cluster.
func (s *server) putCluster(w http.ResponseWriter, r *http.Request) {
	code, ok := s.pathCode(w, r)
	if !ok {
		return
	}
	var in clusterInput
	if !s.decodeJSON(w, r, &in) {
		return
	}
	c := directory.Cluster{Code: code, Name: in.Name, SSOURL: in.SSOURL, ServerURL: in.ServerURL,
		TokenURL: in.TokenURL, Enabled: in.Enabled == nil || *in.Enabled, Sync: in.Sync}
	if err := c.Validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if _, err := s.dir.GetCluster(r.Context(), code); errors.Is(err, directory.ErrNotFound) {
		status = http.StatusCreated
	} else if err != nil {
		s.fail(w, r, fmt.Errorf("get cluster %q: %w", code, err))
		return
	}
	saved, err := s.dir.PutCluster(r.Context(), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("admin: cluster saved", "code", saved.Code, "enabled", saved.Enabled, "created", status == http.StatusCreated)
	writeJSON(w, status, s.view(saved))
}

func (s *server) deleteCluster(w http.ResponseWriter, r *http.Request) {
	code, ok := s.pathCode(w, r)
	if !ok {
		return
	}
	if err := s.dir.DeleteCluster(r.Context(), code); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("admin: cluster deleted", "code", code)
	w.WriteHeader(http.StatusNoContent)
}

// decodeJSON reads one JSON object of at most MaxBodyBytes, refusing unknown fields (a typo
// such as "sso_uri" must not silently drop a setting) and trailing data.
func (s *server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	var tooBig *http.MaxBytesError
	err := dec.Decode(v)
	if err == nil {
		_, terr := dec.Token()
		switch {
		case terr == io.EOF:
			return true
		case errors.As(terr, &tooBig):
			err = terr
		default:
			err = errors.New("unexpected data after the JSON object")
		}
	}
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit))
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, "invalid_json", "request body is empty; a JSON object is required")
	default:
		writeError(w, http.StatusBadRequest, "invalid_json", "invalid JSON body: "+err.Error())
	}
	return false
}
