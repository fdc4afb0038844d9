# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option docs shared by the bridge, vlan, bond and partitions modules.

DOCUMENTATION is the safe-apply transaction every one of them runs; LINK is what the
single-link modules (bridge, vlan, bond) add.
"""

from __future__ import annotations


class ModuleDocFragment:
    # Ansible sorts merged description lines, so the shared explanation lives in notes.
    DOCUMENTATION = r"""
notes:
  - >-
    The configuration persists as systemd-networkd files that carry an openblade.kvm header,
    under C(/etc/systemd/network): C(05-openblade-<name>.netdev), C(05-openblade-<name>.network),
    and drop-ins C(<file>.network.d/openblade-<role>-<owner>.conf) that attach a port, a bond member or
    a VLAN to its link. Files without the header are never overwritten.
  - >-
    The change is applied with C(networkctl reload), plus direct C(ip link) steps where networkd
    does not change a running device (STP, miimon, a bond mode or VLAN ID that needs the device
    recreated). The module then waits until C(ip -j) and C(bridge -j) show the wanted state.
  - >-
    Every change keeps the previous files under C(/var/lib/openblade-kvm/network-backups) and is
    a transaction: when a step or the verification fails, the previous files are restored and
    re-applied, and the module fails saying so.
  - >-
    The management path is the link holding the management address, the link of the default route,
    and every link below them (bridge ports, bond members, VLAN parents). A change that touches it
    is applied with an automatic rollback. A systemd timer is armed before the change, and the
    module probes after it. If the probe fails within O(rollback_timeout), the previous files are
    restored. If the module itself never finishes (for example its connection was cut), the timer
    restores them O(rollback_timeout) plus 30 seconds after the change began, unless a change that
    began later has committed or is still pending: a timer never restores over a newer change.
  - >-
    A change whose module was killed before it committed or rolled back leaves its backup pending.
    The next network change restores it first (its first action says so, with a warning naming the
    backup and its files), stops its timer, and plans on the restored files. In check mode the
    actions after that restore are planned from the files the killed run left, and can differ.
  - The host-wide lock C(/run/lock/openblade-kvm/network-systemd-networkd.lock) serialises network changes, so two runs never interleave.
options:
  rollback_timeout:
    description:
      - Seconds the change has, after it is applied, to show the wanted state and, on the management path, for the probe to succeed.
    type: int
    default: 60
  probe:
    description:
      - What must answer after a change on the management path. An address (C(10.0.2.2)) is pinged;
        C(address:port) (C([fd00::1]:22) for IPv6) must accept a TCP connection.
      - Addresses only, no host names, because the change being probed may be what breaks name resolution.
      - Defaults to the default gateway. When the host has no default gateway, a change on the management path is refused unless this is set.
    type: str
  allow_management_change:
    description:
      - Allow a change that removes the management address from the host (it is deleted, or its link becomes a port) while nothing in the same change
        takes the address over.
      - Without it such a change is refused before anything runs. Moving the address (for example onto a bridge that lists it in its C(addresses))
        needs no permission, only the rollback.
    type: bool
    default: false
  management_address:
    description:
      - The address the management connection uses.
      - Defaults to the local address of the SSH connection Ansible arrived on (E(SSH_CONNECTION));
        set it when that is not the management address, for example behind a jump host or with a local connection.
    type: str
requirements:
  - systemd-networkd running on the target (Debian 12 has systemd 252)
  - iproute2 (C(ip) and C(bridge) with JSON output)
seealso:
  - name: systemd.network
    description: The .network files this module writes.
    link: https://www.freedesktop.org/software/systemd/man/systemd.network.html
  - name: systemd.netdev
    description: The .netdev files this module writes.
    link: https://www.freedesktop.org/software/systemd/man/systemd.netdev.html
"""

    LINK = r"""
options:
  state:
    description:
      - V(present) creates or updates the device; V(absent) deletes it and removes its files and drop-ins.
      - Only devices defined by an openblade.kvm C(.netdev) are changed or deleted.
    type: str
    choices: [present, absent]
    default: present
  mtu:
    description:
      - The MTU of the device, 68 up to what the kernel allows for it (a VLAN at most its parent's MTU).
      - Unset leaves the kernel's choice (a VLAN inherits its parent's MTU, a bridge follows its ports).
    type: int
"""
