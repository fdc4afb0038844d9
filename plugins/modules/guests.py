#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: guests
short_description: All KVM guests of one host, reconciled in one call
version_added: 1.0.0
description:
  - Takes the whole desired list of guests for one host and reconciles each of them exactly as
    M(openblade.kvm.guest) does (same options, same classification of changes, same refusals), in one
    module invocation over one libvirt connection.
  - Nothing is changed unless every guest of the list validates and plans cleanly, so one bad entry
    does not leave a host half-applied.
  - The locks of all its guests (the pruned ones included) are taken in name order before anything is read,
    and held to the last action, so two batches naming the same guests take turns and cannot deadlock.
  - With O(prune=true), guests that carry our ownership marker for the same O(cluster) but are no
    longer listed are removed, gracefully and with the same refusals as O(guests[].state=absent).
    Guests without the marker (created by hand or by other tools) are never touched.
author: openblade.kvm developers (@openblade)
options:
  prune:
    description:
      - Remove our guests of this O(cluster) that O(guests) does not list. Their disks are kept.
    type: bool
    default: false
  prune_force:
    description:
      - Like O(guests[].force), for the guests removed by O(prune).
    type: bool
    default: false
  prune_force_stop:
    description:
      - Like O(guests[].force_stop), for the guests removed by O(prune).
    type: bool
    default: false
  prune_shutdown_timeout:
    description:
      - Like O(guests[].shutdown_timeout), for the guests removed by O(prune).
    type: int
    default: 120
extends_documentation_fragment:
  - openblade.kvm.guest.guests
  - openblade.kvm.attributes
requirements:
  - python3-libvirt and python3-lxml on the target host
  - genisoimage on the target host, for O(guests[].cloud_init)
seealso:
  - module: openblade.kvm.guest
  - module: openblade.kvm.guest_info
"""

EXAMPLES = r"""
- name: The guests of this blade, and nothing else of ours
  openblade.kvm.guests:
    cluster: city-dc1
    prune: true
    guests:
      - name: web1
        state: running
        vcpus: 2
        memory: 2048
        disks: [{path: /dev/vg_guests/web1}]
        nics: [{partition: office}]
      - name: db1
        state: running
        vcpus: 4
        memory: 8192
        max_memory: 16384
        disks: [{path: /dev/vg_guests/db1}]
        nics: [{partition: office}, {partition: backup}]
  register: fleet

- name: Which guests wait for a reboot
  ansible.builtin.debug:
    var: fleet.summary.reboot_required
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode, over all guests, in order.
  returned: always
  type: list
  elements: str
guests:
  description: Per guest (by name) what M(openblade.kvm.guest) returns, plus C(changed) and C(actions).
  returned: always
  type: dict
  sample:
    web1:
      changed: true
      actions: ["update the persistent config of web1: memory", "set memory of running web1 to 4096 MiB"]
      changes: [{"field": "memory", "when": "live"}]
      reboot_required: false
      state: running
      uuid: 8e4fd9b4-6b8d-5f6a-9d57-3d1f1b0e4a11
      macs: ["52:54:3a:91:0c:7e"]
summary:
  description: Guest names by outcome. A guest appears in C(unchanged) or in one or more of the others.
  returned: always
  type: dict
  contains:
    created:
      description: Guests that were defined.
      type: list
      elements: str
    updated:
      description: Existing guests whose config, live state or autostart changed.
      type: list
      elements: str
    started:
      description: Guests that were started.
      type: list
      elements: str
    stopped:
      description: Guests that were shut down.
      type: list
      elements: str
    removed:
      description: Guests that were undefined (O(guests[].state=absent) or O(prune)).
      type: list
      elements: str
    unchanged:
      description: Guests with nothing to do.
      type: list
      elements: str
    reboot_required:
      description: Running guests whose config holds changes for their next boot.
      type: list
      elements: str
diff:
  description: The managed fields of every guest (by name) before and after.
  returned: when diff mode is on
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import (
    Hypervisor,
    require_libraries,
)
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.resources import Guests
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.spec import (
    guests_argument_spec,
    names_are_not_secret,
)
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


def main():
    module = AnsibleModule(argument_spec=guests_argument_spec(), supports_check_mode=True)
    require_libraries(module)
    names_are_not_secret(module)
    run_module(module, lambda m: Guests(Hypervisor(m.params["uri"]), Runner(m), m.params))


if __name__ == "__main__":
    main()
