# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deterministic, capacity-aware guest placement across blades."""

from __future__ import annotations

DOCUMENTATION = r"""
name: place
short_description: Decide which blade runs each guest
version_added: 1.0.0
description:
  - Assigns every guest without a fixed C(blade) to a blade, deterministically. The same inventory always gives the same placement.
  - Capacity-aware. vCPUs are checked against the blade's cores times C(cpu_ratio), memory against its RAM minus C(memory_reserve_mib), and disk
    against its thin pool size times its C(max_overcommit).
  - Guests in the same C(anti_affinity) group go to different blades.
  - Guests that already run somewhere (C(existing)) stay where they are.
  - Fixed and existing guests are placed first, then the rest from largest to smallest, each on the blade with the most free memory.
  - When the guests do not fit, it fails before anything changes, with a table of demand against capacity per blade.
options:
  _input:
    description:
      - The guests, each a dict with C(name), C(vcpus), C(memory_mib), and optionally C(disk_gib), C(blade) and C(anti_affinity).
    type: list
    elements: dict
    required: true
  blades:
    description:
      - Blade capacities by blade name, each a dict with C(cores), C(memory_mib), and optionally C(pool_gib) and C(max_overcommit).
    type: dict
    required: true
  existing:
    description: Where guests run today, as a dict of guest name to blade name.
    type: dict
  cpu_ratio:
    description: How many vCPUs each physical core may carry.
    type: float
    default: 4.0
  memory_reserve_mib:
    description: Memory kept for the host itself on every blade.
    type: int
    default: 2048
"""

EXAMPLES = r"""
- name: Place the inventory's guests
  ansible.builtin.set_fact:
    placement: >-
      {{ cluster_guests | openblade.kvm.place(cluster_blades, existing=running_guests,
         cpu_ratio=4, memory_reserve_mib=2048) }}
"""

RETURN = r"""
_value:
  description: The blade of every guest, as a dict of guest name to blade name.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.openblade.kvm.plugins.plugin_utils.placement import PlacementError, place_guests


def place(guests, blades, existing=None, cpu_ratio=4.0, memory_reserve_mib=2048):
    try:
        return place_guests(guests, blades, existing, cpu_ratio, memory_reserve_mib)
    except PlacementError as exc:
        raise AnsibleFilterError(f"openblade.kvm.place: {exc}") from None


class FilterModule:
    def filters(self):
        return {"place": place}
