package refsso

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"
)

// serveUsers lists the SSO's usernames, sorted, one a line in text/plain: the complete user
// list a gateway's scheduled sync reconciles its directory with (SPEC section 8). With
// Config.UsersToken set, the caller must send it as a bearer token.
func (s *Server) serveUsers(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, r, &springError{http.StatusMethodNotAllowed, "Request method '" + r.Method + "' not supported"})
		return
	}
	if s.usersToken != "" {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got, want := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(s.usersToken))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			writeError(w, r, &springError{http.StatusUnauthorized, "Full authentication is required to access this resource"})
			return
		}
	}
	names := make([]string, 0, len(s.users))
	for name := range s.users {
		names = append(names, name)
	}
	slices.Sort(names)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('\n')
	}
	_, _ = w.Write([]byte(b.String()))
}
