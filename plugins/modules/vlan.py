#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vlan
short_description: An 802.1Q VLAN sub-interface that persists (systemd-networkd) and applies safely
version_added: 1.0.0
description:
  - Creates, updates or deletes a VLAN sub-interface of a parent link (a NIC, a bond or a bridge).
  - The VLAN is persisted as systemd-networkd files this module owns; its C(VLAN=) line is a drop-in of the parent's C(.network) file, so the parent
    keeps its own settings (and addresses).
  - A change of VLAN ID or parent recreates the sub-interface; networkd puts it back into its bridge.
author: openblade.kvm developers (@openblade)
options:
  parent:
    description: The link that carries the tagged frames, for example C(bond0) or C(eno1).
    type: str
    required: true
  vlan_id:
    description: The 802.1Q VLAN ID, 1 to 4094.
    type: int
    required: true
  name:
    description:
      - The sub-interface name, at most 15 characters.
      - Defaults to C(<parent>.<vlan_id>), which must then fit in 15 characters too.
    type: str
extends_documentation_fragment:
  - openblade.kvm.network.LINK
  - openblade.kvm.network
  - openblade.kvm.attributes
"""

EXAMPLES = r"""
- name: VLAN 101 on the trunk bond (bond0.101)
  openblade.kvm.vlan:
    parent: bond0
    vlan_id: 101

- name: A named VLAN with a jumbo MTU (the parent's MTU must be at least as large)
  openblade.kvm.vlan:
    parent: bond0
    vlan_id: 200
    name: storage200
    mtu: 9000
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["create /etc/systemd/network/05-openblade-bond0.101.netdev", "reload systemd-networkd (networkctl reload)"]
interfaces:
  description: The managed runtime fields of the VLAN after the change (null when absent).
  returned: always
  type: dict
  sample: {"bond0.101": {"kind": "vlan", "vlan_id": 101, "parent": "bond0"}}
management:
  description: The management address, the links of the management path, and which of them this change touched (then C(probe) names the probe).
  returned: always
  type: dict
backup_dir:
  description: Where the previous files of this change were kept.
  returned: when something changed (not in check mode)
  type: str
rolled_back:
  description: True when the change failed and the previous files were restored and re-applied.
  returned: on failure after a change began
  type: bool
rollback_log:
  description: What the restore did, line by line.
  returned: on failure after a change began
  type: list
  elements: str
"""

from ansible_collections.openblade.kvm.plugins.module_utils._net.links import VlanSpec
from ansible_collections.openblade.kvm.plugins.module_utils._net.options import run_network_module


def main():
    run_network_module(
        dict(
            parent=dict(type="str", required=True),
            vlan_id=dict(type="int", required=True),
            name=dict(type="str"),
        ),
        specs=lambda p: [VlanSpec(p["parent"], p["vlan_id"], p["name"], p["state"], p["mtu"])],
    )


if __name__ == "__main__":
    main()
