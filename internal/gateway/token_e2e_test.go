package gateway_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
)

// world is the standard end-to-end setup: two real reference SSOs, a gateway in front of them,
// and the seed's clusters and users.
type world struct {
	*env
	test0525, bjedu *ssoServer
}

func newWorld(t *testing.T, tweak func(*config.Config)) *world {
	t.Helper()
	logs := &syncBuffer{}
	a := startSSO(t, "TEST0525", map[string]string{"alice": "alice-pass", "carol": "carol-pass", "admin": "admin-pass", "ghost-on-sso": "x"}, logs)
	b := startSSO(t, "BJEDU", map[string]string{"carol": "carol-pass"}, logs)
	clusters := []directory.Cluster{
		{Code: "TEST0525", Name: "测试用", SSOURL: a.URL + "/sso", ServerURL: a.URL + "/server", Enabled: true},
		{Code: "BJEDU", Name: "北京市教委环境", SSOURL: b.URL + "/sso", ServerURL: b.URL + "/server", Enabled: true},
	}
	e := startGateway(t, logs, clusters, tweak)
	e.bind(directory.NamespaceUser, "alice", "TEST0525")
	e.bind(directory.NamespaceUser, "carol", "TEST0525")
	e.bind(directory.NamespaceUser, "carol", "BJEDU")
	e.bind(directory.NamespaceUser, "nobody-on-sso", "TEST0525")
	e.bind(directory.NamespaceManager, "admin", "TEST0525")
	return &world{env: e, test0525: a, bjedu: b}
}

func TestLoginAnswersEveryCodeOfTheSeed(t *testing.T) {
	w := newWorld(t, nil)

	t.Run("200 for a user bound to one cluster", func(t *testing.T) {
		r := w.as(t).post(true, login("alice", "alice-pass")...)
		if r.Status != 200 || r.code() != 200 || r.Body["success"] != true {
			t.Fatalf("got %d %s", r.Status, r.Raw)
		}
		for key, want := range map[string]string{
			"cluster_code": "TEST0525", "sso_url": w.test0525.URL + "/sso", "server_url": w.test0525.URL + "/server",
			"token_type": "bearer", "scope": "all",
		} {
			if got := r.str(key); got != want {
				t.Errorf("%s = %q, want %q", key, got, want)
			}
		}
		if r.str("access_token") == "" || r.str("refresh_token") == "" || r.Body["expires_in"] == nil {
			t.Errorf("token fields missing: %s", r.Raw)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache" {
			t.Errorf("caching headers: %v", r.Header)
		}
		if r.Header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id in the answer")
		}
	})

	t.Run("1000 lists the clusters ordered by code", func(t *testing.T) {
		r := w.as(t).post(true, login("carol", "carol-pass")...)
		wantExact(t, r, `{"code":1000,"success":false,"message":"用户存在多个邀请码","cluster_codes":[{"cluster_code":"BJEDU","name":"北京市教委环境"},{"cluster_code":"TEST0525","name":"测试用"}]}`)
	})

	t.Run("200 after choosing with a lower-case invite code", func(t *testing.T) {
		r := w.as(t).post(true, login("carol", "carol-pass", "clusterCode", " bjedu ")...)
		if r.code() != 200 || r.str("cluster_code") != "BJEDU" || r.str("sso_url") != w.bjedu.URL+"/sso" {
			t.Fatalf("got %s", r.Raw)
		}
	})

	for _, tc := range []struct{ name, user, code string }{
		{"1001 for an unknown invite code", "alice", "NOPE"},
		{"1001 for an invite code the user is not bound to", "alice", "BJEDU"},
		{"1001 for an invite code that is not a code at all", "alice", "../../etc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := w.as(t).post(true, login(tc.user, "alice-pass", "clusterCode", tc.code)...)
			wantExact(t, r, `{"code":1001,"success":false,"data":null,"message":"邀请码错误"}`)
		})
	}

	t.Run("1004 for an unknown user", func(t *testing.T) {
		r := w.as(t).post(true, login("nobody", "x")...)
		wantExact(t, r, `{"code":1004,"success":false,"data":null,"message":"用户不存在"}`)
	})

	t.Run("1002 passes the SSO's wrong-password error through", func(t *testing.T) {
		r := w.as(t).post(true, login("carol", "wrong", "clusterCode", "TEST0525")...)
		wantExact(t, r, `{"code":1002,"success":false,"message":"登陆sso返回错误信息","error":"access_denied","error_description":"password not match!","cluster_code":"TEST0525"}`)
	})

	t.Run("1002 with 4006 when the SSO does not know a user the directory has", func(t *testing.T) {
		r := w.as(t).post(true, login("nobody-on-sso", "x")...)
		if r.code() != 1002 || r.str("error_description") != "4006" || r.str("cluster_code") != "TEST0525" {
			t.Fatalf("got %s", r.Raw)
		}
	})

	t.Run("client_id and client_secret as parameters", func(t *testing.T) {
		r := w.as(t).post(false, login("alice", "alice-pass", "client_id", clientID, "client_secret", clientSecret)...)
		if r.code() != 200 {
			t.Fatalf("got %s", r.Raw)
		}
		if got := w.test0525.last(t); got.Authorization != "" || got.Form.Get("client_id") != clientID || got.Form.Get("client_secret") != clientSecret {
			t.Errorf("SSO received auth %q form %v", got.Authorization, got.Form.Has("client_id"))
		}
	})

	t.Run("a public client sends client_id alone and the SSO decides", func(t *testing.T) {
		r := w.as(t).post(false, login("alice", "alice-pass", "client_id", "public")...)
		if r.code() != 200 {
			t.Fatalf("got %s", r.Raw)
		}
	})

	t.Run("a wrong client secret is the SSO's answer, passed through", func(t *testing.T) {
		r := w.as(t).post(false, login("alice", "alice-pass", "client_id", clientID, "client_secret", "wrong")...)
		if r.code() != 1002 || r.str("error") != "invalid_client" || r.str("cluster_code") != "TEST0525" {
			t.Fatalf("got %s", r.Raw)
		}
		if strings.Contains(r.Raw, "wrong") {
			t.Error("the answer echoes the client secret")
		}
	})
}

