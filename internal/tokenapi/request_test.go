package tokenapi

import (
	"bufio"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// readCtx parses a raw request as the server would.
func readCtx(t *testing.T, raw string) *fasthttp.RequestCtx {
	t.Helper()
	var ctx fasthttp.RequestCtx
	if err := ctx.Request.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatalf("read %q: %v", raw, err)
	}
	return &ctx
}

// The shortcuts on the request target agree with fasthttp's parsed, normalised URI for every
// form a client can send.
func TestTokenPathAndQueryAgreeWithTheParsedURI(t *testing.T) {
	for _, target := range []string{
		"/oauth/token", "/oauth/token?grant_type=password&username=a", "/oauth/token?",
		"/oauth//token", "//oauth/token", "/oauth/./token", "/oauth/x/../token", "/oauth/%74oken",
		"/oauth/token/", "/oauth/tokens", "/OAUTH/token", "/oauth/token#frag", "/oauth/token%3Fa=1",
		"http://gw.example/oauth/token", "http://gw.example/oauth/token?username=b", "/", "/x?/oauth/token",
	} {
		raw := "POST " + target + " HTTP/1.1\r\nHost: gw.example\r\nContent-Length: 0\r\n\r\n"
		got, gotQuery := isTokenPath(readCtx(t, raw)), queryArgs(readCtx(t, raw)).String()
		parsed := readCtx(t, raw)
		want, wantQuery := string(parsed.Path()) == "/oauth/token", parsed.QueryArgs().String()
		if got != want || gotQuery != wantQuery {
			t.Errorf("%q: token path %v, query %q; the parsed URI says %v, %q", target, got, gotQuery, want, wantQuery)
		}
	}
}

func TestGrantWordKeepsTheValue(t *testing.T) {
	for _, v := range []string{"", "password", "refresh_token", "client_credentials", "authorization_code", "Password", "x"} {
		if got := grantWord([]byte(v)); got != v {
			t.Errorf("grantWord(%q) = %q", v, got)
		}
	}
}
