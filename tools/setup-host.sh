#!/usr/bin/env bash
# Install what the controller, the host-integration tier and the lab need on a Debian 12
# machine (as root), then build the Python venv from the pinned requirements.
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # the lab: image builder, blades, trunk segment
  debootstrap qemu-system-x86 qemu-utils vde2 e2fsprogs openssh-client
  # host-integration tier: a real libvirtd with TCG guests, bridges, seed ISOs
  libvirt-daemon-system libvirt-clients dnsmasq-base iproute2 bridge-utils genisoimage
  busybox-static cpio
  # ansible-test sanity's shellcheck test
  shellcheck
  # the report test renders the HTML report of a real run headless (screenshot, DOM,
  # console errors): the browser people open the report in, not an HTML parser
  chromium
  # building libvirt-python into the venv
  libvirt-dev pkg-config gcc python3-dev python3-venv make git
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: $PYTHON is older than 3.11; set PYTHON=python3.11" >&2
  exit 1
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-test.txt constraints.txt | sha256sum | cut -d' ' -f1)
if [[ ! -x .venv/bin/python || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "setup: building .venv from requirements-test.txt"
  "$PYTHON" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-test.txt -c constraints.txt
  echo "$want" > "$stamp"
fi

# Ansible finds the working tree as the openblade.kvm collection through this link.
mkdir -p .build/collections/ansible_collections/openblade
ln -sfn "$PWD" .build/collections/ansible_collections/openblade/kvm
# ansible.cfg and the Molecule scenarios find Mitogen's strategy plugins through this link,
# so they need no Python version in a path.
ln -sfn "$(.venv/bin/python -c 'import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))')/plugins/strategy" \
  .build/mitogen