func TestWhatTheSSOReceives(t *testing.T) {
	w := newWorld(t, nil)
	req, _ := http.NewRequest(http.MethodPost, w.base+"/oauth/token?scope=from-query&clusterCode=BJEDU",
		strings.NewReader("grant_type=password&username=+admin+&password=admin-pass&client=manager&clusterCode=test0525&code=1234"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	req.Header.Set("X-Request-Id", "req-42")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	r := w.as(t).do(req)
	if r.code() != 200 || r.str("cluster_code") != "TEST0525" {
		t.Fatalf("body clusterCode must win over the query: %s", r.Raw)
	}
	if r.Header.Get("X-Request-Id") != "req-42" {
		t.Errorf("X-Request-Id answered %q", r.Header.Get("X-Request-Id"))
	}
	got := w.test0525.last(t)
	if got.Form.Has("clusterCode") {
		t.Error("clusterCode was forwarded")
	}
	for key, want := range map[string]string{"client": "manager", "code": "1234", "username": "admin", "scope": "from-query", "grant_type": "password"} {
		if got.Form.Get(key) != want {
			t.Errorf("SSO received %s=%q, want %q", key, got.Form.Get(key), want)
		}
	}
	if want := "Basic " + basic(clientID, clientSecret); got.Authorization != want {
		t.Errorf("Authorization %q, want it unchanged", got.Authorization)
	}
	// The client is not a trusted proxy: its X-Forwarded-For is replaced, not appended to
	// (SPEC section 2 step 6).
	if got.XFF != "127.0.0.1" || got.Proto != "http" || got.RequestID != "req-42" {
		t.Errorf("forwarding headers: XFF %q proto %q id %q", got.XFF, got.Proto, got.RequestID)
	}
}

func TestManagerNamespace(t *testing.T) {
	w := newWorld(t, nil)
	if r := w.as(t).post(true, login("admin", "admin-pass", "client", "manager")...); r.code() != 200 {
		t.Fatalf("manager login: %s", r.Raw)
	}
	if r := w.as(t).post(true, login("admin", "admin-pass")...); r.code() != 1004 {
		t.Fatalf("a manager is not an app user: %s", r.Raw)
	}
	if r := w.as(t).post(true, login("alice", "alice-pass", "client", "manager")...); r.code() != 1004 {
		t.Fatalf("an app user is not a manager: %s", r.Raw)
	}
}

func TestCaptchaPassThrough(t *testing.T) {
	w := newWorld(t, nil)
	for i := range 3 {
		if r := w.as(t).post(true, login("alice", "wrong")...); r.str("error_description") != "password not match!" {
			t.Fatalf("failure %d: %s", i+1, r.Raw)
		}
	}
	r := w.as(t).post(true, login("alice", "alice-pass")...)
	if r.code() != 1002 || r.str("error_description") != "2001" {
		t.Fatalf("after 3 failures the SSO wants a captcha: %s", r.Raw)
	}
	resp, err := httpClient.Get(w.test0525.URL + "/sso/captcha?username=alice")
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Captcha string }
	decodeJSON(t, resp, &c)
	if r := w.as(t).post(true, login("alice", "alice-pass", "code", c.Captcha)...); r.code() != 200 {
		t.Fatalf("with the captcha: %s", r.Raw)
	}
}

func TestRefreshGoesBackToTheIssuingCluster(t *testing.T) {
	w := newWorld(t, nil)
	first := w.as(t).post(true, login("carol", "carol-pass", "clusterCode", "BJEDU")...)
	if first.code() != 200 {
		t.Fatal(first.Raw)
	}
	// At once, without clusterCode: SPEC section 2 makes the token routable the moment the
	// login answer has left (this test once polled for 3 s, which hid a 50 ms write-behind).
	r := w.as(t).post(true, "grant_type", "refresh_token", "refresh_token", first.str("refresh_token"))
	if r.code() != 200 || r.str("cluster_code") != "BJEDU" || r.str("access_token") == first.str("access_token") {
		t.Fatalf("refresh without clusterCode: %s", r.Raw)
	}
	// The new refresh token is recorded too: chain once more, again without clusterCode (a
	// clusterCode here would not read the record at all).
	if r2 := w.as(t).post(true, "grant_type", "refresh_token", "refresh_token", r.str("refresh_token")); r2.code() != 200 || r2.str("cluster_code") != "BJEDU" {
		t.Fatalf("refresh of the refreshed token without clusterCode: %s", r2.Raw)
	}

	t.Run("an unknown refresh token is invalid_grant", func(t *testing.T) {
		r := w.as(t).post(true, "grant_type", "refresh_token", "refresh_token", "never-issued")
		if r.code() != 1002 || r.str("error") != "invalid_grant" {
			t.Fatalf("got %s", r.Raw)
		}
	})
	t.Run("a missing refresh token is invalid_request", func(t *testing.T) {
		r := w.as(t).post(true, "grant_type", "refresh_token")
		if r.code() != 1002 || r.str("error") != "invalid_request" {
			t.Fatalf("got %s", r.Raw)
		}
	})
	t.Run("a refresh with a bad invite code is 1001", func(t *testing.T) {
		r := w.as(t).post(true, "grant_type", "refresh_token", "refresh_token", "x", "clusterCode", "NOPE")
		if r.code() != 1001 {
			t.Fatalf("got %s", r.Raw)
		}
	})
}

func TestOtherGrantsNeedAClusterCode(t *testing.T) {
	w := newWorld(t, nil)
	if r := w.as(t).post(true, "grant_type", "client_credentials"); r.code() != 1002 || r.str("error") != "invalid_request" {
		t.Fatalf("without clusterCode: %s", r.Raw)
	}
	r := w.as(t).post(true, "grant_type", "client_credentials", "clusterCode", "TEST0525")
	// The reference SSO does not support it: its answer comes back as an SSO error.
	if r.code() != 1002 || r.str("error") != "unsupported_grant_type" || r.str("message") != "登陆sso返回错误信息" {
		t.Fatalf("with clusterCode: %s", r.Raw)
	}
	if got := w.test0525.last(t); got.Form.Get("grant_type") != "client_credentials" {
		t.Errorf("forwarded grant_type %q", got.Form.Get("grant_type"))
	}
}

func TestDisabledAndDeletedClustersLeaveEveryAnswerAtOnce(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	c, err := w.g.Directory().GetCluster(ctx, "BJEDU")
	if err != nil {
		t.Fatal(err)
	}
	c.Enabled = false
	if _, err := w.g.Directory().PutCluster(ctx, c); err != nil {
		t.Fatal(err)
	}
	if r := w.as(t).post(true, login("carol", "carol-pass")...); r.code() != 200 || r.str("cluster_code") != "TEST0525" {
		t.Fatalf("with BJEDU disabled carol has one cluster: %s", r.Raw)
	}
	if r := w.as(t).post(true, login("carol", "carol-pass", "clusterCode", "BJEDU")...); r.code() != 1001 {
		t.Fatalf("a disabled cluster's code is a bad invite code: %s", r.Raw)
	}
	if err := w.g.Directory().DeleteCluster(ctx, "TEST0525"); err != nil {
		t.Fatal(err)
	}
	if r := w.as(t).post(true, login("alice", "alice-pass")...); r.code() != 1004 {
		t.Fatalf("alice's only cluster was deleted: %s", r.Raw)
	}
}

func TestSSODownAnswersFastWithTemporarilyUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there any more: connections are refused
	e := startGateway(t, &syncBuffer{}, []directory.Cluster{{Code: "DOWN", Name: "down", SSOURL: dead + "/sso", ServerURL: dead, Enabled: true}}, nil)
	e.bind(directory.NamespaceUser, "alice", "DOWN")
	start := time.Now()
	r := e.post(true, login("alice", "alice-pass")...)
	if r.code() != 1002 || r.str("error") != "temporarily_unavailable" || r.str("cluster_code") != "DOWN" || r.str("error_description") == "" {
		t.Fatalf("got %s", r.Raw)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("a refused connection took %v to answer", elapsed)
	}
}

