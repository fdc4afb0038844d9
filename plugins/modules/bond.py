#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bond
short_description: A bonded uplink that persists (systemd-networkd) and applies safely
version_added: 1.0.0
description:
  - Creates, updates or deletes a Linux bond with its mode, members, link monitoring and MTU.
  - The bond is persisted as systemd-networkd files this module owns; each member gets a C(Bond=) drop-in.
  - A member that is already enslaved to another bond or bridge is refused before anything changes.
  - C(miimon) and C(xmit_hash_policy) change live; a new C(mode) recreates the bond (networkd puts the members and VLANs back).
author: openblade.kvm developers (@openblade)
options:
  name:
    description: The bond's interface name, at most 15 characters.
    type: str
    required: true
  members:
    description: The member interfaces (NICs). Required unless O(state=absent).
    type: list
    elements: str
    default: []
  mode:
    description:
      - V(active-backup) uses one member and fails over to another; it needs nothing from the switch.
      - V(802.3ad) aggregates the members with LACP; the switch ports must form a LACP group.
    type: str
    choices: [active-backup, 802.3ad]
    default: active-backup
  miimon:
    description: How often the members' link state is checked, in milliseconds; V(0) turns link monitoring off.
    type: int
    default: 100
  xmit_hash_policy:
    description: How V(802.3ad) spreads traffic over the members. Unset keeps the kernel default (V(layer2)).
    type: str
    choices: [layer2, layer2+3, layer3+4]
extends_documentation_fragment:
  - openblade.kvm.network.LINK
  - openblade.kvm.network
  - openblade.kvm.attributes
"""

EXAMPLES = r"""
- name: An active-backup trunk of two NICs
  openblade.kvm.bond:
    name: bond0
    members: [eno1, eno2]

- name: LACP towards a switch stack, hashing on layer 3+4
  openblade.kvm.bond:
    name: bond0
    members: [eno1, eno2]
    mode: 802.3ad
    xmit_hash_policy: layer3+4
    mtu: 9000
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["create /etc/systemd/network/05-openblade-bond0.netdev", "reload systemd-networkd (networkctl reload)"]
interfaces:
  description: The managed runtime fields of the bond after the change (null when absent).
  returned: always
  type: dict
  sample: {"bond0": {"kind": "bond", "mode": "active-backup", "miimon": 100, "members": ["eno1", "eno2"]}}
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

from ansible_collections.openblade.kvm.plugins.module_utils._net.links import BondSpec
from ansible_collections.openblade.kvm.plugins.module_utils._net.options import run_network_module


def main():
    run_network_module(
        dict(
            name=dict(type="str", required=True),
            members=dict(type="list", elements="str", default=[]),
            mode=dict(type="str", default="active-backup", choices=["active-backup", "802.3ad"]),
            miimon=dict(type="int", default=100),
            xmit_hash_policy=dict(type="str", choices=["layer2", "layer2+3", "layer3+4"]),
        ),
        specs=lambda p: [BondSpec(
            p["name"], p["members"], p["mode"], p["miimon"], p["xmit_hash_policy"], p["state"], p["mtu"])],
    )


if __name__ == "__main__":
    main()
