#!/usr/bin/env bash
# Run commands side by side (each on its own lab blades), then print each one's output
# whole, in order, and fail if any failed.  Usage: tools/lanes.sh 'command' 'command' ...
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
pids=()
for i in $(seq 1 $#); do
  bash -c "${!i}" > "$logs/$i.log" 2>&1 &
  pids+=($!)
done
status=0
for i in $(seq 1 $#); do
  wait "${pids[$((i - 1))]}"; rc=$?
  echo "== lane $i (rc $rc): ${!i}"
  cat "$logs/$i.log"
  ((rc == 0)) || status=1
done
exit $status
