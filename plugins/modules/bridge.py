#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bridge
short_description: A Linux bridge that persists (systemd-networkd) and applies safely
version_added: 1.0.0
description:
  - Creates, updates or deletes a Linux bridge with its STP setting, MTU, ports and host addresses.
  - The bridge is persisted as systemd-networkd files this module owns and applied with C(networkctl); its running state is read with C(ip -j) and C(bridge -j).
  - Ports are the interfaces this module attaches. Other ports, such as the tap devices libvirt adds for guests, are never detached.
  - By default the host holds no address on the bridge, which is what a partition bridge wants (guests reach each other, the host is not in the partition).
author: openblade.kvm developers (@openblade)
options:
  name:
    description: The bridge's interface name, at most 15 characters.
    type: str
    required: true
  ports:
    description:
      - Interfaces to attach, for example a VLAN sub-interface C(bond0.101), a bond or a NIC.
      - An interface already enslaved to another bridge or bond is refused.
      - A port removed from this list is detached; a port that does not exist yet is attached when it appears.
    type: list
    elements: str
    default: []
  stp:
    description: Run the spanning tree protocol. Off by default; with STP a new port forwards only after about 30 seconds.
    type: bool
    default: false
  addresses:
    description:
      - Host addresses on the bridge, with their prefix length (C(10.77.1.1/24)). Exactly these are kept.
      - Empty (the default) means the host holds no address on the bridge.
    type: list
    elements: str
    default: []
  gateway:
    description: A default gateway reached through the bridge (for a bridge that carries the management address).
    type: str
extends_documentation_fragment:
  - openblade.kvm.network.LINK
  - openblade.kvm.network
  - openblade.kvm.attributes
"""

EXAMPLES = r"""
- name: A partition bridge on VLAN 101 of the trunk bond, without a host address
  openblade.kvm.bridge:
    name: br-sales
    ports: [bond0.101]
    mtu: 1500

- name: Move the management address from eno1 onto a bridge (applied with automatic rollback)
  openblade.kvm.bridge:
    name: br-mgmt
    ports: [eno1]
    addresses: [192.0.2.10/24]
    gateway: 192.0.2.1
    rollback_timeout: 60

- name: Remove a bridge and its files
  openblade.kvm.bridge:
    name: br-old
    state: absent
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["create /etc/systemd/network/05-openblade-br-sales.netdev", "reload systemd-networkd (networkctl reload)"]
interfaces:
  description: The managed runtime fields of the bridge after the change (null when absent).
  returned: always
  type: dict
  sample: {"br-sales": {"kind": "bridge", "stp": false, "ports": ["bond0.101"], "addresses": []}}
management:
  description: The management address, the links of the management path, and which of them this change touched (then C(probe) names the probe).
  returned: always
  type: dict
  sample: {"address": "10.0.2.15", "holders": ["mgmt0"], "links": ["mgmt0"], "touched": [], "probe": null}
backup_dir:
  description: Where the previous files of this change were kept.
  returned: when something changed (not in check mode)
  type: str
  sample: /var/lib/openblade-kvm/network-backups/20260101T120000Z-4242
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

from ansible_collections.openblade.kvm.plugins.module_utils._net.links import BridgeSpec
from ansible_collections.openblade.kvm.plugins.module_utils._net.options import run_network_module


def main():
    run_network_module(
        dict(
            name=dict(type="str", required=True),
            ports=dict(type="list", elements="str", default=[]),
            stp=dict(type="bool", default=False),
            addresses=dict(type="list", elements="str", default=[]),
            gateway=dict(type="str"),
        ),
        specs=lambda p: [BridgeSpec(
            p["name"], p["state"], p["mtu"], p["stp"], p["ports"], p["addresses"], p["gateway"])],
    )


if __name__ == "__main__":
    main()
