package deploy_test

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// imageConfig is the part of `podman image inspect` the checks read.
type imageConfig struct {
	Config struct {
		User         string
		Env          []string
		Entrypoint   []string
		Cmd          []string
		WorkingDir   string
		ExposedPorts map[string]any
		Volumes      map[string]any
		Healthcheck  *healthcheck
	}
	// Podman shows a docker-format image's healthcheck here, docker under Config.
	Healthcheck *healthcheck
}

type healthcheck struct{ Test []string }

// SPEC section 10: `make image` builds the Dockerfile with podman without pulling anything;
// the image runs as 65532 with /data and ports 9000/9001 and a healthcheck that needs no
// shell or curl; its filesystem, exported, runs `ssogate version`, `serve --check-config` and
// a real `serve` probed by `ssogate healthcheck`, all as uid 65532 in a chroot. What this
// cannot show: the image running under a container runtime (no cgroups here).
func TestContainerImage(t *testing.T) {
	podman := tool(t, "podman")
	tool(t, "chroot")
	tag := fmt.Sprintf("localhost/ssogate-test:%d", os.Getpid())
	// make image with the binary built once for every deploy test; ENGINE empty: its own pick.
	out := run(t, repoRoot, append(os.Environ(), "ENGINE=", "SSOGATE_BINARY="+binary(t)), "make", "image", "IMAGE="+tag)
	if !strings.Contains(out, "with podman") {
		t.Fatalf("make image did not pick podman (the only working engine here):\n%s", out)
	}
	t.Cleanup(func() { exec.Command(podman, "rmi", "-f", tag).Run() })

	var inspect []imageConfig
	if err := json.Unmarshal([]byte(run(t, "", nil, podman, "image", "inspect", tag)), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("podman image inspect: %v", err)
	}
	cfg := inspect[0].Config
	if cfg.Healthcheck == nil {
		cfg.Healthcheck = inspect[0].Healthcheck
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"runs as 65532:65532", cfg.User == "65532:65532"},
		{"exposes 9000 and 9001", cfg.ExposedPorts["9000/tcp"] != nil && cfg.ExposedPorts["9001/tcp"] != nil},
		{"declares the /data volume", cfg.Volumes["/data"] != nil},
		{"works in /data", cfg.WorkingDir == "/data"},
		{"starts ssogate serve", slices.Equal(cfg.Entrypoint, []string{"/usr/local/bin/ssogate"}) && slices.Equal(cfg.Cmd, []string{"serve"})},
		{"health-checks with ssogate healthcheck, no shell", cfg.Healthcheck != nil &&
			slices.Equal(cfg.Healthcheck.Test, []string{"CMD", "/usr/local/bin/ssogate", "healthcheck"})},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("image: %s: config %+v", c.name, cfg)
		}
	}

	// The image's filesystem, as a container would see it.
	id := strings.TrimSpace(run(t, "", nil, podman, "create", tag))
	t.Cleanup(func() { exec.Command(podman, "rm", "-f", id).Run() })
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "", nil, "sh", "-c", fmt.Sprintf("%s export %s | tar -x -C %s", podman, id, root))

	for _, path := range []string{"bin/sh", "usr/bin/curl", "bin/busybox"} {
		if _, err := os.Lstat(filepath.Join(root, path)); err == nil {
			t.Errorf("the image has /%s: it should hold the binary alone", path)
		}
	}
	for _, path := range []string{"etc/ssl/certs/ca-certificates.crt", "etc/passwd", "etc/group"} {
		if fi, err := os.Stat(filepath.Join(root, path)); err != nil || fi.Size() == 0 {
			t.Errorf("the image lacks /%s: %v", path, err)
		}
	}
	if passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd")); !bytes.Contains(passwd, []byte(":x:65532:65532:")) {
		t.Errorf("/etc/passwd has no entry for 65532:\n%s", passwd)
	}
	if st, err := os.Stat(filepath.Join(root, "data")); err != nil || st.Sys().(*syscall.Stat_t).Uid != 65532 {
		t.Fatalf("/data is not owned by 65532: %v", err)
	}
	bin := filepath.Join(root, "usr/local/bin/ssogate")
	assertStatic(t, bin)

	chroot := func(env []string, args ...string) *exec.Cmd {
		cmd := exec.Command("chroot", append([]string{"--userspec=65532:65532", root}, args...)...)
		cmd.Env = env
		return cmd
	}
	imageEnv := append([]string{"PATH=/usr/local/bin"}, cfg.Env...)
	if out, err := chroot(imageEnv, "/usr/local/bin/ssogate", "version").CombinedOutput(); err != nil ||
		!strings.HasPrefix(string(out), "ssogate 0.0.0-test\ncommit: deadbeef\n") {
		t.Fatalf("ssogate version in the image's root as 65532: %v\n%s", err, out)
	}
	if out, err := chroot(imageEnv, "/usr/local/bin/ssogate", "serve", "--check-config").CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "path: /data/ssogate.db") {
		t.Fatalf("serve --check-config with the image's environment: %v\n%s", err, out)
	}

	// The image's own command, on loopback ports, probed by its HEALTHCHECK command.
	adminPort := freePort(t)
	serveEnv := append(slices.Clone(imageEnv), "SSOGATE_LISTEN=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"SSOGATE_ADMIN_LISTEN=127.0.0.1:"+strconv.Itoa(adminPort))
	var serveLog bytes.Buffer
	serve := chroot(serveEnv, append(cfg.Entrypoint, cfg.Cmd...)...)
	serve.Stdout, serve.Stderr = &serveLog, &serveLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = serve.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			serve.Process.Kill()
			<-exited
		}
	}()
	healthy := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if chroot(serveEnv, cfg.Healthcheck.Test[1:]...).Run() == nil {
			healthy = true
			break
		}
	}
	if !healthy {
		t.Fatalf("the image's healthcheck never passed:\n%s", serveLog.String())
	}
	serve.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("serve exited with %v after SIGTERM:\n%s", waitErr, serveLog.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20 s of SIGTERM")
	}
	for _, f := range []string{"data/ssogate.db", "data/admin-token"} {
		st, err := os.Stat(filepath.Join(root, f))
		if err != nil || st.Sys().(*syscall.Stat_t).Uid != 65532 {
			t.Fatalf("/%s was not written by uid 65532: %v", f, err)
		}
	}
	if err := chroot(serveEnv, cfg.Healthcheck.Test[1:]...).Run(); err == nil {
		t.Fatal("the healthcheck passed with the gateway stopped")
	}
}

// assertStatic fails unless bin is an ELF executable without an interpreter or shared
// libraries: it must run on an empty base.
func assertStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s has an ELF interpreter: not a static binary", bin)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("%s needs shared libraries %v", bin, libs)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
