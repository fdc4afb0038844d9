#!/usr/bin/env bash
# galaxy-importer on the tarball of `make build`, as Galaxy runs it on an upload but offline
# (tools/galaxy/galaxy-importer.cfg), in a scratch directory and a clean environment: no
# ANSIBLE_CONFIG or collections path of this repository. Fails on any WARNING or ERROR line.
# Usage: tools/galaxy-check.sh openblade-kvm-X.Y.Z.tar.gz
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$root/.build/galaxy-importer
tarball=$(realpath "$1")
work=$root/.build/galaxy-check
rm -rf "$work"
mkdir -p "$work"
cd "$work"
status=0
env -u ANSIBLE_CONFIG -u ANSIBLE_COLLECTIONS_PATH -u ANSIBLE_STRATEGY -u ANSIBLE_STRATEGY_PLUGINS \
  PATH="$venv/bin:/usr/bin:/bin" HOME="$work" \
  GALAXY_IMPORTER_CONFIG="$root/tools/galaxy/galaxy-importer.cfg" \
  "$venv/bin/python" -m galaxy_importer.main "$tarball" >importer.log 2>&1 || status=$?
findings=$(grep -E '^(WARNING|ERROR|CRITICAL)' importer.log || true)
if [[ $status -ne 0 || -n $findings ]]; then
  cat importer.log >&2
  echo "galaxy-check: galaxy-importer exit $status, $(grep -cE '^(WARNING|ERROR|CRITICAL)' importer.log) findings" >&2
  exit 1
fi
echo "galaxy-check: $(head -1 importer.log), $(grep -c '^Loading ' importer.log) contents loaded, 0 warnings"
