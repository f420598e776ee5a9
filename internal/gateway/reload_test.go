package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/gateway"
)

// A reload applies log_level and upserts the clusters list (SPEC section 6: SIGHUP); a file
// that does not validate leaves the running configuration alone.
func TestReloadAppliesLogLevelAndClusters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ssogate.yaml")
	write := func(level, clusterCode string) {
		t.Helper()
		yaml := fmt.Sprintf(`listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
admin_token: t
log_level: %s
store:
  path: %s
clusters:
  - {code: %s, name: n, sso_url: "http://127.0.0.1:1/sso", server_url: "http://127.0.0.1:1"}
`, level, filepath.Join(dir, "d.db"), clusterCode)
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("info", "ONE")
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	level := new(slog.LevelVar)
	g, err := gateway.New(context.Background(), cfg, gateway.Options{ConfigPath: path, LogLevel: level})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx := context.Background()

	write("warn", "TWO")
	if err := g.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if level.Level() != slog.LevelWarn {
		t.Fatalf("log level after reload: %v", level.Level())
	}
	if _, err := g.Directory().GetCluster(ctx, "TWO"); err != nil {
		t.Fatalf("cluster from the reloaded file: %v", err)
	}

	write("nonsense", "THREE")
	if err := g.Reload(ctx); err == nil {
		t.Fatal("an invalid file was accepted")
	}
	if level.Level() != slog.LevelWarn {
		t.Fatal("a failed reload changed the log level")
	}
	if _, err := g.Directory().GetCluster(ctx, "THREE"); err == nil {
		t.Fatal("a failed reload upserted its clusters")
	}
}
