package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SessionTTL is how long a console session lasts (SPEC section 9: 12 h).
const SessionTTL = 12 * time.Hour

const (
	sessionCookie = "ssogate_session"
	langCookie    = "ssogate_lang"
	csrfHeader    = "X-CSRF-Token"
	csrfField     = "csrf"
)

// session is a logged-in operator: the actor name their token carries, the binding that
// names the token itself (Options.StillValid) and a random id that the CSRF token is bound to.
type session struct {
	Actor   string
	Binding string
	ID      string
	Expires time.Time
}

// sealer signs and checks session cookies with HMAC-SHA256.
type sealer struct{ key []byte }

func newSealer(key []byte) (*sealer, error) {
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
	}
	return &sealer{key: key}, nil
}

func (s *sealer) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// seal returns the cookie value: actor.binding.expiry.id.mac, each part URL-safe.
func (s *sealer) seal(sess session) string {
	actor := b64.EncodeToString([]byte(sess.Actor))
	binding := b64.EncodeToString([]byte(sess.Binding))
	exp := strconv.FormatInt(sess.Expires.Unix(), 10)
	return actor + "." + binding + "." + exp + "." + sess.ID + "." + b64.EncodeToString(s.mac("session", actor, binding, exp, sess.ID))
}

var (
	errBadSession = errors.New("invalid or expired session")
	errRevoked    = errors.New("the session's token is no longer accepted")
)

func (s *sealer) open(value string, now time.Time) (session, error) {
	parts := strings.Split(value, ".")
	if len(parts) != 5 {
		return session{}, errBadSession
	}
	actorPart, bindingPart, expPart, id, macPart := parts[0], parts[1], parts[2], parts[3], parts[4]
	got, err := b64.DecodeString(macPart)
	if err != nil || !hmac.Equal(got, s.mac("session", actorPart, bindingPart, expPart, id)) {
		return session{}, errBadSession
	}
	exp, err := strconv.ParseInt(expPart, 10, 64)
	if err != nil || now.Unix() >= exp {
		return session{}, errBadSession
	}
	actor, err1 := b64.DecodeString(actorPart)
	binding, err2 := b64.DecodeString(bindingPart)
	if err1 != nil || err2 != nil {
		return session{}, errBadSession
	}
	return session{Actor: string(actor), Binding: string(binding), ID: id, Expires: time.Unix(exp, 0)}, nil
}

// csrfToken is bound to one session: a token stolen from one session is useless in another.
func (s *sealer) csrfToken(sess session) string {
	return b64.EncodeToString(s.mac("csrf", sess.ID))
}

func (s *sealer) checkCSRF(sess session, token string) bool {
	want := s.csrfToken(sess)
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(want)) == 1
}

func newSessionID() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return b64.EncodeToString(b)
}

// sameOrigin rejects a state-changing request a browser marks as coming from another site:
// with SameSite=Strict and the CSRF token this is a third line, and the only one for the
// login form (which has no session yet).
func sameOrigin(r *http.Request) bool {
	// Browsers send Sec-Fetch-Site on every request; it is the most precise signal.
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return true // not a browser that would tell; the CSRF token still applies
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

func secure(r *http.Request) bool { return r.TLS != nil }

func setSessionCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: value, Path: "/ui/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode,
	})
}
