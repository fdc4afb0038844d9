#!/usr/bin/env bash
# Run test tiers in order, time each one, and always print the table at the end.
# Usage: tools/tiers.sh tier [tier...]   (tiers are Makefile targets)
# FINALLY=target runs that target at the end whatever happened (e.g. lab-down).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
declare -a rows=()
status=0
# report and finish run from the EXIT trap, which shellcheck does not follow.
# shellcheck disable=SC2317
report() {
  echo
  echo "== test tiers =="
  printf '%-18s %8s  %s\n' tier seconds result
  local row cols
  for row in "${rows[@]}"; do
    read -r -a cols <<< "$row"
    printf '%-18s %8s  %s\n' "${cols[@]}"
  done
}
# shellcheck disable=SC2317
finish() {
  [[ -n "${FINALLY:-}" ]] && make --no-print-directory "$FINALLY"
  report
}
trap finish EXIT
for tier in "$@"; do
  start=$(date +%s)
  echo "== tier $tier =="
  if make --no-print-directory "$tier"; then result=passed; else result=FAILED; status=1; fi
  rows+=("$tier $(( $(date +%s) - start )) $result")
  [[ $result == passed ]] || break
done
exit $status
