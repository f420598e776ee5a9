#!/usr/bin/env bash
# Builds the Debian package with nfpm (SPEC section 10): the static binary, the systemd unit,
# the sysusers entry and /etc/ssogate/ssogate.yaml (a conffile). Output: dist/ssogate_*.deb.
# Usage: scripts/deb.sh [OUTDIR]   (SSOGATE_BINARY: use this binary instead of building one)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist}"
mkdir -p "$out"
tools="$(scripts/tools.sh nfpm)"

VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
COMMIT="${COMMIT:-$(git rev-parse HEAD 2>/dev/null || true)}"
DATE="${DATE:-$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)}"
# A Debian version starts with a digit: v1.2.3 → 1.2.3; an untagged build → 0.0.0~git<date>.<sha>.
if [[ "$VERSION" =~ ^v?([0-9]+\.[0-9]+\.[0-9]+.*)$ ]]; then
  DEB_VERSION="${BASH_REMATCH[1]//-/\~}"
else
  DEB_VERSION="0.0.0~git$(date -u -d "$DATE" +%Y%m%d%H%M%S 2>/dev/null || date -u +%Y%m%d%H%M%S).${COMMIT:0:12}"
  DEB_VERSION="${DEB_VERSION%.}"
fi
export DEB_VERSION
export DEB_ARCH="${DEB_ARCH:-$(go env GOARCH)}"

if [ -z "${SSOGATE_BINARY:-}" ]; then
  SSOGATE_BINARY="$out/ssogate-linux-$DEB_ARCH"
  CGO_ENABLED=0 GOOS=linux GOARCH="$DEB_ARCH" go build -trimpath \
    -ldflags "-s -w -X main.buildVersion=$VERSION -X main.buildCommit=$COMMIT -X main.buildDate=$DATE" \
    -o "$SSOGATE_BINARY" ./cmd/ssogate
fi
mkdir -p build/deb
cp "$SSOGATE_BINARY" build/deb/ssogate
"$tools/nfpm" package --config deploy/debian/nfpm.yaml --packager deb --target "$out/"
