#!/usr/bin/env bash
# ansible-test sanity on the working tree, with nothing fetched from outside the package
# registries. Usage: tools/sanity.sh [ansible-test sanity options, e.g. --test pep8]
#
# - ansible-test wants the collection at .../ansible_collections/openblade/kvm and takes its
#   file list from git: the tree (tracked and untracked, not ignored files) is copied to
#   .build/sanity/ansible_collections/openblade/kvm, a git repository of its own there.
#   A symlink does not do: ansible-test resolves the working directory.
# - Each sanity test runs in a virtual environment that ansible-test builds itself (even
#   with --local), from its own pinned requirement files (ansible_test/_data/requirements/
#   sanity.*.txt, shipped in the ansible-core release that constraints.txt pins), cached by
#   a hash of them under ~/.ansible/test/venv. Those environments start without pip, and
#   ansible-test would download a get-pip script from a host outside the registries to
#   bootstrap it. tools/sanity/get_pip.py stands in for that script: ensurepip, then pip
#   from PyPI. It is put where ansible-test keeps its cached copy.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
python=${root}/.venv/bin/python
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

pip_version=$("$python" -c '
from types import SimpleNamespace
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(SimpleNamespace(version="'"$pyver"'"))["pip"])')
cache=~/.ansible/test/cache/get_pip_${pip_version//./_}.py
marker="Stand-in for ansible-test's get-pip bootstrap script"
if [[ ! -f $cache ]] || grep -q "$marker" "$cache"; then
  mkdir -p "$(dirname "$cache")"
  cmp -s tools/sanity/get_pip.py "$cache" || cp tools/sanity/get_pip.py "$cache"
fi

dest=.build/sanity/ansible_collections/openblade/kvm
rm -rf "$dest"
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$dest"
git -C "$dest" init -q

cd "$dest"
exec "$root/.venv/bin/ansible-test" sanity --local --python "$pyver" --color no "$@"
