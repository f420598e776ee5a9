#!/usr/bin/env bash
# bench/run.sh — ssogate's side-by-side load benchmark, the one command (docs/benchmarks.md).
#
# Installs wrk and nginx from Debian's packages when missing, builds the gateway and the
# bench programs, and runs bench/cmd/benchrun: bare net/http vs ssogate answering from the
# directory (and a bare fasthttp handler, the SPEC's ceiling), ssogate vs nginx proxy_pass vs
# Caddy reverse_proxy (go install'ed into a cache dir once) vs the stub SSO called directly, latency at half of
# the maximum load, and the same with the redis store (127.0.0.1:6379, skipped when absent).
# Loopback only; about 9 minutes with the defaults. Extra arguments go to benchrun, e.g.
#   bench/run.sh --duration 5s --rounds 1 --groups directory,forward
# Results: the table on stdout, and bench/out/<date>/{table.txt,results.json,run.log}.
set -euo pipefail
cd "$(dirname "$0")/.."

install_missing() {
  local missing=()
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "bench: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; }
  # Debian's package starts a system nginx on port 80; the benchmark runs its own.
}
install_missing
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# Caddy (the reverse_proxy baseline) from the Go module proxy, built once into a cache dir.
# CADDY=/path/to/caddy uses another binary; CADDY=none skips the Caddy rows.
CADDY_VERSION=v2.11.9
CADDY_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/ssogate-bench/caddy-$CADDY_VERSION"
if [ -z "${CADDY:-}" ]; then
  CADDY="$CADDY_DIR/caddy"
  if [ ! -x "$CADDY" ]; then
    echo "bench: installing caddy $CADDY_VERSION into $CADDY_DIR (a few minutes, once)" >&2
    mkdir -p "$CADDY_DIR"
    GOBIN="$CADDY_DIR" GOFLAGS=-mod=mod timeout 900 go install "github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION" ||
      { echo "bench: caddy install failed; its rows are skipped" >&2; CADDY=none; }
  fi
fi
[ "$CADDY" = none ] && CADDY=""

WORK=$(mktemp -d /tmp/ssogate-bench.XXXXXX)
OUT="bench/out/$(date +%Y%m%d-%H%M%S)"
PIDS="$WORK/pids"

cleanup() {
  # benchrun stops what it started; this catches anything left if it was killed. Each id in
  # the file is a process group benchrun created (a process and, for nginx, its workers).
  if [ -s "$PIDS" ]; then
    while read -r pid; do
      [ -n "$pid" ] && kill -TERM -- "-$pid" 2>/dev/null || true
    done <"$PIDS"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The commit is read before the build, so that it names what was built.
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo none)$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
echo "bench: building" >&2
go build -o "$WORK/bin/" ./cmd/ssogate ./bench/cmd/stubsso ./bench/cmd/bare ./bench/cmd/barefast ./bench/cmd/load ./bench/cmd/benchrun

mkdir -p "$OUT"
{
  echo "date: $(date)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "kernel: $(uname -r)"
  echo "uptime: $(uptime)"
  echo "caddy: ${CADDY:-none} ($CADDY_VERSION)"
  echo "commit: $COMMIT"
} | tee "$OUT/machine.txt" >&2

"$WORK/bin/benchrun" --bin "$WORK/bin" --work "$WORK/run" --out "$OUT" --pidfile "$PIDS" \
  --wrk "$(command -v wrk)" --nginx "$NGINX" --caddy "$CADDY" --lua bench/wrk/post.lua "$@" 2> >(tee "$OUT/run.log" >&2)
echo "bench: results in $OUT (uptime at the end: $(uptime))" >&2
