#!/usr/bin/env bash
# bench/run.sh — ssogate's side-by-side load benchmark, the one command (docs/benchmarks.md).
#
# Installs wrk and nginx from Debian's packages when missing, builds the gateway and the
# bench programs, and runs bench/cmd/benchrun: bare net/http vs ssogate answering from the
# directory, ssogate vs nginx proxy_pass vs the stub SSO called directly, latency at half of
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

echo "bench: building" >&2
go build -o "$WORK/bin/" ./cmd/ssogate ./bench/cmd/stubsso ./bench/cmd/bare ./bench/cmd/load ./bench/cmd/benchrun

mkdir -p "$OUT"
{
  echo "date: $(date)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "kernel: $(uname -r)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
} | tee "$OUT/machine.txt" >&2

"$WORK/bin/benchrun" --bin "$WORK/bin" --work "$WORK/run" --out "$OUT" --pidfile "$PIDS" \
  --wrk "$(command -v wrk)" --nginx "$NGINX" --lua bench/wrk/post.lua "$@" 2> >(tee "$OUT/run.log" >&2)
echo "bench: results in $OUT" >&2
