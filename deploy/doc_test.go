// Package deploy holds the checks of the deployment artefacts (SPEC section 10): the
// container image (Dockerfile, make image), the Helm chart (deploy/helm/ssogate), the
// systemd unit (deploy/systemd) and the Debian package (make deb). They run in `go test
// ./...`; the tools they need (podman, helm, nfpm, systemd-analyze, dpkg-deb) are installed
// by scripts/test.sh, and a missing one fails the test. The image check runs the exported
// filesystem with chroot, which needs root (as CI runs).
package deploy_test
