package refsso

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestUsersList(t *testing.T) {
	_, open := start(t, testConfig())
	resp, err := http.Get(open + "/users")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "alice\nbob\n" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /users = %d %q (%s)", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	if r := do(t, open, call{method: http.MethodPost, path: "/users"}); r.status != 405 {
		t.Fatalf("POST /users = %d, want 405", r.status)
	}

	cfg := testConfig()
	cfg.UsersToken = "list-secret"
	_, guarded := start(t, cfg)
	tests := []struct {
		name   string
		auth   string
		status int
	}{
		{"no token", "", 401},
		{"wrong token", "Bearer nope", 401},
		{"token prefix", "Bearer list", 401},
		{"right token", "Bearer list-secret", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, guarded+"/users", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}
