#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: offsite_restore
short_description: Restore a guest's disks from the off-site restic repository onto new volumes
version_added: 1.1.0
description:
  - Restores the disks of guest O(guest) at backup point O(label), as M(openblade.kvm.offsite_copy) copied them into O(repository), onto new
    thin volumes in O(vg)/O(pool) on this blade (any blade with LVM and restic, for example when the backup blade is lost too).
  - Each disk is read from the repository with C(restic dump) and written to a new volume C(GUEST-DISK-offsite-LABEL) (or the name in
    O(volumes)); blocks of zeros are not written, so the volume stays thin. Its sha256 must equal the digest recorded when the backup was made.
  - A volume being written is tagged C(ob_offsite_restoring); a run killed midway leaves it so, and the next run removes it and restores again.
    A restored volume is tagged C(ob_offsite_restored=LABEL) and C(ob_sha256), so a second run changes nothing. Any other volume of that name is
    never replaced.
  - As a restore test, compare RV(restored) digests with the points' and remove the volumes afterwards.
author: openblade.kvm developers (@openblade)
options:
  label:
    description: The backup point to restore. Defaults to the newest in the repository.
    type: str
  vg:
    description: The volume group here.
    type: str
    required: true
  pool:
    description: The thin pool in O(vg) for the new volumes.
    type: str
    required: true
  volumes:
    description: The names of the new volumes, per disk (C(vda) -> name). Defaults to C(GUEST-DISK-offsite-LABEL).
    type: dict
extends_documentation_fragment:
  - openblade.kvm.attributes
  - openblade.kvm.offsite
seealso:
  - module: openblade.kvm.offsite_copy
  - module: openblade.kvm.guest_restore
"""

EXAMPLES = r"""
- name: Restore web1's point 20240601T0300 from off site onto new volumes
  openblade.kvm.offsite_restore:
    guest: web1
    label: 20240601T0300
    repository: sftp:backup@offsite.example.org:/srv/restic/dc1
    password: "{{ vault_offsite_restic_password }}"
    vg: vg_guests
    pool: pool0
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode.
  returned: always
  type: list
  elements: str
guest: {description: The guest., returned: success, type: str}
label: {description: The backup point restored., returned: success, type: str}
repository: {description: The repository., returned: success, type: str}
volumes:
  description: Per disk, the volume restored into.
  returned: success
  type: dict
  sample: {"vda": "vg_guests/web1-vda-offsite-20240601T0300"}
restored:
  description: Per disk restored by this run, its volume, its verified C(sha256) and the restic snapshot it came from.
  returned: when a disk was restored
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._backup import offsite
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


def main():
    module = AnsibleModule(**offsite.module_kwargs(
        label={"type": "str"}, vg={"type": "str", "required": True},
        pool={"type": "str", "required": True}, volumes={"type": "dict"}))
    run_module(module, lambda module: offsite.OffsiteRestore(Runner(module), module.params))


if __name__ == "__main__":
    main()
