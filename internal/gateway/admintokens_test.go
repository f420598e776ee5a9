package gateway_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/gateway"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// adminCall sends one admin request over the real listener and returns its status.
func adminCall(t *testing.T, g *gateway.Gateway, token, method, path, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+g.AdminAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A reload rotates a leaked scoped token (SPEC section 6): the old token is refused at once,
// the new one accepted, without a restart; neither ever reaches the log.
func TestReloadRotatesAdminTokens(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ssogate.yaml")
	write := func(pushToken string) {
		t.Helper()
		yaml := fmt.Sprintf(`listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
admin_token: legacy-admin-token
admin_tokens:
  - {name: backend-a, token_sha256: %s, scope: "cluster:a"}
store:
  path: %s
clusters:
  - {code: A, name: a, sso_url: "http://127.0.0.1:1/sso", server_url: "http://127.0.0.1:1"}
  - {code: B, name: b, sso_url: "http://127.0.0.1:1/sso", server_url: "http://127.0.0.1:1"}
`, sha(pushToken), filepath.Join(dir, "d.db"))
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("leaked-push-token")
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	g, err := gateway.New(context.Background(), cfg, gateway.Options{ConfigPath: path, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; g.Close() })

	if got := adminCall(t, g, "leaked-push-token", "PUT", "/admin/clusters/A/users/alice", ""); got != 200 {
		t.Fatalf("scoped token on its cluster: %d", got)
	}
	if got := adminCall(t, g, "leaked-push-token", "PUT", "/admin/clusters/B/users/alice", ""); got != 403 {
		t.Fatalf("scoped token on another cluster: %d, want 403", got)
	}
	if got := adminCall(t, g, "legacy-admin-token", "GET", "/admin/clusters", ""); got != 200 {
		t.Fatalf("legacy token: %d", got)
	}

	write("fresh-push-token")
	if err := g.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := adminCall(t, g, "leaked-push-token", "PUT", "/admin/clusters/A/users/bob", ""); got != 401 {
		t.Fatalf("rotated-out token after reload: %d, want 401", got)
	}
	if got := adminCall(t, g, "fresh-push-token", "PUT", "/admin/clusters/A/users/bob", ""); got != 200 {
		t.Fatalf("new token after reload: %d, want 200", got)
	}
	if got := adminCall(t, g, "legacy-admin-token", "GET", "/admin/clusters", ""); got != 200 {
		t.Fatalf("legacy token after reload: %d", got)
	}
	// A file with a bad token entry is refused whole; the current tokens stay.
	if err := os.WriteFile(path, []byte(strings.Replace(mustRead(t, path), "cluster:a", "cluster:a b", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	err = g.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "admin_tokens[0].scope") {
		t.Fatalf("reload of a bad scope: %v, want an error naming admin_tokens[0].scope", err)
	}
	if got := adminCall(t, g, "fresh-push-token", "PUT", "/admin/clusters/A/users/carol", ""); got != 200 {
		t.Fatalf("token after a refused reload: %d", got)
	}
	for _, secret := range []string{"leaked-push-token", "fresh-push-token", "legacy-admin-token"} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("token %q appears in the log", secret)
		}
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
