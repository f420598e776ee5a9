#!/usr/bin/env bash
# Lays out the container image's root filesystem under build/rootfs (SPEC section 10): the
# static binary, the CA bundle the SSO calls are verified against, and /etc/passwd and
# /etc/group entries for uid/gid 65532, so the Dockerfile's FROM scratch pulls nothing.
# Usage: scripts/image-rootfs.sh [ROOTFS]   (VERSION, COMMIT, DATE in the environment: ldflags;
# SSOGATE_BINARY: copy this static binary instead of building one)
set -euo pipefail
cd "$(dirname "$0")/.."
root="${1:-build/rootfs}"
# /data is laid out beside the root (ROOTFS-data), so the Dockerfile can COPY it with its owner.
rm -rf "$root" "$root-data"
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp" "$root-data"
if [ -n "${SSOGATE_BINARY:-}" ]; then
  # A static binary built already (the deploy tests build one per run).
  cp "$SSOGATE_BINARY" "$root/usr/local/bin/ssogate"
else
  ldflags="-s -w -X main.buildVersion=${VERSION:-} -X main.buildCommit=${COMMIT:-} -X main.buildDate=${DATE:-}"
  CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "$ldflags" -o "$root/usr/local/bin/ssogate" ./cmd/ssogate
fi
bundle=""
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
  if [ -s "$f" ]; then bundle="$f"; break; fi
done
if [ -z "$bundle" ]; then
  echo "image-rootfs: no CA bundle on this machine (install ca-certificates)" >&2
  exit 1
fi
cp "$bundle" "$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:ssogate:/data:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$root/etc/group"
chmod 1777 "$root/tmp"
