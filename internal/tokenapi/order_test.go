package tokenapi

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ssogate/ssogate/internal/ratelimit"
)

// TestCheckOrder pins the order of checks of SPEC section 2 for grant_type=password: each
// request below fails several checks, and the first in the SPEC's order must answer.
func TestCheckOrder(t *testing.T) {
	tb := newTestbed(t, testbedOptions{tweak: func(o *Options) {
		o.Limiter = ratelimit.New(nil, ratelimit.Options{UserFailures: 1})
	}})
	// Lock "locked" out: one failure with a limit of 1 (an unknown user counts, SPEC 6).
	if a := tb.post(t, appBasic, "grant_type", "password", "username", "locked", "password", "x"); a.code() != CodeUnknownUser {
		t.Fatalf("setup: %s", a.raw)
	}
	manyParams := []string{"grant_type", "password", "username", "alice", "password", "alice-pass"}
	for i := range maxParams {
		manyParams = append(manyParams, "p"+strconv.Itoa(i), "v")
	}
	for _, tc := range []struct {
		name  string
		basic string
		kv    []string
		code  int
		word  string // error, for 1002
		desc  string // error_description contains, for 1002
	}{
		// 1. client credentials first: a malformed Basic header beats every other problem.
		{"malformed Basic before a missing grant_type", "Basic !!!", []string{"username", ""}, CodeError, "invalid_client", "Authorization"},
		{"no client before a missing grant_type", "", []string{"username", ""}, CodeError, "invalid_client", "客户端凭证"},
		{"Basic with an empty id", "Basic OnNlY3JldA==", []string{"grant_type", "password"}, CodeError, "invalid_client", ""},
		// Well-formed parameters come right after the client (README step 2).
		{"repeated parameter before a missing grant_type", appBasic, []string{"username", "a", "username", "b"}, CodeError, "invalid_request", "请求参数重复"},
		{"too many parameters says so", appBasic, manyParams, CodeError, "invalid_request", "请求参数过多"},
		// 2. grant_type before the username.
		{"missing grant_type before an empty username", appBasic, []string{"username", " "}, CodeError, "invalid_request", "grant_type"},
		// 3. username before password, both before the limiter.
		{"empty username before an empty password", appBasic, []string{"grant_type", "password", "username", "  ", "password", ""}, CodeError, "invalid_request", "用户名不能为空"},
		{"empty password of a locked user", appBasic, []string{"grant_type", "password", "username", "locked", "password", ""}, CodeError, "invalid_request", "密码不能为空"},
		// 4. the limiter before the cluster: a locked user with a wrong invite code is locked.
		{"locked before a wrong invite code", appBasic, []string{"grant_type", "password", "username", "locked", "password", "x", "clusterCode", "NOPE"}, CodeError, "too_many_requests", "秒后再试"},
		{"locked before an unknown user", appBasic, []string{"grant_type", "password", "username", "locked", "password", "x"}, CodeError, "too_many_requests", ""},
		// 5. the cluster: invite code, then the directory.
		{"wrong invite code", appBasic, []string{"grant_type", "password", "username", "bob", "password", "x", "clusterCode", "NOPE"}, CodeBadInvite, "", ""},
		{"unknown user", appBasic, []string{"grant_type", "password", "username", "nobody", "password", "x"}, CodeUnknownUser, "", ""},
		// 6, 7. forwarded, the SSO's answer.
		{"forwarded", appBasic, []string{"grant_type", "password", "username", "alice", "password", "alice-pass"}, CodeOK, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tb.post(t, tc.basic, tc.kv...)
			if a.code() != tc.code || a.str("error") != tc.word || !strings.Contains(a.str("error_description"), tc.desc) {
				t.Fatalf("got %s; want code %d, error %q, description with %q", a.raw, tc.code, tc.word, tc.desc)
			}
			if tc.word == "too_many_requests" && a.header.Get("Retry-After") == "" {
				t.Fatal("no Retry-After")
			}
		})
	}
}
