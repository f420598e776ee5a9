package deploy_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// repoRoot is the repository's root (this package is deploy/).
var repoRoot = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Dir(wd)
}()

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	buildLog  []byte
)

// rootfs lays out the image's root filesystem once per test run (scripts/image-rootfs.sh:
// the static binary, CA bundle, passwd/group) and returns it; every test uses its binary.
func rootfs(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "ssogate-deploy-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command(filepath.Join(repoRoot, "scripts", "image-rootfs.sh"), filepath.Join(buildDir, "rootfs"))
		cmd.Env = append(os.Environ(), "VERSION=0.0.0-test", "COMMIT=deadbeef", "DATE=2026-01-01T00:00:00Z")
		buildLog, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("scripts/image-rootfs.sh: %v\n%s", buildErr, buildLog)
	}
	return filepath.Join(buildDir, "rootfs")
}

// binary is the static ssogate of rootfs.
func binary(t *testing.T) string {
	t.Helper()
	return filepath.Join(rootfs(t), "usr", "local", "bin", "ssogate")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// tool finds a program on PATH or in the tools cache of scripts/tools.sh (building helm or
// nfpm there if needed). A missing tool fails the test: scripts/test.sh installs them.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if name == "helm" || name == "nfpm" {
		out, err := exec.Command(filepath.Join(repoRoot, "scripts", "tools.sh"), name).Output()
		if err == nil {
			if p := filepath.Join(strings.TrimSpace(string(out)), name); isExecutable(p) {
				return p
			}
		}
	}
	t.Fatalf("%s is not installed (scripts/test.sh installs it)", name)
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&0o111 != 0
}

// run runs a command with a generous bound (a hang detector) and returns its combined output,
// failing the test on a non-zero exit.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// withoutSSOGATE is the environment minus SSOGATE_* variables, which would override a file.
func withoutSSOGATE(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSOGATE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}
