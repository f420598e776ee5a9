#!/usr/bin/env bash
# bench/scale.sh — ssogate's scale figures (SPEC section 7), each through the real code:
#   1. Redis memory per binding at 1 M and 10 M bindings (redisstore.BindMany into a private
#      redis-server on a high loopback port, used_memory before/after), and the latency of
#      uncached lookups through a fresh directory (bench/cmd/redisscale);
#   2. bulk import of 1 M bindings through the admin API (POST /admin/clusters/STUB/users),
#      embedded store and redis store;
#   3. gateway RSS (/proc/PID/status) with 1 M cached usernames: 1 M logins, one per user,
#      through a gateway restarted after the import;
#   4. login latency with the cache cold (each username's first request) vs warm, at a fixed
#      rate, both stores.
# Loopback only; about 9 minutes. SCALE_N (1000000) and SCALE_BIG (10000000) change the
# sizes; SCALE_PARTS (redis,embedded,idle,redis-gateway) picks parts (idle: RSS added by
# 10,000 idle keep-alive client connections, SCALE_IDLE_N); the environment reaches the
# gateways (e.g. GOMEMLIMIT=150MiB). Results: stdout and bench/out/scale-<date>/.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${SCALE_N:-1000000}
BIG=${SCALE_BIG:-10000000}
COLD_RATE=${SCALE_COLD_RATE:-2000}
PARTS=${SCALE_PARTS:-redis,embedded,idle,redis-gateway}
part() { [[ ",$PARTS," == *",$1,"* ]]; }
WORK=$(mktemp -d /tmp/ssogate-scale.XXXXXX)
OUT="bench/out/scale-$(date +%Y%m%d-%H%M%S)"
TOKEN=scale-admin-token
. bench/lib.sh
cleanup() {
  stop_procs
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT"
REPORT="$OUT/scale.txt"
say() { echo "$*" | tee -a "$REPORT"; }
field() { sed -n "s/.*\"$1\":\([-0-9.e+]*\).*/\1/p" <<<"$2"; }
sfield() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" <<<"$2"; }

say "ssogate scale figures — $(date)"
say "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version | cut -d' ' -f3)"
say "environment: GOGC=${GOGC:-default} GOMEMLIMIT=${GOMEMLIMIT:-default} GOMAXPROCS=${GOMAXPROCS:-default}; parts: $PARTS"
say "commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"

echo "scale: building" >&2
go build -o "$WORK/bin/" ./cmd/ssogate ./bench/cmd/stubsso ./bench/cmd/load ./bench/cmd/idleconns
REDIS_BUILT=1
if ! go build -o "$WORK/bin/" ./bench/cmd/redisscale 2>"$WORK/redis-build.log"; then
  REDIS_BUILT=0
  say "redis store not built yet: bench/cmd/redisscale does not compile (figures pending):"
  sed 's/^/  /' "$WORK/redis-build.log" | head -5 | tee -a "$REPORT"
fi
BIN="$WORK/bin"

# A private redis-server: measured whole, so nothing else may live in it.
RPORT=""
if [ "$REDIS_BUILT" = 1 ] && command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  RPORT=$(free_port)
  redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
    --logfile "$WORK/redis.log" &
  PIDS+=($!)
  for _ in $(seq 1 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
  say "private redis-server $(redis-server --version | cut -d' ' -f3) on 127.0.0.1:$RPORT (defaults: hash-max-listpack-entries $(redis-cli -p "$RPORT" config get hash-max-listpack-entries | tail -1), -value $(redis-cli -p "$RPORT" config get hash-max-listpack-value | tail -1))"
elif [ "$REDIS_BUILT" = 1 ]; then
  say "redis-server not installed: redis figures pending"
  REDIS_BUILT=0
fi

# 1. Redis bytes per binding, BindMany rate, uncached lookups.
if [ "$REDIS_BUILT" = 1 ] && part redis; then
  say ""
  say "## 1. Redis memory per binding (redisstore.BindMany, batches of 5000) and uncached lookups"
  # SCALE_REDIS_SPECS overrides the list: "COUNT FORMAT;COUNT FORMAT…". The 10 M rows cover a
  # 12-byte and an 11-byte username (SPEC section 7: username + 8 B also for short names).
  IFS=';' read -r -a specs <<<"${SCALE_REDIS_SPECS:-$N user%08d;$N name.%08d@example.com;$BIG user%08d;$BIG u%010d}"
  for spec in "${specs[@]}"; do
    set -- $spec
    redis-cli -p "$RPORT" flushall >/dev/null
    echo "scale: binding $1 usernames like $(printf "$2" 42) …" >&2
    line=$("$BIN/redisscale" --addr "127.0.0.1:$RPORT" --prefix scale: --n "$1" --format "$2" --lookups 20000 | grep BENCHJSON)
    echo "$line" >>"$OUT/redisscale.jsonl"
    say "$(printf '%9d bindings, %-24s username %5.1f B: %6.1f B/binding = username + %5.1f B (target ≤ +8 at 10 M: %s); BindMany %7.0f/s; buckets %s' \
      "$1" "$(printf "$2" 42)" "$(field mean_username_bytes "$line")" "$(field bytes_per_binding "$line")" \
      "$(field bytes_over_username "$line")" \
      "$(awk -v o="$(field bytes_over_username "$line")" -v n="$1" 'BEGIN{ if (n < 10000000) print "n/a"; else print (o <= 8 ? "met" : "NOT met") }')" \
      "$(field bind_per_second "$line")" "$(sfield bucket_encodings "$line")")"
    say "$(printf '          uncached lookup (fresh directory, Redis on loopback): one at a time p50 %.0f µs p99 %.0f µs p99.9 %.0f µs; 16 parallel p50 %.0f µs p99 %.0f µs, %.0f/s (target p99 < 1 ms: %s)' \
      "$(field lookup_p50_us "$line")" "$(field lookup_p99_us "$line")" "$(field lookup_p999_us "$line")" \
      "$(field lookup_parallel_p50_us "$line")" "$(field lookup_parallel_p99_us "$line")" "$(field lookup_parallel_per_second "$line")" \
      "$(awk -v p="$(field lookup_p99_us "$line")" 'BEGIN{print (p < 1000 ? "met" : "NOT met")}')")"
  done
  redis-cli -p "$RPORT" flushall >/dev/null
fi

# Gateways for 2–4.
SPORT=$(free_port)
"$BIN/stubsso" --listen "127.0.0.1:$SPORT" &
PIDS+=($!)
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) print "user" i }' >"$WORK/users.txt"

