package cli

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssogate/ssogate/internal/admin"
	"github.com/ssogate/ssogate/internal/audit"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/store/embedded"
)

const testToken = "cli-test-token"

// newServer starts the real admin API over a real embedded store and returns its URL.
func newServer(t *testing.T) string {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "ssogate.db"), embedded.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	d := directory.New(st, directory.Options{Audit: audit.NewRecorder(st, audit.DefaultRetention, nil)})
	if err := d.ReloadClusters(context.Background()); err != nil {
		t.Fatalf("reload clusters: %v", err)
	}
	srv := httptest.NewServer(admin.New(admin.Options{
		Directory: d, Token: testToken, Logger: slog.New(slog.DiscardHandler),
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// runResult is one invocation of Run.
type runResult struct {
	code           int
	stdout, stderr string
}

// run calls Run with the server's URL and token in the environment, as an operator would.
func run(t *testing.T, url string, args ...string) runResult {
	t.Helper()
	return runEnv(t, map[string]string{EnvAdminURL: url, EnvAdminToken: testToken}, args...)
}

func runEnv(t *testing.T, env map[string]string, args ...string) runResult {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return runResult{code: code, stdout: out.String(), stderr: errOut.String()}
}

// ok fails the test unless the command succeeded.
func (r runResult) ok(t *testing.T) runResult {
	t.Helper()
	if r.code != ExitOK {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	return r
}

func (r runResult) exit(t *testing.T, code int) runResult {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	return r
}

func (r runResult) has(t *testing.T, fragments ...string) runResult {
	t.Helper()
	for _, f := range fragments {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("stdout does not contain %q:\n%s", f, r.stdout)
		}
	}
	return r
}

func (r runResult) hasErr(t *testing.T, fragments ...string) runResult {
	t.Helper()
	for _, f := range fragments {
		if !strings.Contains(r.stderr, f) {
			t.Errorf("stderr does not contain %q:\n%s", f, r.stderr)
		}
	}
	return r
}

// putCluster registers a cluster through the CLI.
func putCluster(t *testing.T, url, code string) {
	t.Helper()
	run(t, url, "cluster", "put", code, "--name", "Cluster "+code,
		"--sso-url", "http://sso.example/"+code, "--server-url", "http://api.example/"+code).ok(t)
}
