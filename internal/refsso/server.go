package refsso

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Server is a reference SSO. It is safe for concurrent use; all its state is in memory and
// lost on restart, which a demo and tests want.
type Server struct {
	prefix       string
	clients      map[string]string
	users        map[string][]byte // bcrypt hashes
	usersToken   string            // bearer token of GET /users; "" means open
	accessTTL    time.Duration
	refreshTTL   time.Duration
	maxBodyBytes int64
	log          *slog.Logger
	now          func() time.Time // replaced by tests that need tokens to expire

	tokens *tokens
	logins *logins
}

// New checks cfg and hashes the passwords. bcrypt.MinCost keeps the start of a demo with
// many users fast; this server guards sample accounts only.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		prefix:       cfg.Prefix,
		clients:      make(map[string]string, len(cfg.Clients)),
		users:        make(map[string][]byte, len(cfg.Users)),
		accessTTL:    cfg.AccessTTL,
		refreshTTL:   cfg.RefreshTTL,
		maxBodyBytes: cfg.MaxBodyBytes,
		usersToken:   cfg.UsersToken,
		log:          cfg.Logger.With("sso", cfg.Name),
		now:          time.Now,
		tokens:       newTokens(cfg.MaxTokens),
		logins:       newLogins(cfg.CaptchaAfter),
	}
	for id, secret := range cfg.Clients {
		s.clients[id] = secret
	}
	for name, password := range cfg.Users {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			return nil, fmt.Errorf("refsso: hashing password of user %q: %w", name, err)
		}
		s.users[name] = hash
	}
	return s, nil
}

// Handler serves, under the configured prefix:
//
//	POST     /oauth/token        password and refresh_token grants
//	GET|POST /oauth/check_token  Spring's introspection of an access token
//	GET      /captcha            the pending captcha of a user
//	GET      /users              every username, one a line (the scheduled sync's source)
//
// Every other path answers Spring's generic 404.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(s.prefix+"/oauth/token", s.serveToken)
	mux.HandleFunc(s.prefix+"/oauth/check_token", s.serveCheckToken)
	mux.HandleFunc(s.prefix+"/captcha", s.serveCaptcha)
	mux.HandleFunc(s.prefix+"/users", s.serveUsers)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, &springError{http.StatusNotFound, "No message available"})
	})
	return mux
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r, http.MethodPost)
		return
	}
	if err := s.parseForm(w, r); err != nil {
		writeError(w, r, err)
		return
	}
	client, err := s.authenticate(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	switch gt := r.Form.Get("grant_type"); gt {
	case "":
		err = errNoGrantType
	case "password":
		err = s.passwordGrant(w, r, client)
	case "refresh_token":
		err = s.refreshGrant(w, r, client)
	default:
		err = &oauthError{http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type: " + truncate(gt, 64)}
	}
	if err != nil {
		writeError(w, r, err)
	}
}

// parseForm reads body and query; r.Form.Get prefers the body, as the gateway does.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return errTooLarge
		}
		return errBadForm
	}
	return nil
}

// authenticate finds the client the way Spring's filter chain does: a Basic header first
// (BasicAuthenticationFilter), then client_id/client_secret parameters
// (ClientCredentialsTokenEndpointFilter). An Authorization header of another scheme is ignored.
func (s *Server) authenticate(r *http.Request) (string, error) {
	id, secret, basic, err := parseBasic(r.Header.Get("Authorization"))
	if err != nil {
		return "", err
	}
	if basic {
		// TokenEndpoint refuses a client_id parameter naming another client than the header.
		if p := r.Form.Get("client_id"); p != "" && p != id {
			return "", errClientMismatch
		}
	} else {
		id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
		if id == "" {
			return "", errNoClient
		}
	}
	want, ok := s.clients[id]
	// Unknown client and wrong secret answer alike; the comparison runs in constant time so
	// the secret cannot be guessed byte by byte.
	if !ok || subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1 {
		return "", errBadClient
	}
	return id, nil
}

// parseBasic decodes an RFC 7617 Basic header. basic is false when the header is absent or of
// another scheme; a malformed one is Spring's generic 401.
func parseBasic(header string) (id, secret string, basic bool, err error) {
	const scheme = "basic "
	if len(header) < len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return "", "", false, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header[len(scheme):]))
	if err != nil {
		return "", "", true, errBasicDecode
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", true, errBasicShape
	}
	return id, secret, true, nil
}

// passwordGrant checks the user, then the captcha, then the password. The order is the seed's
// SSO behaviour: 4006 tells the app there is no such user (the seed's own enumeration), and a
// user who needs a captcha gets 2001 before the password is looked at.
func (s *Server) passwordGrant(w http.ResponseWriter, r *http.Request, client string) error {
	user := r.Form.Get("username")
	hash, ok := s.users[user]
	if !ok {
		s.log.Info("login refused", "client", client, "reason", "no such user")
		return errNoSuchUser
	}
	if !s.logins.admit(user, r.Form.Get("code")) {
		s.log.Info("login refused", "client", client, "user", user, "reason", "captcha")
		return errCaptchaNeeded
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(r.Form.Get("password"))) != nil {
		s.logins.failed(user)
		s.log.Info("login refused", "client", client, "user", user, "reason", "wrong password")
		return errBadPassword
	}
	s.logins.succeeded(user)
	s.issue(w, client, user, "password")
	return nil
}

// refreshGrant spends the refresh token and issues a new pair: rotating it means a stolen
// token works once at most, and its owner's next refresh reveals the theft.
func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request, client string) error {
	user, ok := s.tokens.spend(r.Form.Get("refresh_token"), client, s.now())
	if !ok {
		s.log.Info("refresh refused", "client", client)
		return errBadRefresh
	}
	s.issue(w, client, user, "refresh_token")
	return nil
}

func (s *Server) issue(w http.ResponseWriter, client, user, grantType string) {
	access, refresh := s.tokens.issue(client, user, s.now(), s.accessTTL, s.refreshTTL)
	s.log.Info("token issued", "client", client, "user", user, "grant_type", grantType)
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:  access,
		TokenType:    "bearer",
		RefreshToken: refresh,
		ExpiresIn:    int64(s.accessTTL / time.Second),
		Scope:        "all",
	})
}

// serveCheckToken lets a test or the demo prove that a token the gateway passed on is real.
// Spring protects it with client authentication; here knowing the token is enough, since the
// answer reveals nothing its bearer could not already do.
func (s *Server) serveCheckToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		methodNotAllowed(w, r, "GET, POST")
		return
	}
	if err := s.parseForm(w, r); err != nil {
		writeError(w, r, err)
		return
	}
	g, ok := s.tokens.lookup(r.Form.Get("token"), s.now())
	if !ok {
		writeError(w, r, errUnknownToken)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"active":    true,
		"client_id": g.client,
		"user_name": g.user,
		"scope":     []string{"all"},
		"exp":       g.expires.Unix(),
	})
}

// serveCaptcha hands out the captcha as text. A real SSO renders an image; the demo and the
// end-to-end tests need to read it.
func (s *Server) serveCaptcha(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r, http.MethodGet)
		return
	}
	user := r.URL.Query().Get("username")
	if user == "" {
		writeError(w, r, &oauthError{http.StatusBadRequest, "invalid_request", "Missing username"})
		return
	}
	if _, ok := s.users[user]; !ok {
		writeError(w, r, &oauthError{http.StatusNotFound, "not_found", "4006"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"username": user, "captcha": s.logins.captcha(user)})
}

// truncate bounds client input echoed back in an answer.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
