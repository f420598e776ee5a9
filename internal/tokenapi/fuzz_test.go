package tokenapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/ssogate/ssogate/internal/directory"
)

// newCtx builds a request as the public listener would receive it.
func newCtx(method, uri, contentType, authorization string, body []byte) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	if contentType != "" {
		ctx.Request.Header.SetContentType(contentType)
	}
	if authorization != "" {
		ctx.Request.Header.Set("Authorization", authorization)
	}
	ctx.Request.SetBody(body)
	return ctx
}

// FuzzParseRequest feeds arbitrary bodies, queries and headers to the parser: it must never
// panic, and whatever it accepts must hold the invariants the grant handlers rely on.
func FuzzParseRequest(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "Basic YXBwOmFwcC1zZWNyZXQ=", "grant_type=password&username=alice&password=p", "")
	f.Add("application/x-www-form-urlencoded", "", "grant_type=password&username=%FF&password=p&client_id=app", "clusterCode=x")
	f.Add("application/json", "", `{"grant_type":"password"}`, "")
	f.Add("application/x-www-form-urlencoded; charset=UTF-8", "basic !!!", "a=1&a=2", "b=%zz")
	f.Add("", "Bearer abc", "", "grant_type=refresh_token&refresh_token=r&client_id=c")
	f.Fuzz(func(t *testing.T, contentType, authorization, body, query string) {
		ctx := newCtx("POST", "/oauth/token?"+query, contentType, authorization, []byte(body))
		var r tokenRequest
		e := parseRequest(ctx, &r)
		if e != nil {
			if e.word == "" || e.message == "" || e.description == "" {
				t.Fatalf("gateway error without its fields: %+v", e)
			}
			return
		}
		if r.clientID == "" {
			t.Fatal("accepted a request without a client id")
		}
		if r.username != strings.TrimSpace(r.username) || r.clusterCode != strings.TrimSpace(r.clusterCode) {
			t.Fatal("username or clusterCode not trimmed")
		}
		var fwd fasthttp.Args
		fwd.ParseBytes(r.appendForwarded(nil, ctx))
		if fwd.Has("clusterCode") {
			t.Fatal("clusterCode would be forwarded")
		}
		if fwd.Has("username") && string(fwd.Peek("username")) != r.username {
			t.Fatalf("forwarded username %q, want the trimmed %q", fwd.Peek("username"), r.username)
		}
	})
}

// FuzzParseBasic checks the Basic decoder against its definition.
func FuzzParseBasic(f *testing.F) {
	for _, s := range []string{"Basic YXBwOmFwcC1zZWNyZXQ=", "Basic OnNlY3JldA==", "basic YTo=", "Basic", "Basic ====", "Basic YWJj", "Digest x", "Basic " + strings.Repeat("QUFB", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		id, ok := parseBasic([]byte(h))
		if ok && (id == "" || strings.Contains(id, ":")) {
			t.Fatalf("parseBasic(%q) = %q, true", h, id)
		}
	})
}

// FuzzAnswers checks that whatever an SSO answers and whatever text a cluster holds, the
// gateway's answer is one valid JSON object with its own code and success winning.
func FuzzAnswers(f *testing.F) {
	f.Add(`{"access_token":"a","code":7,"success":"x","company_code":"B02"}`, "测试用", "BJ\x00EDU")
	f.Add(`{"error":"access_denied","error_description":"password not match!"}`, "n\"a\\me", "C")
	f.Add(`{"status":401,"error":"Unauthorized","message":"Bad credentials"}`, "\xff", "C")
	f.Add(`{"\u0063ode":1,"error":{"nested":[1,2,{"a":"}"}]}}`, "x", "C")
	f.Fuzz(func(t *testing.T, ssoBody, name, code string) {
		c := &directory.Cluster{Code: code, Name: name, SSOURL: "http://127.0.0.1/sso", ServerURL: "http://127.0.0.1/server"}
		var obj ssoObject
		if !parseSSOObject([]byte(ssoBody), &obj) {
			return
		}
		for _, tc := range []struct {
			out     []byte
			code    float64
			success bool
		}{
			{appendSuccess(nil, &obj, c), CodeOK, true},
			{appendSSOError(nil, &obj, code), CodeError, false},
			{appendChoices(nil, []directory.Cluster{*c, *c}), CodeChooseCluster, false},
			{appendGatewayError(nil, errBadUsername, code), CodeError, false},
		} {
			// encoding/json keeps the last of duplicate keys: a field the SSO smuggled past
			// the reserved list would show here.
			var m map[string]any
			if err := json.Unmarshal(tc.out, &m); err != nil {
				t.Fatalf("invalid JSON %q: %v", tc.out, err)
			}
			if m["code"] != tc.code || m["success"] != tc.success {
				t.Fatalf("code/success overridden in %q", tc.out)
			}
		}
	})
}
