#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lvm_info
short_description: The volume groups, thin pools and openblade.kvm volumes of a host
version_added: 1.0.0
description:
  - Lists the host's LVM volume groups, every thin pool in them with data and metadata use and its
    overcommit (the virtual size of its writable thin volumes divided by the pool size) against its
    C(max_overcommit) tag, and the logical volumes that carry the openblade.kvm ownership marker.
  - Overcommit is computed exactly as M(openblade.kvm.lvm_volume) and M(openblade.kvm.lvm_clone)
    compute it when they decide whether a volume still fits; read-only volumes (golden images,
    backup snapshots) do not count.
  - A host with lvm2 but no volume groups returns empty lists. A host without lvm2 fails with a
    message that says so.
author: openblade.kvm developers (@openblade)
options:
  vgs:
    description:
      - Only these volume groups. All volume groups when omitted.
      - A listed volume group that does not exist gives a warning, not a failure.
    type: list
    elements: str
extends_documentation_fragment:
  - openblade.kvm.attributes.info_module
requirements:
  - lvm2 on the target host
seealso:
  - module: openblade.kvm.lvm_thinpool
  - module: openblade.kvm.lvm_volume
  - module: openblade.kvm.lvm_clone
"""

EXAMPLES = r"""
- name: Storage of this blade
  openblade.kvm.lvm_info:
  register: storage

- name: Thin pools above their overcommit limit
  ansible.builtin.debug:
    msg: "{{ item.vg }}/{{ item.name }} is overcommitted {{ item.overcommit }}x"
  loop: "{{ storage.thin_pools | selectattr('max_overcommit') | list }}"
  when: item.overcommit > item.max_overcommit

- name: The guest disks cloned from golden images, in one volume group
  openblade.kvm.lvm_info:
    vgs: [vg_guests]
  register: guests_vg
"""

RETURN = r"""
vgs:
  description: The volume groups, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The volume group's name.
      type: str
    size:
      description: Size in bytes.
      type: int
    free:
      description: Unallocated space in bytes.
      type: int
    managed:
      description: Whether the volume group carries the openblade.kvm ownership tag.
      type: bool
  sample: [{"name": "vg_guests", "size": 107369988096, "free": 2143289344, "managed": true}]
thin_pools:
  description: Every thin pool of the listed volume groups (ours or not), sorted by volume group and name.
  returned: always
  type: list
  elements: dict
  contains:
    vg:
      description: The volume group.
      type: str
    name:
      description: The thin pool's name.
      type: str
    size:
      description: Data size in bytes.
      type: int
    data_percent:
      description: How much of the data space is used, in percent (null while the pool is inactive).
      type: float
    metadata_percent:
      description: How much of the metadata space is used, in percent (null while the pool is inactive).
      type: float
    metadata_size:
      description: Metadata size in bytes.
      type: int
    virtual_size:
      description: Sum of the virtual sizes of the pool's writable thin volumes, in bytes.
      type: int
    overcommit:
      description: C(virtual_size) divided by C(size), rounded to 3 decimals.
      type: float
      sample: 2.375
    max_overcommit:
      description: The limit from the pool's C(ob_max_overcommit) tag, or null when it has none.
      type: float
    managed:
      description: Whether the pool carries the openblade.kvm ownership tag.
      type: bool
volumes:
  description: The logical volumes carrying the openblade.kvm ownership tag (thin pools excluded), sorted by volume group and name.
  returned: always
  type: list
  elements: dict
  contains:
    vg:
      description: The volume group.
      type: str
    name:
      description: The volume's name.
      type: str
    pool:
      description: The thin pool it lives in.
      type: str
    size:
      description: Virtual size in bytes.
      type: int
    kind:
      description: C(golden) (an image from M(openblade.kvm.golden_image)), C(clone) (a guest disk from
        M(openblade.kvm.lvm_clone)), C(snapshot) (from M(openblade.kvm.lvm_snapshot)) or C(volume).
      type: str
    owner:
      description: The guest a clone was made for, from its tag.
      type: str
    origin:
      description: The volume it was cloned or snapshotted from (kept in a tag once LVM forgets it).
      type: str
    image:
      description: The image name of a golden image or of a clone of one.
      type: str
    version:
      description: The image version of a golden image or of a clone of one.
      type: str
    read_only:
      description: Whether the volume is read-only.
      type: bool
    active:
      description: Whether the volume is active.
      type: bool
  sample: [{"vg": "vg_guests", "name": "web1-root", "pool": "thinpool", "size": 21474836480, "kind": "clone",
            "owner": "web1", "origin": "debian-12-20240601", "image": "debian-12", "version": "20240601",
            "read_only": false, "active": true}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.info import LvmInventory
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


def main():
    module = AnsibleModule(argument_spec=dict(vgs=dict(type="list", elements="str")),
                           supports_check_mode=True)
    run_module(module, lambda m: LvmInventory(Runner(m), m.params["vgs"]))


if __name__ == "__main__":
    main()
