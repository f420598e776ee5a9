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

# Deploy checks (deploy/*_test.go):
# podman builds the container image, systemd-analyze verifies the unit, dpkg-deb reads the
# .deb; helm and nfpm are built from the Go module proxy into a cache once (scripts/tools.sh).
need_apt=()
command -v podman >/dev/null 2>&1 || need_apt+=(podman)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
command -v dpkg-deb >/dev/null 2>&1 || need_apt+=(dpkg)
command -v chroot >/dev/null 2>&1 || need_apt+=(coreutils)
command -v make >/dev/null 2>&1 || need_apt+=(make)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # A failed install leaves the deploy tests to fail on the missing tool; the rest still runs.
  timeout 900 apt-get install -y "${need_apt[@]}" >/dev/null 2>&1 ||
    { timeout 300 apt-get update >/dev/null && timeout 900 apt-get install -y "${need_apt[@]}" >/dev/null; } ||
    echo "scripts/test.sh: could not install ${need_apt[*]}" >&2
fi
if tools_bin="$(scripts/tools.sh helm nfpm)"; then
  export PATH="$tools_bin:$PATH"
else
  echo "scripts/test.sh: could not build helm/nfpm; the deploy tests will fail" >&2
fi
# promtool (Debian's prometheus package) for deploy/prometheus's rule tests.
if ! command -v promtool >/dev/null 2>&1; then
  echo "scripts/test.sh: installing prometheus (for promtool)" >&2
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1 || \
    { timeout 300 apt-get update >/dev/null && timeout 600 apt-get install -y --no-install-recommends prometheus >/dev/null; } || \
    echo "scripts/test.sh: could not install prometheus; the promtool tests will fail" >&2
  # The package starts a Prometheus server; the tests need only promtool.
  { systemctl stop prometheus || service prometheus stop; } >/dev/null 2>&1 || true
fi
# The console's browser tests (internal/console) drive Debian's chromium; the
# Chinese pages need a CJK font to render (and to be legible in the screenshots).
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "noto sans cjk"; then
  echo "scripts/test.sh: installing chromium and fonts-noto-cjk" >&2
  export DEBIAN_FRONTEND=noninteractive
  timeout 900 apt-get install -y --no-install-recommends chromium fonts-noto-cjk >/dev/null 2>&1 ||
    { apt-get update >/dev/null && timeout 900 apt-get install -y --no-install-recommends chromium fonts-noto-cjk >/dev/null; }
fi

# Every run uses its own key prefix so that runs never see each other's data.
export SSOGATE_TEST_REDIS="${SSOGATE_TEST_REDIS:-127.0.0.1:6379}"
exec go test -count=1 -timeout 20m "$@" ./...
