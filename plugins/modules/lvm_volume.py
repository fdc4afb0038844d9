#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lvm_volume
short_description: Thin volumes that grow on request, shrink only with force, and are never removed while in use
version_added: 1.0.0
description:
  - With O(state=present), creates the thin volume O(name) in thin pool O(pool), or grows it to O(size).
  - Shrinking is refused unless O(force) is set, and even then while the volume is open, mounted, has a device stacked on it, or a running libvirt
    domain uses it.
  - With O(state=absent), removes the volume. Removal is refused while any libvirt domain on the host references it, running or not, and the error
    names the domain.
    O(force) overrides only a reference from a domain that is not running;
    a volume that is open, mounted, held by another device or used by a running domain is never removed.
  - Creating or growing a volume that would push the pool past its C(max_overcommit) (see M(openblade.kvm.lvm_thinpool)) is refused unless
    O(allow_overcommit) is set.
  - Manages thin volumes only; it refuses thin pools and other kinds of logical volumes.
    Golden images, clones and snapshots are thin volumes and can be removed with it.
author: openblade.kvm developers (@openblade)
options:
  name:
    description: Name of the thin volume.
    type: str
    required: true
  pool:
    description:
      - The thin pool of the volume. Required to create it.
      - For an existing volume it is checked when given (LVM cannot move a thin volume between pools).
    type: str
  state:
    description: Whether the volume should exist.
    type: str
    choices: [present, absent]
    default: present
  size:
    description:
      - Virtual size of the volume. Required to create it.
      - An existing volume smaller than this is grown; a larger one is shrunk only with O(force).
      - C(N%FREE) is N percent of the pool's unused data space and C(N%VG) N percent of the volume group's size (N from 1 to 100).
        Such a size is resolved once, when the volume is created; an existing volume satisfies it whatever its size, so a re-run never grows or shrinks it.
    type: str
  force:
    description:
      - Allow shrinking the volume (data beyond the new size is lost).
      - Allow removing a volume that a libvirt domain which is not running references (the domain is left with a missing disk).
      - Never overrides a volume that is in use right now.
    type: bool
    default: false
extends_documentation_fragment:
  - openblade.kvm.attributes
  - openblade.kvm.lvm
  - openblade.kvm.lvm.overcommit
seealso:
  - module: openblade.kvm.lvm_thinpool
  - module: openblade.kvm.lvm_clone
"""

EXAMPLES = r"""
- name: A 200 GiB data disk for the database guest
  openblade.kvm.lvm_volume:
    vg: vg_guests
    pool: thinpool
    name: db1-data
    size: 200g

- name: Half of what is left in the pool (decided once, at creation)
  openblade.kvm.lvm_volume:
    vg: vg_guests
    pool: thinpool
    name: scratch
    size: 50%FREE

- name: Remove a volume (refused while a domain, even a stopped one, uses it)
  openblade.kvm.lvm_volume:
    vg: vg_guests
    name: old-disk
    state: absent
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode.
  returned: always
  type: list
  elements: str
  sample: ["extend vg_guests/db1-data from 100 GiB to 200 GiB"]
volume:
  description: The volume after the run (in check mode, as it is now); empty when it does not exist. Sizes are in bytes.
  returned: success
  type: dict
  contains:
    vg: {description: The volume group., type: str, returned: when the volume exists}
    name: {description: The volume name., type: str, returned: when the volume exists}
    path: {description: "The device path, /dev/VG/NAME.", type: str, returned: when the volume exists}
    pool: {description: The thin pool., type: str, returned: when the volume exists}
    size: {description: The virtual size., type: int, returned: when the volume exists}
    origin: {description: "The origin of a thin snapshot, else null.", type: str, returned: when the volume exists}
    active: {description: Whether the volume is active., type: bool, returned: when the volume exists}
    read_only: {description: Whether the volume is read-only., type: bool, returned: when the volume exists}
    tags: {description: The LV tags., type: list, elements: str, returned: when the volume exists}
  sample: {vg: vg_guests, name: db1-data, path: /dev/vg_guests/db1-data, pool: thinpool, size: 214748364800,
           origin: null, active: true, read_only: false, tags: [openblade.kvm]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.volume import ThinVolume
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


def main():
    module = AnsibleModule(
        argument_spec=dict(
            vg=dict(type="str", required=True),
            name=dict(type="str", required=True),
            pool=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            size=dict(type="str"),
            force=dict(type="bool", default=False),
            allow_overcommit=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    run_module(module, lambda m: ThinVolume(Runner(m), m.params))


if __name__ == "__main__":
    main()
