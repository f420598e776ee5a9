#!/usr/bin/env bash
# bench/profile.sh — where the gateway spends its CPU under load, with nothing added to it:
# perf samples the running `ssogate serve` (Go keeps frame pointers, so call graphs work)
# while wrk drives one scenario, then prints the hottest functions, self and inclusive.
#   bench/profile.sh [login|login-norl|login-norecord|1004|1001|uncached-1004] [seconds]
# login-norecord logs in against an SSO answer without refresh_token (no refresh-token record).
# uncached-1004 asks for 100,000 unknown usernames past a 64-entry cache: every answer is a
# store lookup (with STORE=redis, one HGET round trip).
# The environment reaches the gateway: LOG_LEVEL=warn, GOGC=400 or GOMAXPROCS=1 before the
# command profile those variants.
# RATE=N drives it open loop at N requests/s with bench/cmd/load instead of wrk at its maximum
# (where the CPU goes at part load: the SPEC's latency target is taken at half of the maximum).
# Needs perf (Debian: linux-perf) and wrk. Results: bench/out/profile-<scenario>-<date>/.
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO=${1:-login}
SECS=${2:-10}
command -v perf >/dev/null || { echo "profile: perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "profile: wrk is not installed (bench/run.sh installs it)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/ssogate-profile.XXXXXX)
OUT="bench/out/profile-$SCENARIO-$(date +%Y%m%d-%H%M%S)"
. bench/lib.sh
cleanup() {
  stop_procs
  if [ "${STORE:-embedded}" = redis ] && command -v redis-cli >/dev/null; then
    redis-cli --scan --pattern "ssogate-profile-$$:*" | xargs -r -n 500 redis-cli unlink >/dev/null
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$OUT"

go build -o "$WORK/bin/" ./cmd/ssogate ./bench/cmd/stubsso ./bench/cmd/load
SPORT=$(free_port); GPORT=$(free_port); APORT=$(free_port)
RL=true
CACHE_LINE=""
case "$SCENARIO" in
  login) BODY='grant_type=password&username=bu{n}&password=secret'; USERS=1000 ;;
  login-norl) BODY='grant_type=password&username=bu{n}&password=secret'; USERS=1000; RL=false ;;
  login-norecord) BODY='grant_type=password&username=nu{n}&password=secret'; USERS=1000 ;;
  1004) BODY='grant_type=password&username=nobody&password=secret'; USERS=0; RL=false ;;
  1001) BODY='grant_type=password&username=bu1&password=secret&clusterCode=STUB2'; USERS=0; RL=false ;;
  uncached-1004) BODY='grant_type=password&username=nx{n}&password=secret'; USERS=100000; RL=false
    CACHE_LINE="cache: {size: 64}" ;;
  *) echo "profile: unknown scenario $SCENARIO" >&2; exit 2 ;;
esac
"$WORK/bin/stubsso" --listen "127.0.0.1:$SPORT" &
PIDS+=($!)
# STORE=redis profiles the redis store (127.0.0.1:6379, a key prefix of its own).
STORE_LINE="store: {driver: embedded, path: \"$WORK/ssogate.db\"}"
if [ "${STORE:-embedded}" = redis ]; then
  STORE_LINE="store: {driver: redis, redis_addrs: [\"127.0.0.1:6379\"], redis_prefix: \"ssogate-profile-$$:\"}"
fi
cat >"$WORK/ssogate.yaml" <<YAML
listen: 127.0.0.1:$GPORT
admin_listen: 127.0.0.1:$APORT
admin_token: profile
log_level: ${LOG_LEVEL:-info}
$STORE_LINE
ratelimit: {enabled: $RL}
$CACHE_LINE
clusters:
  - {code: STUB, name: stub, sso_url: "http://127.0.0.1:$SPORT/sso", server_url: "http://127.0.0.1:$SPORT/server"}
  - {code: STUB2, name: stub2, sso_url: "http://127.0.0.1:$SPORT/sso", server_url: "http://127.0.0.1:$SPORT/server"}
  - {code: NOREF, name: noref, sso_url: "http://127.0.0.1:$SPORT/norefresh", server_url: "http://127.0.0.1:$SPORT/server"}
YAML
"$WORK/bin/ssogate" serve --config "$WORK/ssogate.yaml" >/dev/null 2>&1 &
GW=$!
PIDS+=("$GW")
for _ in $(seq 1 200); do curl -fs -o /dev/null "http://127.0.0.1:$APORT/readyz" && break; sleep 0.05; done
awk 'BEGIN { for (i = 0; i < 1000; i++) print "bu" i }' |
  curl -fs -o /dev/null -X POST -H 'Authorization: Bearer profile' -H 'Content-Type: text/plain' \
    --data-binary @- "http://127.0.0.1:$APORT/admin/clusters/STUB/users"
awk 'BEGIN { for (i = 0; i < 1000; i++) print "nu" i }' |
  curl -fs -o /dev/null -X POST -H 'Authorization: Bearer profile' -H 'Content-Type: text/plain' \
    --data-binary @- "http://127.0.0.1:$APORT/admin/clusters/NOREF/users"

export BENCH_BODY="$BODY" BENCH_USERS="$USERS" BENCH_THREADS=2
BENCH_BASIC=$(printf 'app:app-secret' | base64)
export BENCH_BASIC
URL="http://127.0.0.1:$GPORT/oauth/token"
wrk -t2 -c64 -d2s -s bench/wrk/post.lua "$URL" >/dev/null # warm
if [ -n "${RATE:-}" ]; then
  "$WORK/bin/load" --url "$URL" --basic app:app-secret --body "$BODY" --users "$USERS" \
    --rate "$RATE" --warmup 1s --duration "$((SECS + 1))s" >"$OUT/wrk.txt" &
else
  wrk -t2 -c64 -d"$((SECS + 2))s" -s bench/wrk/post.lua "$URL" >"$OUT/wrk.txt" &
fi
WRK=$!
sleep 1
perf record -F 499 -g -p "$GW" -o "$OUT/perf.data" -- sleep "$SECS" 2>"$OUT/perf-record.log"
wait "$WRK"
grep -E 'Requests/sec|BENCHJSON' "$OUT/wrk.txt"
perf report -i "$OUT/perf.data" --stdio --no-children --sort symbol --percent-limit 0.7 -g none 2>/dev/null |
  grep -v '^$' >"$OUT/self.txt"
perf report -i "$OUT/perf.data" --stdio --children --sort symbol --percent-limit 3 -g none 2>/dev/null |
  grep -v '^$' >"$OUT/inclusive.txt"
echo "== self (top) =="; grep -v '^#' "$OUT/self.txt" | head -40
echo "== inclusive (top) =="; grep -v '^#' "$OUT/inclusive.txt" | head -60
echo "profile: $OUT"
