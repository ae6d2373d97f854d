#!/usr/bin/env bash
# Runs examples/cluster as three nodes on this machine (127.0.0.1, free ports), waits until
# node a's supervisor has a fetcher running on node b, kills node b (SIGKILL) and waits
# until the fetcher runs on node c; then stops every node with SIGTERM and checks that they
# exit 0. Every wait is bounded (30 s); whatever it started is killed on the way out.
# Usage: examples/cluster.sh PATH/TO/cluster      (CTest runs it as example_cluster)
set -u
program=${1:?usage: cluster.sh PATH/TO/cluster}
logs=$(mktemp -d)
pids=()
trap 'kill -9 "${pids[@]}" 2>/dev/null; rm -rf "$logs"' EXIT

fail() {
  {
    echo "cluster.sh: $*"
    for f in "$logs"/*.log; do echo "--- $f"; cat "$f"; done
  } >&2
  exit 1
}

# wait_for NODE PATTERN: until NODE's log has a line matching PATTERN (grep -E).
wait_for() {
  for _ in $(seq 300); do
    grep -qE -- "$2" "$logs/$1.log" && return 0
    sleep 0.1
  done
  fail "no '$2' in node $1's log within 30 s"
}

# The port a node logged in "Node NAME on 127.0.0.1:PORT".
port_of() {
  wait_for "$1" "Node $1 on 127\.0\.0\.1:[0-9]+"
  sed -nE "s/.*Node $1 on 127\.0\.0\.1:([0-9]+).*/\1/p" "$logs/$1.log" | head -1
}

start() {
  local name=$1
  shift
  "$program" "$@" --node-name="$name" --loglevel=info > /dev/null 2> "$logs/$name.log" &
  pids+=($!)
  echo "started node $name (pid $!)"
}

start b fetchers --node-port=0
start c fetchers --node-port=0
port_b=$(port_of b) || exit 1
port_c=$(port_of c) || exit 1
start a supervisor --node-port=0 --peers="127.0.0.1:$port_b,127.0.0.1:$port_c"
wait_for a "Fetcher running on node b"
wait_for a "Fetcher running on node c"
grep -hE "running on node" "$logs/a.log" | sed 's/^/  a: /'

kill -9 "${pids[0]}"
wait "${pids[0]}" 2>/dev/null
echo "killed node b (SIGKILL)"
wait_for a "Restarting dead Fetcher.*node b was lost"
for _ in $(seq 300); do
  [ "$(grep -c "Fetcher running on node c" "$logs/a.log")" -ge 2 ] && break
  sleep 0.1
done
[ "$(grep -c "Fetcher running on node c" "$logs/a.log")" -ge 2 ] ||
  fail "node a did not restart b's fetcher on c within 30 s"
grep -hE "Restarting dead|running on node c" "$logs/a.log" | tail -n 2 | sed 's/^/  a: /'

status=0
for i in 2 1; do
  kill -TERM "${pids[$i]}"
  for _ in $(seq 300); do
    kill -0 "${pids[$i]}" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "${pids[$i]}" 2>/dev/null && fail "pid ${pids[$i]} still running 30 s after SIGTERM"
  wait "${pids[$i]}"
  rc=$?
  echo "node pid ${pids[$i]} exited $rc"
  [ "$rc" -eq 0 ] || status=1
done
[ "$status" -eq 0 ] || fail "a node did not exit 0"
echo "cluster.sh: ok"
