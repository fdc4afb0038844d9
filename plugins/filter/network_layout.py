# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate a network partition description on the controller, before anything connects."""

from __future__ import annotations

DOCUMENTATION = r"""
name: network_layout
short_description: Check network partitions and name their VLANs and bridges
version_added: 1.0.0
description:
  - Validates a list of network partitions the way the M(openblade.kvm.partitions) module does, so a bad inventory fails on the controller before any
    host is touched.
  - Refuses duplicate partition names and VLAN IDs, VLAN IDs outside 1-4094, overlapping subnets (checked with netaddr), and bridge or VLAN interface
    names longer than the kernel's 15 characters.
  - Returns the layout with each partition's C(bridge) and C(vlan_interface) names.
options:
  _input:
    description: The partitions, each a dict with C(name), C(vlan), C(subnet), and optionally C(shared), C(mtu), C(host_address) and C(gateway).
    type: list
    elements: dict
    required: true
  trunk:
    description: The trunk NICs; two or more become a bond.
    type: list
    elements: str
    required: true
  bond_name:
    description: The bond's name when the trunk has two or more NICs.
    type: str
    default: bond0
  bond_mode:
    description: The bond mode.
    type: str
    default: active-backup
  bond_miimon:
    description: The bond's link monitoring interval in milliseconds.
    type: int
    default: 100
  bond_xmit_hash_policy:
    description: The bond's transmit hash policy (802.3ad only).
    type: str
  trunk_mtu:
    description: The bond's MTU; by default the largest partition MTU.
    type: int
  bridge_prefix:
    description: Prefix of the partition bridges' names.
    type: str
    default: br-
  errors:
    description:
      - V(raise) fails the task with the problem (inside Ansible's templating error).
      - V(return) returns a dict whose only key C(errors) lists the message, instead of the layout, so the caller can
        fail with the message alone (the network role does, with M(ansible.builtin.fail)).
    type: str
    choices: [raise, return]
    default: raise
requirements:
  - netaddr on the controller
"""

EXAMPLES = r"""
- name: Check the partitions before anything changes
  ansible.builtin.set_fact:
    layout: "{{ network_partitions | openblade.kvm.network_layout(network_trunk) }}"
"""

RETURN = r"""
_value:
  description:
    - The layout, with C(trunk) (the bond or NIC that carries the VLANs), C(bond) (null for a single NIC) and C(partitions)
      (each with its C(bridge) and C(vlan_interface)).
    - C(libvirt_networks) is the list for M(openblade.kvm.libvirt_networks); C(partition_map) maps each partition name to its entry plus C(network),
      the libvirt network's name.
    - With O(errors=return), a layout that breaks a rule is a dict with only C(errors), the list of its one message.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.openblade.kvm.plugins.module_utils._net.partitions import partition_layout
from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError
from ansible_collections.openblade.kvm.plugins.plugin_utils.inventory import network_message


def network_layout(partitions, trunk, bond_name="bond0", bond_mode="active-backup", bond_miimon=100,
                   bond_xmit_hash_policy=None, trunk_mtu=None, bridge_prefix="br-", errors="raise"):
    try:
        layout = partition_layout(trunk, partitions, bond_name, bond_mode, bond_miimon,
                                  bond_xmit_hash_policy, trunk_mtu, bridge_prefix)
    except ValidationError as exc:
        if errors == "return":
            return {"errors": [network_message(exc)]}  # named as the role's variable
        raise AnsibleFilterError(f"openblade.kvm.network_layout: {exc}") from None
    # Shapes the role hands on as they are: the libvirt_networks module's list, and a map
    # by partition name for the roles that create guests.
    layout["libvirt_networks"] = [{"name": p["name"], "bridge": p["bridge"]} for p in layout["partitions"]]
    layout["partition_map"] = {p["name"]: dict(p, network=p["name"]) for p in layout["partitions"]}
    return layout


class FilterModule:
    def filters(self):
        return {"network_layout": network_layout}