GW_PID=""
start_gw() { # name driver
  local dir="$WORK/gw-$1" store
  mkdir -p "$dir"
  if [ "$2" = redis ]; then
    store="store: {driver: redis, redis_addrs: [\"127.0.0.1:$RPORT\"], redis_prefix: \"scale-gw:\"}"
  else
    store="store: {driver: embedded, path: \"$dir/ssogate.db\"}"
  fi
  cat >"$dir/ssogate.yaml" <<YAML
listen: 127.0.0.1:$GW_PORT
admin_listen: 127.0.0.1:$ADMIN_PORT
admin_token: $TOKEN
$store
clusters:
  - {code: STUB, name: stub, sso_url: "http://127.0.0.1:$SPORT/sso", server_url: "http://127.0.0.1:$SPORT/server"}
YAML
  "$BIN/ssogate" serve --config "$dir/ssogate.yaml" >/dev/null 2>"$dir/stderr.log" &
  GW_PID=$!
  PIDS+=("$GW_PID")
  wait_http "http://127.0.0.1:$ADMIN_PORT/readyz" || { tail -20 "$dir/stderr.log" >&2; return 1; }
}
stop_gw() {
  kill -TERM "$GW_PID" 2>/dev/null || true
  wait "$GW_PID" 2>/dev/null || true
}
rss() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$GW_PID/status"; }
metric() { curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v m="$1" '$1 == m { printf "%.0f", $2 }'; }

