package deploy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// SPEC section 10: `make deb` (scripts/deb.sh, nfpm) builds a package holding the binary, the
// unit, the sysusers entry and /etc/ssogate/ssogate.yaml as a conffile; dpkg-deb reads it,
// its maintainer scripts parse, and its config and binary pass `serve --check-config` as
// unpacked. What this cannot show: dpkg -i on a live system (it would create a user and
// start a service on this shared machine), so postinst is checked for syntax only.
func TestDebianPackage(t *testing.T) {
	dpkgDeb := tool(t, "dpkg-deb")
	tool(t, "nfpm")
	out := t.TempDir()
	// The binary is the one built once for every deploy test (version 0.0.0-test, commit
	// deadbeef); the package's version follows the same VERSION, made a Debian version.
	run(t, repoRoot, append(os.Environ(), "SSOGATE_BINARY="+binary(t), "VERSION=v0.0.0-test", "COMMIT=deadbeef", "DATE=2026-01-01T00:00:00Z"),
		filepath.Join(repoRoot, "scripts", "deb.sh"), out)
	debs, _ := filepath.Glob(filepath.Join(out, "*.deb"))
	if len(debs) != 1 {
		t.Fatalf("scripts/deb.sh made %v, want one .deb", debs)
	}
	deb := debs[0]
	if base := filepath.Base(deb); !regexp.MustCompile(`^ssogate_0\.0\.0~test_[a-z0-9]+\.deb$`).MatchString(base) {
		t.Errorf("package file %s: want ssogate_0.0.0~test_ARCH.deb", base)
	}

	listing := run(t, "", nil, dpkgDeb, "-c", deb)
	for _, want := range []struct{ path, mode string }{
		{"./usr/bin/ssogate", "-rwxr-xr-x root/root"},
		{"./lib/systemd/system/ssogate.service", "-rw-r--r-- root/root"},
		{"./usr/lib/sysusers.d/ssogate.conf", "-rw-r--r-- root/root"},
		// It may hold the admin token: not world-readable.
		{"./etc/ssogate/ssogate.yaml", "-rw-r----- root/root"},
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want.mode) + `\s.*\s` + regexp.QuoteMeta(want.path) + `$`).MatchString(listing) {
			t.Errorf("dpkg-deb -c: no %s %s in\n%s", want.mode, want.path, listing)
		}
	}
	info := run(t, "", nil, dpkgDeb, "-I", deb)
	for _, want := range []string{"Package: ssogate", "Version: 0.0.0~test", "Section: net", "conffiles", "postinst"} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb -I lacks %q:\n%s", want, info)
		}
	}
	if conffiles := run(t, "", nil, dpkgDeb, "-I", deb, "conffiles"); strings.TrimSpace(conffiles) != "/etc/ssogate/ssogate.yaml" {
		t.Errorf("conffiles: %q", conffiles)
	}

	// Unpacked: the files are the repository's, the binary runs, the example config is valid.
	root := t.TempDir()
	run(t, "", nil, dpkgDeb, "-x", deb, root)
	control := t.TempDir()
	run(t, "", nil, dpkgDeb, "-e", deb, control)
	for _, pair := range [][2]string{
		{"lib/systemd/system/ssogate.service", "deploy/systemd/ssogate.service"},
		{"etc/ssogate/ssogate.yaml", "deploy/debian/ssogate.yaml"},
	} {
		got, _ := os.ReadFile(filepath.Join(root, pair[0]))
		want, _ := os.ReadFile(filepath.Join(repoRoot, pair[1]))
		if len(want) == 0 || !bytes.Equal(got, want) {
			t.Errorf("/%s in the package differs from %s", pair[0], pair[1])
		}
	}
	bin := filepath.Join(root, "usr/bin/ssogate")
	assertStatic(t, bin)
	if v := run(t, "", nil, bin, "version"); !strings.Contains(v, "ssogate 0.0.0-test\ncommit: deadbeef\n") {
		t.Errorf("packaged ssogate version:\n%s", v)
	}
	checked := run(t, "", withoutSSOGATE(), bin, "serve", "--check-config", "--config", filepath.Join(root, "etc/ssogate/ssogate.yaml"))
	if !strings.Contains(checked, "path: /var/lib/ssogate/ssogate.db") {
		t.Errorf("check-config of the packaged config:\n%s", checked)
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		run(t, "", nil, "sh", "-n", filepath.Join(control, script))
	}
}
