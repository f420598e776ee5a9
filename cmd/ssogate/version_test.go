package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runBinary runs the test binary with args and env (added to a clean environment).
func runBinary(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return string(out), 0
}

// SPEC section 10: version, commit and build date; packagers set them with -ldflags.
func TestVersionFromLdflags(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ssogate")
	ldflags := "-X main.buildVersion=1.2.3 -X main.buildCommit=abc123 -X main.buildDate=2026-01-02T03:04:05Z"
	if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, code := runBinary(t, bin, nil, "version")
	for _, want := range []string{"ssogate 1.2.3\n", "commit: abc123\n", "built: 2026-01-02T03:04:05Z\n", "go: go1."} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("version (exit %d) lacks %q:\n%s", code, want, out)
		}
	}
}

// Without -ldflags the commit and date come from the build info the toolchain stamps into a
// build from a git checkout (vcs.revision, vcs.time). The source as it is (committed or not)
// is copied into a fresh repository with one commit, which also works from a git worktree,
// where the toolchain does not stamp.
func TestVersionFromBuildInfo(t *testing.T) {
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse (the test needs the repository): %v", err)
	}
	files, err := exec.Command("git", "-C", strings.TrimSpace(string(root)), "ls-files", "-co", "--exclude-standard", "-z").Output()
	if err != nil {
		t.Fatal(err)
	}
	clone := filepath.Join(t.TempDir(), "src")
	for _, f := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(root)), f))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the work tree
		} else if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(clone, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", clone, "-c", "user.name=t", "-c", "user.email=t@localhost", "-c", "commit.gpgsign=false"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "snapshot")
	head := git("rev-parse", "HEAD")
	bin := filepath.Join(t.TempDir(), "ssogate")
	// -trimpath: the snapshot's temporary path stays out of the build cache keys, so later runs
	// reuse the compiled packages.
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=true", "-o", bin, "./cmd/ssogate")
	build.Dir = clone
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, code := runBinary(t, bin, nil, "version")
	if code != 0 || !strings.Contains(out, "commit: "+head+"\n") || strings.Contains(out, "built: unknown") {
		t.Fatalf("version (exit %d) does not show the commit %s and its time:\n%s", code, head, out)
	}
}

// SPEC section 10: `ssogate healthcheck` exits 0 while /readyz answers 200 and 1 once the
// gateway is gone, with --url or with the address taken from the configuration.
func TestHealthcheck(t *testing.T) {
	sso := startRefSSO(t, map[string]string{"alice": "pw"})
	path := filepath.Join(t.TempDir(), "ssogate.yaml")
	writeConfig(t, path, []clusterEntry{{"ONE", sso.URL}}, "")
	p := startServe(t, path)
	adminAddr := strings.TrimPrefix(p.admin, "http://")
	if out, code := runBinary(t, binary, nil, "healthcheck", "--url", p.admin+"/readyz"); code != 0 {
		t.Fatalf("healthcheck --url: exit %d\n%s", code, out)
	}
	// As in the image: the admin listener from the environment, an unspecified host probed on
	// loopback.
	_, port, _ := strings.Cut(adminAddr, ":")
	if out, code := runBinary(t, binary, []string{"SSOGATE_ADMIN_LISTEN=:" + port}, "healthcheck", "--config", path); code != 0 {
		t.Fatalf("healthcheck from the configuration: exit %d\n%s", code, out)
	}
	if out, code := runBinary(t, binary, nil, "healthcheck", "--url", p.admin+"/nonexistent"); code != 1 {
		t.Fatalf("healthcheck of a 404: exit %d, want 1\n%s", code, out)
	}
	p.signal(syscall.SIGTERM)
	p.wait(15 * time.Second)
	out, code := runBinary(t, binary, nil, "healthcheck", "--url", p.admin+"/readyz", "--timeout", "2s")
	if code != 1 || !strings.Contains(out, "ssogate healthcheck:") {
		t.Fatalf("healthcheck of a stopped gateway: exit %d, want 1\n%s", code, out)
	}
}
