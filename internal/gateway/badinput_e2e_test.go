package gateway_test

import (
	"net/http"
	"strings"
	"testing"
)

// Bad input always gets a JSON answer with code 1002 (or the spec's 405/413), never a panic,
// an HTML page or a hang.
func TestBadInputGetsJSON(t *testing.T) {
	w := newWorld(t, nil)
	ok := "grant_type=password&username=alice&password=alice-pass"
	for _, tc := range []struct {
		name, method, path, contentType, auth, body string
		status                                      int
		word, message                               string
	}{
		{name: "GET is 405", method: "GET", path: "/oauth/token", status: 405, word: "invalid_request"},
		{name: "PUT is 405", method: "PUT", path: "/oauth/token", body: ok, status: 405, word: "invalid_request"},
		{name: "unknown path", method: "POST", path: "/oauth/authorize", body: ok, status: 404, word: "not_found"},
		{name: "no client credentials", method: "POST", body: ok, status: 200, word: "invalid_client"},
		{name: "Basic that is not base64", auth: "Basic !!!notbase64", body: ok, status: 200, word: "invalid_client"},
		{name: "Basic without a colon", auth: "Basic YXBw", body: ok, status: 200, word: "invalid_client"},
		{name: "Basic with an empty id", auth: "Basic OnNlY3JldA==", body: ok, status: 200, word: "invalid_client"},
		{name: "another scheme", auth: "Bearer abc", body: ok, status: 200, word: "invalid_client"},
		{name: "empty body", auth: "basic", body: "", status: 200, word: "invalid_request"},
		{name: "no grant_type", auth: "basic", body: "username=alice&password=x", status: 200, word: "invalid_request"},
		// SPEC section 2, check 3: the seed's own texts.
		{name: "blank username", auth: "basic", body: "grant_type=password&username=++&password=x", status: 200, word: "invalid_request", message: "用户名不能为空"},
		{name: "empty password", auth: "basic", body: "grant_type=password&username=alice&password=", status: 200, word: "invalid_request", message: "密码不能为空"},
		{name: "invalid UTF-8", auth: "basic", body: "grant_type=password&username=%FF%FE&password=x", status: 200, word: "invalid_request"},
		{name: "repeated parameter", auth: "basic", body: ok + "&username=bob", status: 200, word: "invalid_request"},
		{name: "JSON body", auth: "basic", contentType: "application/json", body: `{"grant_type":"password"}`, status: 200, word: "invalid_request"},
		{name: "multipart body", auth: "basic", contentType: "multipart/form-data; boundary=x", body: "--x--", status: 200, word: "invalid_request"},
		{name: "username with a control character", auth: "basic", body: "grant_type=password&username=a%07b&password=x", status: 200, word: "invalid_request"},
		{name: "username over 256 bytes", auth: "basic", body: "grant_type=password&password=x&username=" + strings.Repeat("a", 300), status: 200, word: "invalid_request"},
		{name: "body over 64 KiB", auth: "basic", body: ok + "&pad=" + strings.Repeat("x", 70<<10), status: 413, word: "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "POST"
			}
			path := tc.path
			if path == "" {
				path = "/oauth/token"
			}
			req, _ := http.NewRequest(method, w.base+path, strings.NewReader(tc.body))
			ct := tc.contentType
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			req.Header.Set("Content-Type", ct)
			switch tc.auth {
			case "basic":
				req.SetBasicAuth(clientID, clientSecret)
			case "":
			default:
				req.Header.Set("Authorization", tc.auth)
			}
			r := w.as(t).do(req)
			if r.Status != tc.status || r.code() != 1002 || r.Body["success"] != false || r.str("error") != tc.word {
				t.Fatalf("got HTTP %d %s", r.Status, r.Raw)
			}
			if r.str("message") == "" || r.str("error_description") == "" {
				t.Errorf("message and error_description are shown to the user and must be set: %s", r.Raw)
			}
			if tc.message != "" && r.str("message") != tc.message {
				t.Errorf("message %q, want %q", r.str("message"), tc.message)
			}
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
			}
			if tc.status == 405 && r.Header.Get("Allow") != "POST" {
				t.Errorf("405 without Allow: POST")
			}
			if strings.Contains(r.Raw, "alice-pass") || strings.Contains(r.Raw, clientSecret) {
				t.Errorf("the answer echoes a secret: %s", r.Raw)
			}
		})
	}
	if n := w.test0525.count(); n != 0 {
		t.Errorf("the SSO received %d requests for bad input", n)
	}
}

// Query-string parameters are accepted (SPEC section 2).
func TestQueryParametersAreAccepted(t *testing.T) {
	w := newWorld(t, nil)
	req, _ := http.NewRequest("POST", w.base+"/oauth/token?grant_type=password&username=alice&password=alice-pass", nil)
	req.SetBasicAuth(clientID, clientSecret)
	if r := w.as(t).do(req); r.code() != 200 {
		t.Fatalf("got %s", r.Raw)
	}
}
