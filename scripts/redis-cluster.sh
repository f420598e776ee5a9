#!/usr/bin/env bash
# Starts or stops a throwaway 3-master Redis Cluster on loopback, for tests.
#
#   scripts/redis-cluster.sh start DIR BASEPORT [REPLICAS]
#                                  masters on BASEPORT..BASEPORT+2, REPLICAS (default 0)
#                                  replicas per master on the next ports (with 1: replicas on
#                                  BASEPORT+3..BASEPORT+5), cluster bus on +10000, data and
#                                  logs under DIR (DIR/PORT/redis.pid is each server's pid);
#                                  returns once cluster_state is ok and every replica is in
#                                  sync with its master
#   scripts/redis-cluster.sh stop DIR BASEPORT [REPLICAS]
#                                  stops the servers started with that DIR
#
# REDIS_CLUSTER_NODE_TIMEOUT (milliseconds, default 5000) is cluster-node-timeout: how soon a
# dead master is failed over to its replica. Failover tests set it low to stay fast.
#
# Nothing is persisted (--save "" --appendonly no). The servers are stopped by the pid files
# they wrote under DIR, never by name, so other redis-servers on the machine are untouched.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR BASEPORT" >&2; exit 2; }
[ $# -eq 3 ] || [ $# -eq 4 ] || usage
cmd=$1 dir=$2 base=$3 replicas=${4:-0}
case $base in ''|*[!0-9]*) usage ;; esac
case $replicas in ''|*[!0-9]*) usage ;; esac
node_timeout=${REDIS_CLUSTER_NODE_TIMEOUT:-5000}
case $node_timeout in ''|*[!0-9]*) usage ;; esac
ports=()
for ((i = 0; i < 3 * (1 + replicas); i++)); do ports+=("$((base + i))"); done

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
# in_sync PORT: a master, or a replica whose link to its master is up and synced.
in_sync() {
	local info
	info=$(redis-cli -h 127.0.0.1 -p "$1" info replication) || return 1
	grep -q '^role:master' <<<"$info" && return 0
	grep -q '^master_link_status:up' <<<"$info" && ! grep -q '^master_sync_in_progress:1' <<<"$info"
}

start() {
	command -v redis-server >/dev/null || { echo "redis-cluster.sh: redis-server not found on PATH" >&2; exit 1; }
	command -v redis-cli >/dev/null || { echo "redis-cluster.sh: redis-cli not found on PATH" >&2; exit 1; }
	local p
	for p in "${ports[@]}"; do
		mkdir -p "$dir/$p"
		redis-server --port "$p" --bind 127.0.0.1 \
			--cluster-enabled yes --cluster-config-file "$dir/$p/nodes.conf" --cluster-node-timeout "$node_timeout" \
			--dir "$dir/$p" --save "" --appendonly no \
			--daemonize yes --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log"
	done
	for p in "${ports[@]}"; do
		wait_for "redis-server on port $p" 10 redis-cli -h 127.0.0.1 -p "$p" ping
	done
	if ! redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas "$replicas" --cluster-yes \
		>"$dir/create.log" 2>&1; then
		cat "$dir/create.log" >&2
		exit 1
	fi
	for p in "${ports[@]}"; do
		wait_for "cluster_state:ok on port $p" 30 cluster_ok "$p"
	done
	for p in "${ports[@]}"; do
		wait_for "port $p in sync with its master" 30 in_sync "$p"
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
