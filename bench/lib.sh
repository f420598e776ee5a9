# bench/lib.sh — what the bench scripts share; sourced after they cd to the repository root.
# Each script sets WORK (its temporary directory) and appends the processes it starts to PIDS;
# stop_procs, called from the script's EXIT trap, stops them and removes WORK.
PIDS=()

stop_procs() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "${WORK:?}"
}

# free_port prints a loopback port nothing listens on.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# wait_http URL waits up to 15 s for URL to answer 2xx.
wait_http() {
  for _ in $(seq 1 300); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.05
  done
  echo "$(basename "$0" .sh): $1 not ready" >&2
  return 1
}
