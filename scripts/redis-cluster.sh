#!/usr/bin/env bash
# Starts or stops a throwaway 3-master Redis Cluster on loopback, for tests.
#
#   scripts/redis-cluster.sh start DIR BASEPORT   masters on BASEPORT..BASEPORT+2 (cluster bus
#                                                 on +10000), data and logs under DIR; returns
#                                                 once cluster_state is ok
#   scripts/redis-cluster.sh stop DIR BASEPORT    stops the servers started with that DIR
#
# Nothing is persisted (--save "" --appendonly no). The servers are stopped by the pid files
# they wrote under DIR, never by name, so other redis-servers on the machine are untouched.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR BASEPORT" >&2; exit 2; }
[ $# -eq 3 ] || usage
cmd=$1 dir=$2 base=$3
case $base in ''|*[!0-9]*) usage ;; esac
ports=("$base" "$((base + 1))" "$((base + 2))")

# wait_for DESCRIPTION SECONDS COMMAND...: retry COMMAND every 0.1 s until it succeeds.
wait_for() {
	local what=$1 secs=$2
	shift 2
	local i
	for ((i = 0; i < secs * 10; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "redis-cluster.sh: timed out after ${secs}s waiting for $what" >&2
	return 1
}

cluster_ok() { redis-cli -h 127.0.0.1 -p "$1" cluster info | grep -q '^cluster_state:ok'; }

start() {
	command -v redis-server >/dev/null || { echo "redis-cluster.sh: redis-server not found on PATH" >&2; exit 1; }
	command -v redis-cli >/dev/null || { echo "redis-cluster.sh: redis-cli not found on PATH" >&2; exit 1; }
	local p
	for p in "${ports[@]}"; do
		mkdir -p "$dir/$p"
		redis-server --port "$p" --bind 127.0.0.1 \
			--cluster-enabled yes --cluster-config-file "$dir/$p/nodes.conf" --cluster-node-timeout 5000 \
			--dir "$dir/$p" --save "" --appendonly no \
			--daemonize yes --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log"
	done
	for p in "${ports[@]}"; do
		wait_for "redis-server on port $p" 10 redis-cli -h 127.0.0.1 -p "$p" ping
	done
	if ! redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes \
		>"$dir/create.log" 2>&1; then
		cat "$dir/create.log" >&2
		exit 1
	fi
	for p in "${ports[@]}"; do
		wait_for "cluster_state:ok on port $p" 30 cluster_ok "$p"
	done
}

stop() {
	local p pid
	for p in "${ports[@]}"; do
		[ -f "$dir/$p/redis.pid" ] || continue
		pid=$(cat "$dir/$p/redis.pid")
		kill "$pid" 2>/dev/null || continue
		wait_for "redis-server $pid to exit" 5 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
	done
}

case $cmd in
start) start ;;
stop) stop ;;
*) usage ;;
esac
