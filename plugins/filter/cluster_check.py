# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan play's check of the whole inventory (logic in plugin_utils/inventory.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: cluster_check
short_description: Every problem of a cluster inventory, before any blade is touched
version_added: 1.0.0
description:
  - Checks the whole inventory on the controller, the way the later plays of C(playbooks/site.yml) would, and
    returns every problem as one message naming the field, the value and the rule (an empty list when there is none).
  - "For every blade: the network and storage roles' variables against those roles' own argument specs (types,
    required keys, choices), then the partitions (VLAN IDs 1-4094, subnets that do not overlap, MTUs, names that
    fit the kernel's 15 characters) with the rules of M(openblade.kvm.partitions), the thin pools with those of
    M(openblade.kvm.lvm_thinpool) and the golden images with those of M(openblade.kvm.golden_image)."
  - "For the cluster: its name and every guest: unknown keys, a name that is a valid libvirt domain name, LV name
    and hostname (one DNS label: at most 63 characters of a-z, 0-9 and '-', not starting or ending with '-'),
    a known image, partitions and blade, positive vCPUs and memory, and a disk size."
  - A problem that only some blades have is prefixed with their names.
  - Returns the problems rather than failing, so the caller fails with them alone (the cluster role does, with
    M(ansible.builtin.fail)), not wrapped in Ansible's templating error.
requirements:
  - netaddr on the controller
options:
  _input:
    description: The guests (C(cluster_guests)).
    type: list
    elements: dict
    required: true
  cluster:
    description: The cluster's name (C(cluster_name)).
    type: str
    required: true
  blades:
    description:
      - Each blade's variables by inventory hostname (its C(hostvars)), that is C(blade_capacity) and the network and
        storage roles' variables (C(network_*), C(storage_*)); the roles' defaults fill in what a blade does not set.
    type: dict
    required: true
  partitions:
    description: The partitions the guests join (C(network_partitions)).
    type: list
    elements: dict
    required: true
  golden_images:
    description: The golden images the guests clone (C(storage_golden_images)).
    type: list
    elements: dict
    required: true
  pools:
    description: The storage pools (C(storage_pools)); images without a C(vg) go to the first.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the whole inventory
  ansible.builtin.set_fact:
    problems: >-
      {{ cluster_guests | openblade.kvm.cluster_check(cluster=cluster_name,
           blades=dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars))),
           partitions=network_partitions, golden_images=storage_golden_images, pools=storage_pools) }}
  run_once: true

- name: Refuse a bad inventory
  ansible.builtin.fail:
    msg: "{{ problems | join('\n') }}"
  when: problems | length > 0
  run_once: true
"""

RETURN = r"""
_value:
  description: >-
    The problems, one message each, for example
    C(network_partitions[0].vlan: 0 is not a valid VLAN ID (allowed: integers 1-4094; ...)); empty when there is none.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.openblade.kvm.plugins.plugin_utils import inventory, ipam
from ansible_collections.openblade.kvm.plugins.plugin_utils.cluster import inventory_problems


def cluster_check(guests, cluster, blades, partitions, golden_images, pools):
    """Every problem of the inventory as a list of messages (empty when it is good).

    Returned as data, not raised: the role fails with them itself, so the user reads
    them without Ansible's templating wrapper around one of them.
    """
    if not ipam.HAS_NETADDR:
        raise AnsibleFilterError("openblade.kvm.cluster_check: this filter needs netaddr on the controller "
                                 "(pip install netaddr)")
    blades_vars = {name: _plain(values) for name, values in blades.items()}
    capacities = {name: values.get("blade_capacity") for name, values in blades_vars.items()}
    return inventory.cluster_errors(
        blades_vars, inventory_problems(cluster, guests, capacities, partitions, golden_images, pools))


def _plain(values):
    """The variables the check reads, out of a blade's hostvars (templated on access)."""
    names = {"blade_capacity"} | {name for role in inventory.CHECKED for name in inventory.role_spec(role)}
    return {name: values[name] for name in names if name in values}


class FilterModule:
    def filters(self):
        return {"cluster_check": cluster_check}
