#!/usr/bin/env bash
# bench/reconcile.sh — reconcile at scale (SPEC sections 7 and 8), through a real gateway
# (bench/cmd/reconcilebench): RECONCILE_N (1000000) bindings, a list of as many lines with 1%
# new names and 1% of the bound ones missing, streamed to PUT /admin/clusters/BENCH/users;
# dry run and applied reconcile timed, peak RSS growth of the process, login p50/p99 before
# and during. Embedded store, then a private redis-server on a free loopback port.
# RECONCILE_STORES (embedded,redis) picks the stores; RECONCILE_RUNS (1) repeats each.
# About 2 minutes per store and run. Results: stdout and bench/out/reconcile-<date>/.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${RECONCILE_N:-1000000}
STORES=${RECONCILE_STORES:-embedded,redis}
RUNS=${RECONCILE_RUNS:-1}
OUT="bench/out/reconcile-$(date +%Y%m%d-%H%M%S)"
WORK=$(mktemp -d /tmp/ssogate-reconcile.XXXXXX)
. bench/lib.sh
cleanup() {
  stop_procs
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$OUT"
REPORT="$OUT/reconcile.txt"
say() { echo "$*" | tee -a "$REPORT"; }

go build -o "$WORK/reconcilebench" ./bench/cmd/reconcilebench
say "ssogate reconcile figures — $(date)"
say "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3), commit $(git rev-parse --short HEAD)"

if [[ ",$STORES," == *",redis,"* ]]; then
  command -v redis-server >/dev/null || { echo "reconcile: redis-server is not installed (apt-get install -y redis-server)" >&2; exit 1; }
  # A port can look free and still refuse the bind (a busy machine's TIME_WAIT sockets):
  # try a few until the server answers.
  for try in $(seq 1 10); do
    RPORT=$(free_port)
    redis-server --bind 127.0.0.1 --port "$RPORT" --save "" --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
    RPID=$!
    up=
    for _ in $(seq 1 100); do
      if redis-cli -p "$RPORT" ping >/dev/null 2>&1; then up=1; break; fi
      kill -0 "$RPID" 2>/dev/null || break
      sleep 0.05
    done
    if [[ -n $up ]]; then PIDS+=("$RPID"); break; fi
    kill "$RPID" 2>/dev/null || true
    wait "$RPID" 2>/dev/null || true
  done
  [[ -n ${up:-} ]] || { echo "reconcile: redis-server did not start:" >&2; cat "$WORK/redis.log" >&2; exit 1; }
fi

IFS=, read -ra list <<<"$STORES"
for store in "${list[@]}"; do
  for run in $(seq 1 "$RUNS"); do
    args=(-store "$store" -n "$N" -dir "$WORK/$store-$run")
    mkdir -p "$WORK/$store-$run"
    [[ $store == redis ]] && args+=(-redis "127.0.0.1:$RPORT")
    line=$("$WORK/reconcilebench" "${args[@]}" 2> >(tee -a "$OUT/$store-$run.log" >&2) | grep '^BENCHJSON ')
    echo "$line" >>"$OUT/results.jsonl"
    say "$store run $run: ${line#BENCHJSON }"
    rm -rf "$WORK/$store-$run"
    [[ $store == redis ]] && redis-cli -p "$RPORT" flushall >/dev/null
  done
done
say "results: $OUT/results.jsonl"
