#!/usr/bin/env bash
# Builds the Go tools the deploy checks need (helm, nfpm) from the Go module proxy into a
# cache, once: later runs reuse them. Prints the cache's bin directory (put it on PATH).
# Usage: scripts/tools.sh [helm] [nfpm]     (default: both)
set -euo pipefail
bin="${SSOGATE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ssogate-tools}/bin"
mkdir -p "$bin"
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(helm nfpm)
for tool in "${want[@]}"; do
  case "$tool" in
    helm) mod=helm.sh/helm/v3/cmd/helm@v3.22.0 ;;
    nfpm) mod=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2 ;;
    *) echo "tools.sh: unknown tool $tool" >&2; exit 2 ;;
  esac
  if [ ! -x "$bin/$tool" ]; then
    echo "tools.sh: building $mod into $bin (once)" >&2
    # Bounded: a cold module download and build take a few minutes here.
    GOBIN="$bin" GOFLAGS= timeout 900 go install "$mod" >&2
  fi
done
echo "$bin"
