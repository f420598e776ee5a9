package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ssogate/ssogate/internal/admin"
	"github.com/ssogate/ssogate/internal/audit"
	"github.com/ssogate/ssogate/internal/console"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/health"
	"github.com/ssogate/ssogate/internal/store/embedded"
)

const adminToken = "console-test-admin-token"

// env is the console and the admin API over a real embedded store on a real socket, mounted
// as the gateway mounts them.
type env struct {
	srv    *httptest.Server
	dir    *directory.Directory
	health *health.Tracker
	// revoked stands for a reload that removed the admin token: StillValid turns false.
	revoked atomic.Bool
}

func newEnv(t *testing.T, tls bool) *env {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "ssogate.db"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := directory.New(st, directory.Options{Audit: audit.NewRecorder(st, audit.DefaultRetention, nil)})
	if err := d.ReloadClusters(context.Background()); err != nil {
		t.Fatal(err)
	}
	api := admin.New(admin.Options{Directory: d, Token: adminToken, Logger: slog.New(slog.DiscardHandler)})
	h := health.New()
	e := &env{dir: d, health: h}
	con, err := console.New(console.Options{
		Directory: d, API: api, Health: h,
		Authenticate: func(tok string) (string, string, bool) {
			// The scoped tokens of SPEC section 8: only scope admin may log in.
			switch tok {
			case adminToken:
				return "ops", "binding-of-the-admin-token", true
			default:
				return "", "", false
			}
		},
		StillValid: func(actor, binding string) bool {
			return !e.revoked.Load() && actor == "ops" && binding == "binding-of-the-admin-token"
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ui/", con)
	mux.Handle("/", api)
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(mux)
	} else {
		srv = httptest.NewServer(mux)
	}
	t.Cleanup(srv.Close)
	e.srv = srv
	return e
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
type browser struct {
	t      *testing.T
	e      *env
	c      *http.Client
	csrf   string
	origin string
}

func (e *env) browser(t *testing.T) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := e.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, e: e, c: c, origin: e.srv.URL}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path, contentType string, body io.Reader, hdr map[string]string) answer {
	b.t.Helper()
	req, err := http.NewRequest(method, b.e.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if method != http.MethodGet {
		req.Header.Set("Origin", b.origin)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func (b *browser) get(path string) answer {
	b.t.Helper()
	p := b.do(http.MethodGet, path, "", nil, nil)
	if m := csrfMeta.FindStringSubmatch(p.body); m != nil && m[1] != "" {
		b.csrf = m[1]
	}
	return p
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)">`)

func (b *browser) login(token string) answer {
	b.t.Helper()
	form := url.Values{"token": {token}}
	return b.do(http.MethodPost, "/ui/login", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), nil)
}

// loggedIn logs in with the admin token and loads the overview to learn the CSRF token.
func (e *env) loggedIn(t *testing.T) *browser {
	t.Helper()
	b := e.browser(t)
	if p := b.login(adminToken); p.status != http.StatusSeeOther {
		t.Fatalf("login: %d %s", p.status, p.body)
	}
	if p := b.get("/ui/"); p.status != http.StatusOK || b.csrf == "" {
		t.Fatalf("overview after login: %d, csrf %q", p.status, b.csrf)
	}
	return b
}

// api calls the admin API through the console's bridge with the CSRF token.
func (b *browser) api(method, path, body string) answer {
	b.t.Helper()
	ct := "application/json"
	if strings.HasSuffix(strings.SplitN(path, "?", 2)[0], "/users") {
		ct = "text/plain"
	}
	return b.do(method, "/ui/api"+path, ct, strings.NewReader(body), map[string]string{"X-CSRF-Token": b.csrf})
}
