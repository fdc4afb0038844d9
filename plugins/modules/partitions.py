#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: partitions
short_description: A host's network partitions (trunk, VLANs, bridges) in one safe transaction
version_added: 1.0.0
description:
  - Builds isolated layer-2 partitions from one description. Each partition is a VLAN on the trunk and a bridge named O(bridge_prefix) plus the
    partition name on that VLAN.
  - The trunk is one NIC, or a bond when O(trunk) lists two or more.
  - The host holds no address on a partition unless its C(host_address) asks for one.
  - Everything is reconciled in one transaction with the same files, checks and rollback as M(openblade.kvm.bridge), M(openblade.kvm.vlan) and
    M(openblade.kvm.bond), with one C(networkctl reload) for the whole change.
  - The description is validated before anything runs. Duplicate names or VLAN IDs, overlapping subnets and names longer than 15 characters are refused.
  - The libvirt networks that let guests attach by partition name are M(openblade.kvm.libvirt_networks); the C(network) role runs both.
author: openblade.kvm developers (@openblade)
options:
  trunk:
    description: The NICs that carry the partitions' tagged frames. Two or more become a bond.
    type: list
    elements: str
    required: true
  partitions:
    description: The partitions.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The partition's name. It names the bridge (with O(bridge_prefix)) and the libvirt network.
        type: str
        required: true
      vlan:
        description: The partition's VLAN ID, 1 to 4094, unique among the partitions.
        type: int
        required: true
      subnet:
        description: The partition's IP network, for example C(10.77.1.0/24). Subnets must not overlap.
        type: str
        required: true
      shared:
        description:
          - A partition of shared services (mail, authentication) that guests of every other partition get a NIC on.
          - At layer 2 it is a partition like the others; it is reached through its own VLAN, never by joining partitions.
        type: bool
        default: false
      mtu:
        description: The MTU of the partition's VLAN and bridge.
        type: int
      host_address:
        description: An address for the host on the partition's bridge, within O(partitions[].subnet). By default the host holds none.
        type: str
      gateway:
        description:
          - The partition's router, an address within O(partitions[].subnet). The host does not use it;
            the cluster role gives it to guests as their default route.
        type: str
  bond_name:
    description: The bond's name when O(trunk) lists two or more NICs.
    type: str
    default: bond0
  bond_mode:
    description: The bond mode. V(802.3ad) needs a LACP group on the switch.
    type: str
    choices: [active-backup, 802.3ad]
    default: active-backup
  bond_miimon:
    description: Link monitoring interval of the bond in milliseconds.
    type: int
    default: 100
  bond_xmit_hash_policy:
    description: How V(802.3ad) spreads traffic over the members.
    type: str
    choices: [layer2, layer2+3, layer3+4]
  trunk_mtu:
    description:
      - The MTU of the bond. Defaults to the largest partition MTU.
      - Only with a bond; a single trunk NIC keeps its own MTU.
    type: int
  bridge_prefix:
    description: Prefix of the partition bridges' names. The prefix and the name together must fit in 15 characters.
    type: str
    default: br-
  prune:
    description:
      - Remove the bridges, VLANs and bond that an earlier run of this module created and that the description no longer has.
      - Only devices whose files name this module in their header are removed.
    type: bool
    default: false
extends_documentation_fragment:
  - openblade.kvm.network
  - openblade.kvm.attributes
"""

EXAMPLES = r"""
- name: Three partitions on a bonded trunk, one of them shared
  openblade.kvm.partitions:
    trunk: [eno1, eno2]
    partitions:
      - {name: shared, vlan: 100, subnet: 10.77.0.0/24, shared: true}
      - {name: sales, vlan: 101, subnet: 10.77.1.0/24}
      - {name: hr, vlan: 102, subnet: 10.77.2.0/24}
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode, in order.
  returned: always
  type: list
  elements: str
partitions:
  description: The validated layout, with each partition's C(bridge) and C(vlan_interface) names.
  returned: always
  type: dict
  sample:
    trunk: bond0
    bond: {name: bond0, members: [eno1, eno2], mode: active-backup, miimon: 100, xmit_hash_policy: null, mtu: null}
    partitions:
      - {name: sales, vlan: 101, subnet: 10.77.1.0/24, shared: false, mtu: null, host_address: null,
         gateway: null, bridge: br-sales, vlan_interface: bond0.101}
interfaces:
  description: The managed runtime fields of every bond, VLAN and bridge after the change (null when removed).
  returned: always
  type: dict
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

from ansible_collections.openblade.kvm.plugins.module_utils._net.options import run_network_module
from ansible_collections.openblade.kvm.plugins.module_utils._net.partitions import Partitions


def main():
    run_network_module(
        dict(
            trunk=dict(type="list", elements="str", required=True),
            partitions=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                vlan=dict(type="int", required=True),
                subnet=dict(type="str", required=True),
                shared=dict(type="bool", default=False),
                mtu=dict(type="int"),
                host_address=dict(type="str"),
                gateway=dict(type="str"),
            )),
            bond_name=dict(type="str", default="bond0"),
            bond_mode=dict(type="str", default="active-backup", choices=["active-backup", "802.3ad"]),
            bond_miimon=dict(type="int", default=100),
            bond_xmit_hash_policy=dict(type="str", choices=["layer2", "layer2+3", "layer3+4"]),
            trunk_mtu=dict(type="int"),
            bridge_prefix=dict(type="str", default="br-"),
            prune=dict(type="bool", default=False),
        ),
        resource=Partitions,
        link_options=False,
    )


if __name__ == "__main__":
    main()
