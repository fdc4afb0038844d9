# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster plan filter (logic in plugin_utils/cluster.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: cluster_plan
short_description: Turn the inventory's guests into each blade's disks and domains
version_added: 1.0.0
description:
  - Places every guest on a blade with the same rules as P(openblade.kvm.place#filter), keeping guests that are already defined where they are.
  - Gives each guest an address on every partition it joins, from the partition's subnet
    (from the C(offset)-th host address on, never the C(host_address) or C(gateway)), lowest free address first in name order.
    Addresses are recorded in a ledger that keeps them reserved even after the guest leaves the inventory, so an address never passes to another guest.
  - Writes out each guest as options of M(openblade.kvm.guests) (disk = its thin clone, NICs on its partitions,
    a cloud-init seed with its hostname and addresses, the NICs matched by their derived MACs)
    and each blade's thin clones for M(openblade.kvm.lvm_clones).
  - Pure; it contacts no host. A guest that does not fit, an unknown image or partition, or ledgers that disagree fail here, before anything changes.
requirements:
  - netaddr on the controller
options:
  _input:
    description:
      - The guests (C(cluster_guests) of the cluster role), each with C(name), C(image), and optionally C(blade), C(anti_affinity), C(vcpus),
        C(memory) (MiB), C(disk_size), C(partitions), C(state), C(user_data) and C(domain).
    type: list
    elements: dict
    required: true
  cluster:
    description: The cluster name (derives MACs, scopes the ledger and existing guests).
    type: str
    required: true
  blades:
    description:
      - Each blade's C(blade_capacity) by inventory hostname (C(cores), C(memory_mib), and optionally C(pool_gib) and C(max_overcommit)), as for
        P(openblade.kvm.place#filter).
      - A blade without C(max_overcommit) gets that of its first pool (O(blade_pools), else O(pools)), else 1.
    type: dict
    required: true
  blade_pools:
    description: Each blade's own C(storage_pools) by inventory hostname, for the C(max_overcommit) default; a blade missing here uses O(pools).
    type: dict
  partitions:
    description: The partitions (C(network_partitions)).
    type: list
    elements: dict
    required: true
  golden_images:
    description: The golden images (C(storage_golden_images)); a guest clones the last listed version of its image.
    type: list
    elements: dict
    required: true
  pools:
    description: The storage pools (C(storage_pools)); the first is where images go by default.
    type: list
    elements: dict
    required: true
  domains:
    description: What M(openblade.kvm.guest_info) returned on each blade (its C(guests)), by blade. Our guests of this cluster stay where they are.
    type: dict
  ledgers:
    description: Each blade's copy of the address ledger (null where there is none), by blade.
    type: dict
  cpu_ratio:
    description: vCPUs per physical core.
    type: float
    default: 4.0
  memory_reserve_mib:
    description: Memory kept for each blade's host.
    type: int
    default: 2048
  address_offset:
    description: How many host addresses at the start of every subnet are left to routers and services.
    type: int
    default: 10
  user_data:
    description: cloud-config merged into every guest's user-data (a guest's own C(user_data) wins).
    type: dict
  drain:
    description:
      - Mark this blade drained (C(playbooks/evacuate.yml) sets it). A drained blade receives no new guest; the mark is kept in the
        ledger (C(drained)), so every later plan reads it.
    type: str
  undrain:
    description: Return this blade to service (C(playbooks/return-to-service.yml)); its mark is dropped from the ledger.
    type: str
  migrate:
    description:
      - Which guests already defined on a blade may move (listed in the plan's C(moves)).
      - V(none) moves nothing. A guest defined on one blade but pinned to another is refused, and a drained blade's guests stay where they are.
      - V(drained) moves the guests of drained blades, each to a blade the placement rule picks.
      - V(all) also moves a guest whose C(blade) pin names another blade, to that blade.
      - A guest pinned to a drained blade is refused in every mode. Return that blade to service, or change the pin.
    type: str
    choices: [none, drained, all]
    default: none
  cpu_baseline:
    description:
      - The CPU every guest gets whose C(domain) sets no C(cpu), as the O(openblade.kvm.guest#module:cpu) option (the C(cluster) role's
        C(cluster_cpu_baseline) computes it from every blade with M(openblade.kvm.cluster_info)).
    type: dict
  errors:
    description:
      - V(raise) fails the task with the problem (inside Ansible's templating error).
      - V(return) returns a dict whose only key C(errors) lists the message, instead of the plan, so the caller can fail
        with the message alone (the cluster role does, with M(ansible.builtin.fail)).
    type: str
    choices: [raise, return]
    default: raise
"""

EXAMPLES = r"""
- name: Plan the cluster
  ansible.builtin.set_fact:
    plan: >-
      {{ cluster_guests | openblade.kvm.cluster_plan(cluster='city-dc1', blades=capacities,
           partitions=network_partitions, golden_images=storage_golden_images, pools=storage_pools) }}
  vars:
    # Every blade's blade_capacity from its host_vars, by hostname.
    capacities: "{{ dict(groups['blades'] | zip(groups['blades'] | map('extract', hostvars, 'blade_capacity'))) }}"
"""

RETURN = r"""
_value:
  description:
    - C(placement) (guest to blade), C(ledger) (the merged ledger with new allocations), C(guests_list) (guests with C(host), for the guests role),
      C(clones) (by blade, for M(openblade.kvm.lvm_clones)) and C(table) (the plan as a Markdown table).
    - C(moves) lists the guests to migrate, each with C(guest), C(source), C(destination) and C(mode) (C(live) or C(cold)), by guest name.
      A moving guest is left out of C(guests_list) and C(clones). M(openblade.kvm.guest_migrate) moves it, and the next run manages it there.
    - C(drained) lists the drained blades. The ledger then carries the same list under C(drained).
    - With O(errors=return), a plan that cannot be made is a dict with only C(errors), the list of its one message.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.openblade.kvm.plugins.plugin_utils import ipam
from ansible_collections.openblade.kvm.plugins.plugin_utils.cluster import plan


def cluster_plan(guests, cluster, blades, partitions, golden_images, pools, domains=None, ledgers=None,
                 cpu_ratio=4.0, memory_reserve_mib=2048, address_offset=10, user_data=None, blade_pools=None,
                 drain=None, undrain=None, migrate="none", errors="raise", cpu_baseline=None):
    # Without netaddr the filter still loads (so ansible-doc and galaxy-importer list it),
    # and says what is missing when it is used.
    if not ipam.HAS_NETADDR:
        raise AnsibleFilterError("openblade.kvm.cluster_plan: this filter needs netaddr on the controller "
                                 "(pip install netaddr)")
    try:
        return plan(cluster, guests, blades, partitions, golden_images, pools, domains, ledgers,
                    cpu_ratio, memory_reserve_mib, address_offset, user_data, blade_pools,
                    drain or None, undrain or None, migrate, cpu_baseline or None)
    except ValueError as exc:  # PlanError, PlacementError and the ledger's AddressError
        if errors == "return":
            return {"errors": [str(exc)]}
        raise AnsibleFilterError(f"openblade.kvm.cluster_plan: {exc}") from None


class FilterModule:
    def filters(self):
        return {"cluster_plan": cluster_plan}
