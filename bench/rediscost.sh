#!/usr/bin/env bash
# bench/rediscost.sh — what one login costs Redis and the gateway with the redis store and the
# limiter on (docs/benchmarks.md, round two): a private redis-server on a free loopback port,
# the stub SSO and one gateway; N logins closed loop over distinct bound users, at CONNS
# connections (default 16, and 1 for the one-at-a-time latency); prints Redis commands and
# Redis CPU µs per login (INFO commandstats), the gateway's CPU µs per login (/proc), and the
# logins per second. Every process started is stopped on exit. Usage:
#   bench/rediscost.sh [SSOGATE_BINARY]      (default: built from this tree)
# Environment: N (20000), CONNS (16), REPEAT (1), STORE_EXTRA (keys added to the store
# mapping, e.g. "redis_flush_delay: 0s"); STATS=1 also prints Redis's figures per
# command (calls and µs per login).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20000}
CONNS=${CONNS:-16}
WORK=$(mktemp -d /tmp/ssogate-rediscost.XXXXXX)
. bench/lib.sh
cleanup() {
  stop_procs
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$WORK/bin/" ./bench/cmd/stubsso ./bench/cmd/load
GW_BIN=${1:-}
if [ -z "$GW_BIN" ]; then
  go build -o "$WORK/bin/" ./cmd/ssogate
  GW_BIN="$WORK/bin/ssogate"
fi
RP=$(free_port); SP=$(free_port); GP=$(free_port); AP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" --logfile "$WORK/redis.log" &
PIDS+=($!)
for _ in $(seq 1 100); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.05; done
"$WORK/bin/stubsso" --listen "127.0.0.1:$SP" &
PIDS+=($!)
cat >"$WORK/gw.yaml" <<YAML
listen: 127.0.0.1:$GP
admin_listen: 127.0.0.1:$AP
admin_token: rediscost
store: {driver: redis, redis_addrs: ["127.0.0.1:$RP"], redis_prefix: "rc:"${STORE_EXTRA:+, $STORE_EXTRA}}
clusters:
  - {code: STUB, name: stub, sso_url: "http://127.0.0.1:$SP/sso", server_url: "http://127.0.0.1:$SP/server"}
YAML
"$GW_BIN" serve --config "$WORK/gw.yaml" >/dev/null 2>"$WORK/gw.log" &
GW=$!
PIDS+=("$GW")
wait_http "http://127.0.0.1:$AP/readyz"
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) print "bu" i }' |
  curl -fs -o /dev/null -X POST -H 'Authorization: Bearer rediscost' -H 'Content-Type: text/plain' \
    --data-binary @- "http://127.0.0.1:$AP/admin/clusters/STUB/users"
login() { # total conns
  "$WORK/bin/load" --url "http://127.0.0.1:$GP/oauth/token" --basic app:app-secret \
    --body 'grant_type=password&username=bu{n}&password=secret' --total "$1" --conns "$2" --expect '"code":200' | grep BENCHJSON
}
login 2000 "$CONNS" >/dev/null # warm: connections, scripts
echo "uptime: $(uptime)"
for _ in $(seq 1 "${REPEAT:-1}"); do
  redis-cli -p "$RP" config resetstat >/dev/null
  c0=$(awk '{print $14 + $15}' "/proc/$GW/stat")
  line=$(login "$N" "$CONNS")
  c1=$(awk '{print $14 + $15}' "/proc/$GW/stat")
  tck=$(getconf CLK_TCK)
  redis-cli -p "$RP" info commandstats | tr -d '\r' | awk -F'[:,=]' -v n="$N" -v line="$line" -v cpu="$(awk -v a="$c0" -v b="$c1" -v t="$tck" -v n="$N" 'BEGIN{print (b - a) / t / n * 1e6}')" '
    /^cmdstat/ && $1 != "cmdstat_config|resetstat" { calls += $3; usec += $5; if ($1 == "cmdstat_evalsha" || $1 == "cmdstat_eval") ev += $3 }
    END {
      match(line, /"achieved":[0-9.]+/); rate = substr(line, RSTART + 11, RLENGTH - 11)
      match(line, /"unexpected":[0-9]+/); bad = substr(line, RSTART + 13, RLENGTH - 13)
      printf "%d logins at %d conns: %.0f/s, %s unexpected; Redis %.2f commands/login (%.2f EVALSHA/EVAL), %.1f µs Redis CPU/login; gateway %.1f µs CPU/login\n", n, '"$CONNS"', rate, bad, calls / n, ev / n, usec / n, cpu
    }'
  if [ -n "${STATS:-}" ]; then
    redis-cli -p "$RP" info commandstats | tr -d '\r' | awk -F'[:,=]' -v n="$N" \
      '/^cmdstat/ { printf "  %-28s %6.2f calls/login %6.2f µs/login\n", substr($1, 9), $3 / n, $5 / n }'
  fi
done