gateway_figures() { # name driver
  GW_PORT=$(free_port)
  ADMIN_PORT=$(free_port)
  : >"$WORK/gw-$1-stderr.log"
  say ""
  say "## $1 store: gateway with default configuration (cache.size 1000000, ratelimit on)"

  # 2. Bulk import through the admin API.
  start_gw "$1" "$2"
  echo "scale: importing $N usernames through the admin API ($1)…" >&2
  t=$(curl -s -o "$WORK/import.json" -w '%{time_total}' -X POST \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/plain' \
    --data-binary @"$WORK/users.txt" "http://127.0.0.1:$ADMIN_PORT/admin/clusters/STUB/users")
  bound=$(field bound "$(cat "$WORK/import.json")")
  say "$(printf 'bulk import: %d bindings in %.2f s = %.0f/s (target 1 M in < 10 s: %s)' "$bound" "$t" \
    "$(awk -v n="$bound" -v t="$t" 'BEGIN{print n / t}')" \
    "$(awk -v n="$bound" -v t="$t" -v want="$N" 'BEGIN{print (n == want && t < 10 * want / 1000000 ? "met" : "NOT met")}')")"
  stop_gw

  # 3. RSS with N cached usernames, in a gateway restarted after the import.
  start_gw "$1" "$2"
  idle=$(rss VmRSS)
  echo "scale: warming the cache with $N logins ($1)…" >&2
  warm=$("$BIN/load" --url "http://127.0.0.1:$GW_PORT/oauth/token" --basic app:app-secret \
    --body 'grant_type=password&username=user{n}&password=secret' --total "$N" --conns 32 \
    --expect '"code":200' | grep BENCHJSON)
  cached=$(metric ssogate_directory_cached_usernames)
  heap=$(metric go_memstats_heap_inuse_bytes)
  say "$(printf 'warm-up: %d logins at %.0f/s, %d unexpected answers; cached usernames %s' \
    "$(field requests "$warm")" "$(field achieved "$warm")" "$(field unexpected "$warm")" "$cached")"
  say "$(printf 'RSS: idle %s MiB → %s MiB with %s cached usernames (RssAnon %s MiB, RssFile %s MiB; Go heap in use %.1f MiB) (target < 200 MiB: %s)' \
    "$idle" "$(rss VmRSS)" "$cached" "$(rss RssAnon)" "$(rss RssFile)" "$(awk -v h="$heap" 'BEGIN{print h / 1048576}')" \
    "$(awk -v r="$(rss VmRSS)" 'BEGIN{print (r < 200 ? "met" : "NOT met")}')")"
  say "$(printf 'RSS growth per cached username: %.0f B (in-process cache target ≤ 200 B, includes the limiter and allocator slack)' \
    "$(awk -v a="$idle" -v b="$(rss VmRSS)" -v n="$cached" 'BEGIN{ if (n > 0) print (b - a) * 1048576 / n; else print 0 }')")"
  stop_gw

  # 4. Latency with the cache cold: a restarted gateway, each username requested for the
  #    first time, at a fixed rate; then the same usernames again (cached).
  start_gw "$1" "$2"
  secs=10
  for pass in cold warm; do
    line=$("$BIN/load" --url "http://127.0.0.1:$GW_PORT/oauth/token" --basic app:app-secret \
      --body 'grant_type=password&username=user{n}&password=secret' --rate "$COLD_RATE" \
      --duration "${secs}s" --warmup 0s --conns 32 --expect '"code":200' | grep BENCHJSON)
    say "$(printf 'login at %d/s, cache %s: p50 %.0f µs, p99 %.0f µs, p99.9 %.0f µs (%d requests, %d unexpected)' \
      "$COLD_RATE" "$pass" "$(field p50_us "$line")" "$(field p99_us "$line")" "$(field p999_us "$line")" \
      "$(field requests "$line")" "$(field unexpected "$line")")"
    eval "p99_$pass=$(field p99_us "$line")"
  done
  say "$(printf 'p99 added by a cold lookup: %.0f µs' "$(awk -v c="$p99_cold" -v w="$p99_warm" 'BEGIN{print c - w}')")"
  stop_gw
}

if part embedded; then gateway_figures embedded embedded; fi

# 5. Idle keep-alive client connections: a fresh gateway (embedded store, defaults), then
#    IDLE_N connections that each served one login and stay open (bench/cmd/idleconns).
if part idle; then
  IDLE_N=${SCALE_IDLE_N:-10000}
  GW_PORT=$(free_port)
  ADMIN_PORT=$(free_port)
  say ""
  say "## idle keep-alive connections: $IDLE_N, each after one login (embedded store, defaults)"
  start_gw idle embedded
  curl -fs -o /dev/null -X PUT -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$ADMIN_PORT/admin/clusters/STUB/users/idle"
  "$BIN/load" --url "http://127.0.0.1:$GW_PORT/oauth/token" --basic app:app-secret \
    --body 'grant_type=password&username=idle&password=secret' --total 2000 --conns 8 --expect '"code":200' >/dev/null
  line=$("$BIN/idleconns" --addr "127.0.0.1:$GW_PORT" --pid "$GW_PID" --n "$IDLE_N" \
    --metrics "http://127.0.0.1:$ADMIN_PORT/metrics" \
    --body 'grant_type=password&username=idle&password=secret' | grep BENCHJSON)
  echo "$line" >>"$OUT/idleconns.jsonl"
  say "$(printf 'RSS %.1f MiB → %.1f MiB with %d idle connections (%d failed): +%.1f MiB, %.1f KiB each; RssAnon %.1f → %.1f MiB; Go stacks %.1f MiB, heap %.1f MiB in use (target ≤ +100 MiB: %s)' \
    "$(field rss_before_mib "$line")" "$(field rss_after_mib "$line")" "$(field conns "$line")" "$(field failed "$line")" \
    "$(field added_mib "$line")" "$(field per_conn_kib "$line")" "$(field rss_anon_before_mib "$line")" "$(field rss_anon_after_mib "$line")" \
    "$(field go_stack_inuse_mib "$line")" "$(field go_heap_inuse_mib "$line")" \
    "$(awk -v a="$(field added_mib "$line")" -v c="$(field conns "$line")" -v n="$IDLE_N" 'BEGIN{print (a <= 100 && c == n ? "met" : "NOT met")}')")"
  stop_gw
fi
if [ "$REDIS_BUILT" = 1 ] && part redis-gateway; then
  redis-cli -p "$RPORT" flushall >/dev/null
  if gateway_figures redis redis; then :; else say "redis gateway figures failed (see above)"; fi
fi
say ""
say "scale: results in $OUT"
