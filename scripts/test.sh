#!/usr/bin/env bash
# Runs every test of ssogate. It first makes sure what the tests need is on the machine:
# a Redis server on 127.0.0.1:6379 (installed from Debian's packages and started when
# missing) and redis-server/redis-cli binaries for the tests that start their own
# (Redis Cluster, Sentinel, outage tests). CI's .ci/run calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "scripts/test.sh: installing redis-server" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y redis-server >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y redis-server >/dev/null; }
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "scripts/test.sh: starting redis-server on 127.0.0.1:6379" >&2
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/ssogate-test-redis.log
  for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

# --- issue 11: the console's browser tests (internal/console) drive Debian's chromium; the
# Chinese pages need a CJK font to render (and to be legible in the screenshots).
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "noto sans cjk"; then
  echo "scripts/test.sh: installing chromium and fonts-noto-cjk" >&2
  export DEBIAN_FRONTEND=noninteractive
  timeout 900 apt-get install -y --no-install-recommends chromium fonts-noto-cjk >/dev/null 2>&1 ||
    { apt-get update >/dev/null && timeout 900 apt-get install -y --no-install-recommends chromium fonts-noto-cjk >/dev/null; }
fi
# --- end issue 11

# Every run uses its own key prefix so that runs never see each other's data.
export SSOGATE_TEST_REDIS="${SSOGATE_TEST_REDIS:-127.0.0.1:6379}"
exec go test -count=1 -timeout 20m "$@" ./...
