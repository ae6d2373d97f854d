#!/usr/bin/env bash
# Runs an example that runs until it is stopped: waits (at most 30 s) until its stderr
# shows WAIT_FOR, sends SIGINT, and checks that it exits 0 within 30 s with every line
# of EXPECT (one regex per line) found in its stderr, in order. Kills it on any failure.
# Usage: run_until_signal.sh PROGRAM WAIT_FOR EXPECT_FILE
set -u
program=$1 wait_for=$2 expect=$3
err=$(mktemp)
trap 'kill -9 "$pid" 2>/dev/null; rm -f "$err"' EXIT
"$program" > /dev/null 2> "$err" &
pid=$!
for _ in $(seq 300); do
  grep -q -- "$wait_for" "$err" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q -- "$wait_for" "$err"; then
  echo "$program: no '$wait_for' within 30 s; stderr:"; cat "$err"; exit 1
fi
kill -INT "$pid"
for _ in $(seq 300); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  echo "$program: still running 30 s after SIGINT; stderr:"; cat "$err"; exit 1
fi
wait "$pid"
rc=$?
if [ "$rc" -ne 0 ]; then
  echo "$program: exit $rc after SIGINT; stderr:"; cat "$err"; exit 1
fi
# Each expected pattern must match a line after the previous match.
line=0
while IFS= read -r pattern; do
  found=$(tail -n "+$((line + 1))" "$err" | grep -n -m1 -E -- "$pattern" | cut -d: -f1)
  if [ -z "$found" ]; then
    echo "$program: no line matching '$pattern' (in order); stderr:"; cat "$err"; exit 1
  fi
  line=$((line + found))
done < "$expect"
