package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/ssogate/ssogate/internal/admin"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/health"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Figures gives a cluster's live health (internal/health.Tracker).
type Figures interface {
	Figures(code string) health.Figures
}

// Options wire the console.
type Options struct {
	// Directory is read for pages (clusters, lookups, the audit log). Required.
	Directory *directory.Directory
	// API is the admin API handler (admin.New): every change the console makes is a request
	// to it, marked with admin.Authenticated and the session's actor, so the console has the
	// API's validation, answers and audit trail and no write path of its own. Required.
	API http.Handler
	// Authenticate checks a token typed into the login form and returns the actor name it
	// carries and a binding that names that exact token without revealing it (the session
	// keeps it); ok is false for an unknown token and for any scope but admin (a cluster:
	// token cannot log in). Required.
	Authenticate func(token string) (actor, binding string, ok bool)
	// StillValid reports whether the token a session was opened with (its actor and
	// binding) is still accepted with scope admin. It is asked on every request, so a reload
	// that removes or rotates a token ends its sessions at once. nil: a session lasts its TTL.
	StillValid func(actor, binding string) bool
	// Health gives live figures per cluster; nil shows none.
	Health Figures
	// Breaker returns the breaker state of a cluster ("" before its first call); nil: Health's.
	Breaker func(code string) string
	// SessionKey signs session cookies; empty: a random key (sessions end at restart and are
	// valid on this instance only). The gateway keeps one in the store, shared by instances.
	SessionKey []byte
	// ProbeTimeout bounds a cluster probe (default 5 s).
	ProbeTimeout time.Duration
	Logger       *slog.Logger
}

type server struct {
	opts   Options
	dir    *directory.Directory
	seal   *sealer
	pages  map[string]*template.Template
	static http.Handler
	mux    *http.ServeMux
	log    *slog.Logger
	now    func() time.Time
}

// New returns the console's handler for every path under /ui/.
func New(opts Options) (http.Handler, error) {
	if opts.Directory == nil || opts.API == nil || opts.Authenticate == nil {
		return nil, fmt.Errorf("console: Directory, API and Authenticate are required")
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	seal, err := newSealer(opts.SessionKey)
	if err != nil {
		return nil, fmt.Errorf("console: session key: %w", err)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	sub, _ := fs.Sub(staticFS, "static")
	s := &server{opts: opts, dir: opts.Directory, seal: seal, pages: pages, log: opts.Logger, now: time.Now,
		static: http.StripPrefix("/ui/static/", http.FileServerFS(sub)), mux: http.NewServeMux()}
	s.routes()
	return s, nil
}

func (s *server) routes() {
	m := s.mux
	m.Handle("GET /ui/static/", s.static)
	m.HandleFunc("POST /ui/login", s.login)
	m.HandleFunc("GET /ui/lang/{lang}", s.setLang)
	m.HandleFunc("POST /ui/logout", s.authed(s.logout))
	m.HandleFunc("GET /ui/{$}", s.authed(s.overview))
	m.HandleFunc("GET /ui/overview/live", s.authed(s.overviewLive))
	m.HandleFunc("GET /ui/clusters", s.authed(s.clusters))
	m.HandleFunc("POST /ui/clusters/{code}/probe", s.authed(s.probe))
	m.HandleFunc("GET /ui/users", s.authed(s.users))
	m.HandleFunc("GET /ui/import", s.authed(s.importPage))
	m.HandleFunc("GET /ui/lockouts", s.authed(s.lockouts))
	m.HandleFunc("GET /ui/audit", s.authed(s.auditPage))
	m.Handle("/ui/api/", s.authed(s.api))
}

// csp allows scripts, styles and connections from the console itself only: no inline script,
// no inline handler, no eval (htmx runs with allowEval off), nothing from a CDN.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, "/ui/static/") {
		h.Set("Cache-Control", "no-store")
	}
	if r.URL.Path == "/ui" {
		http.Redirect(w, r, "/ui/", http.StatusFound)
		return
	}
	s.mux.ServeHTTP(w, r)
}

type ctxKey struct{}

func sessionFrom(ctx context.Context) session {
	sess, _ := ctx.Value(ctxKey{}).(session)
	return sess
}

// authed requires a valid session; a state-changing request also needs the session's CSRF
// token (header or form field) and a same-origin browser context. Without a session a page
// shows the login form (401), a fragment or API call gets a JSON 401.
func (s *server) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		var sess session
		if err == nil {
			sess, err = s.seal.open(c.Value, s.now())
		}
		if err == nil && s.opts.StillValid != nil && !s.opts.StillValid(sess.Actor, sess.Binding) {
			err = errRevoked
		}
		if err != nil {
			if r.Method == http.MethodGet && r.Header.Get("HX-Request") == "" && !strings.HasPrefix(r.URL.Path, "/ui/api/") {
				// 200, not 401: the login form is the page's normal answer without a session
				// (and a browser logs every 4xx as a console error).
				s.renderLogin(w, r, http.StatusOK, "")
				return
			}
			writeJSONError(w, http.StatusUnauthorized, "unauthorized", "log in to the console first")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			tok := r.Header.Get(csrfHeader)
			if tok == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
				tok = r.PostFormValue(csrfField)
			}
			if !sameOrigin(r) || !s.seal.checkCSRF(sess, tok) {
				writeJSONError(w, http.StatusForbidden, "csrf", "missing or invalid CSRF token; reload the page")
				return
			}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, sess)))
	}
}

