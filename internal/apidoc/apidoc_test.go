package apidoc_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssogate/ssogate/internal/apidoc"
)

// recorder collects the errors a validating transport reports instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

// TestCheckerCatchesDrift pins that the validator can fail: answers shaped unlike the
// document, and served requests the document rejects, are reported; conforming ones are not.
func TestCheckerCatchesDrift(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		status  int
		ctype   string
		answer  string
		wantErr bool
	}{
		{name: "seed 1001 shape", method: "POST", path: "/oauth/token", body: "grant_type=password&username=a&password=b&clusterCode=X",
			status: 200, ctype: "application/json;charset=UTF-8", answer: `{"code":1001,"success":false,"data":null,"message":"邀请码错误"}`},
		// The seed's 1001 carries data:null; an answer without it is drift.
		{name: "1001 without data", method: "POST", path: "/oauth/token", body: "grant_type=password",
			status: 200, ctype: "application/json;charset=UTF-8", answer: `{"code":1001,"success":false,"message":"邀请码错误"}`, wantErr: true},
		{name: "unknown answer code", method: "POST", path: "/oauth/token", body: "grant_type=password",
			status: 200, ctype: "application/json;charset=UTF-8", answer: `{"code":1003,"success":false}`, wantErr: true},
		{name: "1002 with an unknown gateway word", method: "POST", path: "/oauth/token", body: "grant_type=password",
			status: 200, ctype: "application/json;charset=UTF-8", answer: `{"code":1002,"success":false,"message":"x","error":"oops","error_description":"y"}`, wantErr: true},
		{name: "cluster without enabled", method: "GET", path: "/admin/clusters/A",
			status: 200, ctype: "application/json", answer: `{"code":"A","name":"a","sso_url":"u","server_url":"s","token_url":""}`, wantErr: true},
		{name: "admin error shape", method: "GET", path: "/admin/clusters/A",
			status: 404, ctype: "application/json", answer: `{"error":"not_found","message":"unknown cluster A"}`},
		// A status the document does not list for the operation.
		{name: "undocumented status", method: "GET", path: "/admin/clusters",
			status: 418, ctype: "application/json", answer: `{"error":"teapot","message":"x"}`, wantErr: true},
		// A route answering 200 that the document lacks.
		{name: "undocumented route", method: "GET", path: "/admin/secret",
			status: 200, ctype: "application/json", answer: `{}`, wantErr: true},
		{name: "refusal of an unknown route", method: "GET", path: "/admin/secret",
			status: 404, ctype: "application/json", answer: `{"error":"not_found","message":"no such route"}`},
		// Served although the body is not a cluster object: the server accepts what the document refuses.
		{name: "served request with an unknown field", method: "PUT", path: "/admin/clusters/A", body: `{"name":"a","sso_uri":"x"}`,
			status: 200, ctype: "application/json", answer: `{"code":"A","name":"a","sso_url":"u","server_url":"s","token_url":"","enabled":true}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				w.Header().Set("Cache-Control", "no-store")
				w.Header().Set("Pragma", "no-cache")
				w.Header().Set("X-Request-Id", "r1")
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.answer))
			}))
			defer srv.Close()
			rec := &recorder{TB: t}
			client := &http.Client{Transport: apidoc.Transport(rec, nil)}
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer x")
			if strings.HasPrefix(tc.body, "{") {
				req.Header.Set("Content-Type", "application/json")
			} else if tc.body != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := len(rec.errs) > 0; got != tc.wantErr {
				t.Fatalf("reported %v, want error %v", rec.errs, tc.wantErr)
			}
			if testing.Verbose() {
				t.Log(rec.errs)
			}
		})
	}
}

// TestDocumentListsTheSpecRoutes pins the admin routes of SPEC sections 5, 8, 9 and 11,
// including those other branches add, so that none is dropped from the document.
func TestDocumentListsTheSpecRoutes(t *testing.T) {
	c, err := apidoc.Default()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, op := range c.Operations() {
		have[op.String()] = true
	}
	for _, want := range []string{
		"POST /oauth/token", "GET /oauth/token",
		"GET /admin/clusters", "GET /admin/clusters/{code}", "PUT /admin/clusters/{code}", "DELETE /admin/clusters/{code}",
		"PUT /admin/clusters/{code}/users/{username}", "DELETE /admin/clusters/{code}/users/{username}",
		"POST /admin/clusters/{code}/users", "GET /admin/clusters/{code}/users", "PUT /admin/clusters/{code}/users",
		"GET /admin/users/{username}", "GET /healthz", "GET /readyz", "GET /metrics",
		"GET /admin/clusters/{code}/sync", "GET /admin/audit", "GET /admin/lockouts", "DELETE /admin/lockouts",
		"GET /admin/openapi.yaml", "GET /ui/", "POST /admin/reload",
	} {
		if !have[want] {
			t.Errorf("docs/openapi.yaml lacks %s", want)
		}
	}
}
