package refsso

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func testConfig() Config {
	return Config{
		Name:    "test",
		Clients: map[string]string{"app": "app-secret", "pub": ""},
		Users:   map[string]string{"alice": "alice-pass", "bob": "bob-pass"},
		Prefix:  "/sso",
	}
}

// start serves cfg on a loopback socket and returns the server and its base URL with prefix.
func start(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts.URL + s.prefix
}

// call is one HTTP request; zero fields are left out.
type call struct {
	method string // default POST
	path   string // after the prefix; default /oauth/token
	basic  []string
	header map[string]string
	query  url.Values
	form   url.Values
	body   string // sent as is instead of form when set
}

type answer struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func do(t *testing.T, base string, c call) answer {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodPost
	}
	if c.path == "" {
		c.path = "/oauth/token"
	}
	u := base + c.path
	if c.query != nil {
		u += "?" + c.query.Encode()
	}
	body := c.body
	if body == "" && c.form != nil {
		body = c.form.Encode()
	}
	req, err := http.NewRequest(c.method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.basic != nil {
		req.SetBasicAuth(c.basic[0], c.basic[1])
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %q", c.method, c.path, raw)
	}
	return a
}

// login runs a password grant as the confidential client "app".
func login(t *testing.T, base, user, password, code string) answer {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}
	if code != "" {
		form.Set("code", code)
	}
	return do(t, base, call{basic: []string{"app", "app-secret"}, form: form})
}

// expect checks the status and that every wanted field has the wanted value; a nil value
// means the field must be absent.
func expect(t *testing.T, a answer, status int, fields map[string]any) {
	t.Helper()
	if a.status != status {
		t.Errorf("status = %d, want %d (body %s)", a.status, status, a.raw)
	}
	for k, want := range fields {
		got, ok := a.body[k]
		switch {
		case want == nil && ok:
			t.Errorf("field %q = %v, want it absent", k, got)
		case want != nil && !ok:
			t.Errorf("field %q missing in %s", k, a.raw)
		case want != nil && fmt.Sprint(got) != fmt.Sprint(want):
			t.Errorf("field %q = %v, want %v", k, got, want)
		}
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := a.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
}

func str(a answer, field string) string {
	s, _ := a.body[field].(string)
	return s
}
