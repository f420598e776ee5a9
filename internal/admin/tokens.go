package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/ssogate/ssogate/internal/directory"
)

// Scopes of an admin token (SPEC section 8, push): ScopeAdmin may use every route; a
// "cluster:CODE" scope only the binding routes of that cluster.
const (
	ScopeAdmin         = "admin"
	ScopeClusterPrefix = "cluster:"
)

// ActorLegacyToken is the actor recorded for changes made with the single `admin_token`.
const ActorLegacyToken = "admin"

// Token is one accepted bearer token: only its SHA-256 is kept, never the token itself.
type Token struct {
	// Name identifies the token in logs and as the actor of every change it makes.
	Name string
	// SHA256 is the digest of the token's bytes.
	SHA256 [sha256.Size]byte
	// Scope is ScopeAdmin or "cluster:CODE".
	Scope string
}

// ParseScope validates a scope and returns it with the cluster code normalised
// (upper-cased), plus that code ("" for ScopeAdmin).
func ParseScope(scope string) (normalised, code string, err error) {
	scope = strings.TrimSpace(scope)
	if scope == ScopeAdmin {
		return scope, "", nil
	}
	rest, ok := strings.CutPrefix(scope, ScopeClusterPrefix)
	if !ok {
		return "", "", fmt.Errorf(`scope %q: must be "admin" or "cluster:CODE"`, scope)
	}
	code, err = directory.NormalizeCode(rest)
	if err != nil {
		return "", "", fmt.Errorf("scope %q: %w", scope, err)
	}
	return ScopeClusterPrefix + code, code, nil
}

// ParseSHA256 reads a token digest written as 64 hexadecimal digits.
func ParseSHA256(s string) ([sha256.Size]byte, error) {
	var d [sha256.Size]byte
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != sha256.Size {
		return d, errors.New("must be the SHA-256 of the token as 64 hexadecimal digits")
	}
	copy(d[:], b)
	return d, nil
}

// LegacyToken is the Token of the configuration's single admin_token (scope admin).
func LegacyToken(token string) Token {
	return Token{Name: ActorLegacyToken, SHA256: sha256.Sum256([]byte(token)), Scope: ScopeAdmin}
}

// Principal is who a request was authenticated as.
type Principal struct {
	// Name is the token's name: the actor of the changes made by the request.
	Name string
	// Cluster is the code a cluster-scoped token is limited to; "" for scope admin.
	Cluster string
}

// IsAdmin reports scope admin.
func (p Principal) IsAdmin() bool { return p.Cluster == "" }

// Route kinds, for Principal.Allows.
type Route int

const (
	// RouteAdmin is any route that only scope admin may use.
	RouteAdmin Route = iota
	// RouteClusterBindings is a binding route of one cluster: bind, unbind, bulk bind,
	// reconcile, list (SPEC section 8).
	RouteClusterBindings
)

// Allows reports whether p may use a route of that kind on the cluster code (any case; ""
// for routes without a cluster).
func (p Principal) Allows(route Route, code string) bool {
	if p.IsAdmin() {
		return true
	}
	if route != RouteClusterBindings {
		return false
	}
	c, err := directory.NormalizeCode(code)
	return err == nil && c == p.Cluster
}

// Tokens is the set of accepted tokens. It is safe for concurrent use, and Set replaces the
// whole set at once, so a SIGHUP rotates a leaked token without a restart (SPEC section 6).
// The admin API and the console share one Tokens: auth lives in one place.
type Tokens struct {
	set atomic.Pointer[[]tokenEntry]
}

type tokenEntry struct {
	digest      [sha256.Size]byte
	fingerprint string
	principal   Principal
}

// NewTokens returns a set holding list (see Set).
func NewTokens(list []Token) (*Tokens, error) {
	t := &Tokens{}
	if err := t.Set(list); err != nil {
		return nil, err
	}
	return t, nil
}

// Set replaces the accepted tokens. An invalid scope refuses the whole list and keeps the
// previous one. An empty list locks every /admin/ route (fail closed).
func (t *Tokens) Set(list []Token) error {
	entries := make([]tokenEntry, 0, len(list))
	for i, tok := range list {
		_, code, err := ParseScope(tok.Scope)
		if err != nil {
			return fmt.Errorf("admin token %d (%s): %w", i, tok.Name, err)
		}
		entries = append(entries, tokenEntry{digest: tok.SHA256, fingerprint: fingerprint(tok.SHA256),
			principal: Principal{Name: tok.Name, Cluster: code}})
	}
	t.set.Store(&entries)
	return nil
}

// Len is the number of accepted tokens.
func (t *Tokens) Len() int {
	if p := t.set.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// Verify returns the principal of a presented token. The token is hashed and compared with
// every entry's digest in constant time (no early exit, fixed-size digests), so neither the
// content nor the length of a valid token leaks through timing.
func (t *Tokens) Verify(token string) (Principal, bool) {
	if token == "" {
		return Principal{}, false
	}
	return t.verify(sha256.Sum256([]byte(token)))
}

func (t *Tokens) verify(got [sha256.Size]byte) (Principal, bool) {
	p := t.set.Load()
	if p == nil {
		return Principal{}, false
	}
	var found Principal
	ok := 0
	for _, e := range *p {
		if subtle.ConstantTimeCompare(got[:], e.digest[:]) == 1 {
			found, ok = e.principal, 1
		}
	}
	return found, ok == 1
}

// Fingerprint names the token a principal presented without revealing it or its digest (a
// hash of the digest), so that a console session can be tied to that exact token: a reload
// that removes or rotates it ends the session (SPEC section 9). ok is false for an unknown
// token.
func (t *Tokens) Fingerprint(token string) (Principal, string, bool) {
	if token == "" {
		return Principal{}, "", false
	}
	digest := sha256.Sum256([]byte(token))
	p, ok := t.verify(digest)
	if !ok {
		return Principal{}, "", false
	}
	return p, fingerprint(digest), true
}

// HasAdmin reports whether the set still accepts, with scope admin, the token of that name
// and fingerprint.
func (t *Tokens) HasAdmin(name, fp string) bool {
	p := t.set.Load()
	if p == nil || fp == "" {
		return false
	}
	for _, e := range *p {
		if e.principal.Name == name && e.principal.IsAdmin() && subtle.ConstantTimeCompare([]byte(e.fingerprint), []byte(fp)) == 1 {
			return true
		}
	}
	return false
}

func fingerprint(digest [sha256.Size]byte) string {
	h := sha256.Sum256(append([]byte("ssogate console session\x00"), digest[:]...))
	return hex.EncodeToString(h[:16])
}

// Authenticate reads "Authorization: Bearer <token>" and verifies it.
func (t *Tokens) Authenticate(r *http.Request) (Principal, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Principal{}, false
	}
	return t.Verify(strings.TrimSpace(tok))
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p, and p's name as the actor of the directory's changes
// (directory.WithActor).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return directory.WithActor(context.WithValue(ctx, principalKey{}, p), p.Name)
}

// PrincipalFrom returns the principal set by WithPrincipal.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Require wraps h so that it runs only for a principal allowed to use the route kind on the
// cluster named by the {code} path value; others get 403 {"error":"forbidden"}. It expects
// the request to have been authenticated already (WithPrincipal).
func Require(route Route, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := PrincipalFrom(r.Context())
		if !ok || !p.Allows(route, r.PathValue("code")) {
			writeError(w, http.StatusForbidden, "forbidden",
				"this token's scope does not allow "+r.Method+" "+r.URL.Path)
			return
		}
		h(w, r)
	}
}
