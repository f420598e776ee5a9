package admin

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/ratelimit"
)

// Lockouts reads and clears brute-force state (SPEC section 9, "Lockouts API");
// *ratelimit.Limiter implements it. Usernames arrive as ratelimit.UserSubject of their
// canonical form, so the API names exactly the counters the token endpoint uses.
type Lockouts interface {
	UserState(ctx context.Context, subject string) (ratelimit.State, error)
	IPState(ctx context.Context, ip string) (ratelimit.State, error)
	ClearUser(ctx context.Context, subject string) error
	ClearIP(ctx context.Context, ip string) error
}

var _ Lockouts = (*ratelimit.Limiter)(nil)

// LockoutTarget names what a DELETE /admin/lockouts cleared, for Options.OnLockoutCleared.
type LockoutTarget struct {
	Namespace directory.Namespace // with Username
	Username  string              // canonical; empty for an address
	IP        string              // as given; empty for a username
}

// lockoutBody is the answer of both routes: {"failures","locked_until","strikes"} (SPEC
// section 9), with what was asked about and the attempts in flight.
type lockoutBody struct {
	Username    string     `json:"username,omitempty"`
	Namespace   string     `json:"namespace,omitempty"`
	IP          string     `json:"ip,omitempty"`
	Failures    int64      `json:"failures"`
	InFlight    int64      `json:"in_flight"`
	Locked      bool       `json:"locked"`
	LockedUntil *time.Time `json:"locked_until"` // null when not locked
	Strikes     int64      `json:"strikes"`
	Cleared     bool       `json:"cleared,omitempty"`
}

func (s *server) lockoutRoutes() {
	// Scope admin only (SPEC section 8: a cluster token reaches only its binding routes).
	s.mux.HandleFunc("GET /admin/lockouts", Require(RouteAdmin, s.getLockout))
	s.mux.HandleFunc("DELETE /admin/lockouts", Require(RouteAdmin, s.clearLockout))
}

// lockoutQuery reads ?username=&client= or ?ip= (exactly one of username and ip).
func (s *server) lockoutQuery(w http.ResponseWriter, r *http.Request) (LockoutTarget, string, bool) {
	q := r.URL.Query()
	user, ip := q.Get("username"), q.Get("ip")
	switch {
	case s.opts.Lockouts == nil:
		writeError(w, http.StatusServiceUnavailable, "ratelimit_disabled", "ratelimit.enabled is false: there are no lockouts to read or clear")
		return LockoutTarget{}, "", false
	case (user == "") == (ip == ""):
		writeError(w, http.StatusBadRequest, "invalid_request", "give exactly one of ?username= and ?ip=")
		return LockoutTarget{}, "", false
	case ip != "":
		a, err := netip.ParseAddr(ip)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "ip is not an IP address")
			return LockoutTarget{}, "", false
		}
		return LockoutTarget{IP: a.Unmap().String()}, "", true
	}
	route, err := s.dir.Route(directory.NamespaceFor(q.Get("client")), user)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", reason(err))
		return LockoutTarget{}, "", false
	}
	t := LockoutTarget{Namespace: route.Namespace, Username: route.Name}
	return t, ratelimit.UserSubject(string(route.Namespace), route.Name), true
}

func (s *server) getLockout(w http.ResponseWriter, r *http.Request) {
	t, subject, ok := s.lockoutQuery(w, r)
	if !ok {
		return
	}
	var st ratelimit.State
	var err error
	if subject != "" {
		st, err = s.opts.Lockouts.UserState(r.Context(), subject)
	} else {
		st, err = s.opts.Lockouts.IPState(r.Context(), t.IP)
	}
	if err != nil {
		s.lockoutFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, renderLockout(t, st))
}

func (s *server) clearLockout(w http.ResponseWriter, r *http.Request) {
	t, subject, ok := s.lockoutQuery(w, r)
	if !ok {
		return
	}
	var err error
	if subject != "" {
		err = s.opts.Lockouts.ClearUser(r.Context(), subject)
	} else {
		err = s.opts.Lockouts.ClearIP(r.Context(), t.IP)
	}
	if err != nil {
		s.lockoutFailed(w, r, err)
		return
	}
	s.log.Info("admin: lockout cleared", "namespace", string(t.Namespace), "username", t.Username, "ip", t.IP)
	// The audit trail hooks in here (SPEC section 9: the clear is audited).
	if s.opts.OnLockoutCleared != nil {
		s.opts.OnLockoutCleared(r.Context(), t)
	}
	body := renderLockout(t, ratelimit.State{})
	body.Cleared = true
	writeJSON(w, http.StatusOK, body)
}

func (s *server) lockoutFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ratelimit.ErrDisabled) {
		writeError(w, http.StatusServiceUnavailable, "ratelimit_disabled", "ratelimit.enabled is false: there are no lockouts to read or clear")
		return
	}
	s.log.Warn("admin: limiter store failed", "method", r.Method, "err", err)
	writeError(w, http.StatusServiceUnavailable, "unavailable", "the rate-limit store is unavailable; try again")
}

func renderLockout(t LockoutTarget, st ratelimit.State) lockoutBody {
	b := lockoutBody{Username: t.Username, IP: t.IP, Failures: st.Failures, InFlight: st.InFlight, Locked: st.Locked(), Strikes: st.Strikes}
	if t.Username != "" {
		b.Namespace = string(t.Namespace)
	}
	if st.Locked() {
		u := st.LockedUntil.UTC()
		b.LockedUntil = &u
	}
	return b
}