func TestStandardOAuth2ClientGetsAToken(t *testing.T) {
	w := newWorld(t, nil)
	conf := &oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, Endpoint: oauth2.Endpoint{TokenURL: w.base + "/oauth/token"}}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, httpClient)
	tok, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-pass")
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Extra("cluster_code") != "TEST0525" {
		t.Fatalf("token %+v cluster %v", tok.TokenType, tok.Extra("cluster_code"))
	}
	if _, err := conf.PasswordCredentialsToken(ctx, "nobody", "x"); err == nil {
		t.Log("x/oauth2 treats an HTTP 200 answer with code 1004 as a token without access_token")
	}
}

func TestLogsNeverHoldSecrets(t *testing.T) {
	w := newWorld(t, nil)
	secrets := []string{"alice-pass", "carol-pass", "admin-pass", clientSecret, basic(clientID, clientSecret), "wrong-secret-xyz"}
	for _, p := range [][]string{
		login("alice", "alice-pass"),
		login("carol", "carol-pass"),
		login("alice", "wrong-secret-xyz"),
		login("admin", "admin-pass", "client", "manager"),
		login("nobody", "wrong-secret-xyz"),
	} {
		r := w.as(t).post(true, p...)
		for _, tok := range []string{r.str("access_token"), r.str("refresh_token")} {
			if tok != "" {
				secrets = append(secrets, tok)
			}
		}
	}
	r := w.as(t).post(false, login("alice", "alice-pass", "client_id", clientID, "client_secret", clientSecret)...)
	secrets = append(secrets, r.str("access_token"), r.str("refresh_token"))
	w.stop()
	logs := w.logs.String()
	if !strings.Contains(logs, `"msg":"access"`) {
		t.Fatal("no access log captured: the check below would prove nothing")
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the logs contain a secret: %q", s)
		}
	}
}

func basic(id, secret string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	req.SetBasicAuth(id, secret)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := jsonNewDecoder(resp).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", resp.Request.URL, err)
	}
}

var _ = fmt.Sprintf