// api forwards /ui/api/<admin path> to the admin API as the session's actor.
func (s *server) api(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	r2 := r.Clone(admin.Authenticated(r.Context(), sess.Actor))
	r2.URL.Path = strings.TrimPrefix(r.URL.Path, "/ui/api")
	r2.URL.RawPath = ""
	if rp := r.URL.RawPath; rp != "" {
		r2.URL.RawPath = strings.TrimPrefix(rp, "/ui/api")
	}
	r2.RequestURI = ""
	r2.Header.Del("Cookie")
	s.opts.API.ServeHTTP(w, r2)
}

// apiGet reads an admin API route in-process as the session's actor (for pages that show
// what another branch's routes answer: sync status, lockouts).
func (s *server) apiGet(ctx context.Context, pathAndQuery string, out any) (int, error) {
	req := httptest.NewRequestWithContext(admin.Authenticated(ctx, sessionFrom(ctx).Actor), http.MethodGet, pathAndQuery, nil)
	rec := httptest.NewRecorder()
	s.opts.API.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		var e struct{ Error, Message string }
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		if e.Message == "" {
			e.Message = http.StatusText(rec.Code)
		}
		return rec.Code, fmt.Errorf("%s", e.Message)
	}
	return rec.Code, json.Unmarshal(rec.Body.Bytes(), out)
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeJSONError(w, http.StatusForbidden, "csrf", "cross-site login refused")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	actor, binding, ok := s.opts.Authenticate(strings.TrimSpace(r.PostFormValue("token")))
	if !ok {
		s.log.Warn("console: login refused", "remote", r.RemoteAddr)
		s.renderLogin(w, r, http.StatusUnauthorized, tr(pickLang(r), "login.bad"))
		return
	}
	sess := session{Actor: actor, Binding: binding, ID: newSessionID(), Expires: s.now().Add(SessionTTL)}
	setSessionCookie(w, r, s.seal.seal(sess), int(SessionTTL.Seconds()))
	s.log.Info("console: login", "actor", actor, "remote", r.RemoteAddr)
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	setSessionCookie(w, r, "", -1)
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

func (s *server) setLang(w http.ResponseWriter, r *http.Request) {
	lang := r.PathValue("lang")
	if lang != langZH && lang != langEN {
		lang = langZH
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/ui/", MaxAge: 365 * 24 * 3600,
		Secure: secure(r), SameSite: http.SameSiteStrictMode, HttpOnly: true})
	back := "/ui/"
	if ref := r.URL.Query().Get("back"); strings.HasPrefix(ref, "/ui/") && !strings.HasPrefix(ref, "//") {
		back = ref
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// view is what every template gets.
type view struct {
	Lang  string
	Page  string
	Actor string
	CSRF  string
	Path  string
	Error string
	Data  any
}

// T translates a message key; Tf formats it.
func (v *view) T(key string) string { return tr(v.Lang, key) }
func (v *view) Tf(key string, a ...any) string {
	return fmt.Sprintf(tr(v.Lang, key), a...)
}

func (s *server) newView(r *http.Request, page string, data any) *view {
	sess := sessionFrom(r.Context())
	v := &view{Lang: pickLang(r), Page: page, Actor: sess.Actor, Path: r.URL.RequestURI(), Data: data}
	if sess.ID != "" {
		v.CSRF = s.seal.csrfToken(sess)
	}
	return v
}

// render executes a page (or, with block set, one of its blocks: a fragment for htmx) into a
// buffer first, so a template error is a clean 500 rather than half a page.
func (s *server) render(w http.ResponseWriter, status int, page, block string, v *view) {
	t, ok := s.pages[page]
	if !ok {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	if block == "" {
		block = "layout"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, block, v); err != nil {
		s.log.Error("console: render", "page", page, "block", block, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *server) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	v := s.newView(r, "login", nil)
	v.Error = msg
	s.render(w, status, "login", "", v)
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": msg})
}

var funcs = template.FuncMap{
	"since": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"pct": func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
	"ms": func(d time.Duration) string {
		if d == 0 {
			return "-"
		}
		return fmt.Sprintf("%d ms", d.Milliseconds())
	},
	"rate": func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"list": func(s ...string) []string { return s },
	// toggleBody is the cluster as PUT /admin/clusters/{code} takes it, enabled flipped.
	"toggleBody": func(c directory.Cluster) string {
		b, _ := json.Marshal(map[string]any{"name": c.Name, "sso_url": c.SSOURL, "server_url": c.ServerURL,
			"token_url": c.TokenURL, "enabled": !c.Enabled})
		return string(b)
	},
}

// parsePages parses each page with the shared layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		page := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if page == "layout" {
			continue
		}
		t, err := template.New(page).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", n, err)
		}
		pages[page] = t
	}
	return pages, nil
}
