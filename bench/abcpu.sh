#!/usr/bin/env bash
# bench/abcpu.sh — two gateway builds side by side, alternately, at one fixed login rate: the
# gateway's CPU per login and context switches per login (all its threads), from /proc, with
# p50/p99. On a machine whose neighbours make throughput swing by ±50 %, a fixed rate and a
# per-login CPU figure are what still compares: each round runs A then B, so read them in pairs.
#   bench/abcpu.sh BIN_A BIN_B [RATE] [SECONDS] [ROUNDS]     (defaults 5000, 8, 3)
# BIN_A and BIN_B are `ssogate` binaries, e.g. the working tree's and one built from
# `git worktree add /tmp/old HEAD`. STORE=redis uses 127.0.0.1:6379 under a prefix of its own.
# STORE_A / STORE_B add keys to A's / B's store mapping (one binary, two settings), e.g.
#   STORE=redis STORE_B='redis_flush_delay: 0s' bench/abcpu.sh bin/ssogate bin/ssogate 2500
# BODY / USERS / EXTRA change the scenario: another request body ({n} cycles over USERS) and
# top-level YAML lines added to the configuration, e.g. uncached unknown users on Redis:
#   STORE=redis BODY='grant_type=password&username=nx{n}&password=secret' USERS=100000 \
#     EXTRA='cache: {size: 64}' bench/abcpu.sh A B 20000
# Each run: a fresh gateway (embedded store, limiter on, access log at info), 1,000 users bound
# to the stub SSO, 2 s of warm-up at the rate, then the measured run. Loopback only.
set -euo pipefail
A=$1; B=$2; RATE=${3:-5000}; SECS=${4:-8}; ROUNDS=${5:-3}
BODY=${BODY:-'grant_type=password&username=bu{n}&password=secret'}; USERS=${USERS:-1000}
cd "$(dirname "$0")/.."
. bench/lib.sh
WORK=$(mktemp -d /tmp/ssogate-abcpu.XXXXXX)
W=$WORK
GW=
go build -o $W/ ./bench/cmd/stubsso ./bench/cmd/load
SPORT=$(free_port)
$W/stubsso --listen 127.0.0.1:$SPORT &
PIDS+=($!)
trap '[ -n "$GW" ] && kill "$GW" 2>/dev/null; stop_procs' EXIT
trap 'exit 130' INT TERM
run() {
  local bin=$1 extra=${2:+, $2} GPORT=$(free_port) APORT=$(free_port)
  rm -f $W/db
  cat >$W/c.yaml <<Y
listen: 127.0.0.1:$GPORT
admin_listen: 127.0.0.1:$APORT
admin_token: ab
log_level: info
store: {driver: ${STORE:-embedded}, path: "$W/db", redis_addrs: ["127.0.0.1:6379"], redis_prefix: "abcpu-$$:"$extra}
clusters:
  - {code: STUB, name: stub, sso_url: "http://127.0.0.1:$SPORT/sso", server_url: "http://127.0.0.1:$SPORT/server"}
${EXTRA:-}
Y
  [ "${STORE:-embedded}" = redis ] || sed -i 's/, redis_addrs: [^,]*, redis_prefix: "[^"]*"//' $W/c.yaml
  [ "${STORE:-embedded}" = redis ] && sed -i 's/path: "[^"]*", //' $W/c.yaml
  $bin serve --config $W/c.yaml >/dev/null 2>&1 & GW=$!
  for _ in $(seq 1 200); do curl -fs -o /dev/null http://127.0.0.1:$APORT/readyz && break; sleep 0.05; done
  awk 'BEGIN{for(i=0;i<1000;i++)print "bu" i}' | curl -fs -o /dev/null -X POST -H 'Authorization: Bearer ab' -H 'Content-Type: text/plain' --data-binary @- http://127.0.0.1:$APORT/admin/clusters/STUB/users
  $W/load --url http://127.0.0.1:$GPORT/oauth/token --basic app:app-secret --body "$BODY" --users $USERS --rate $RATE --warmup 0s --duration 2s >/dev/null
  local t0 c0 t1 c1 out
  t0=$(awk '{print $14+$15}' /proc/$GW/stat); c0=$(cat /proc/$GW/task/*/status | awk '/ctxt_switches/{s+=$2} END{print s}')
  out=$($W/load --url http://127.0.0.1:$GPORT/oauth/token --basic app:app-secret --body "$BODY" --users $USERS --rate $RATE --warmup 0s --duration ${SECS}s | grep BENCHJSON)
  t1=$(awk '{print $14+$15}' /proc/$GW/stat); c1=$(cat /proc/$GW/task/*/status | awk '/ctxt_switches/{s+=$2} END{print s}')
  local n=$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' <<<"$out") p99=$(sed -n 's/.*"p99_us":\([0-9.]*\).*/\1/p' <<<"$out") p50=$(sed -n 's/.*"p50_us":\([0-9.]*\).*/\1/p' <<<"$out")
  local tck=$(getconf CLK_TCK)
  echo "$(basename $(dirname $bin))/$(basename $bin)${2:+ ($2)}: $(awk -v t=$((t1-t0)) -v n=$n -v k=$tck 'BEGIN{printf "%.1f", t*1e6/k/n}') µs CPU/login, $(awk -v c=$((c1-c0)) -v n=$n 'BEGIN{printf "%.2f", c/n}') ctx switches/login, p50 $p50 µs, p99 $p99 µs, load $(cut -d' ' -f1 /proc/loadavg)"
  kill $GW; wait $GW 2>/dev/null || true
  GW=
  [ "${STORE:-embedded}" = redis ] && redis-cli --scan --pattern "abcpu-$$:*" | xargs -r -n 500 redis-cli unlink >/dev/null
  return 0
}
for r in $(seq 1 $ROUNDS); do run "$A" "${STORE_A:-}"; run "$B" "${STORE_B:-}"; done
