#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lvm_snapshot
short_description: Point-in-time thin snapshots of a guest volume for backups, with retention
version_added: 1.0.0
description:
  - Takes a read-only thin snapshot C(VOLUME-snap-LABEL) of the thin volume O(volume). The same O(label) again is a no-op.
  - With O(retention), keeps the newest O(retention) snapshots of O(volume) and removes older ones.
    Only snapshots this module made (tags C(openblade.kvm), C(ob_snapshot), C(ob_snapshot_of=VOLUME)) are counted and pruned; other snapshots are never touched.
  - A snapshot that is in use (open, mounted, or used by a libvirt domain) is kept beyond the retention, with a warning.
  - With O(state=absent), removes the snapshot with O(label), refusing while it is in use.
  - Snapshots are crash-consistent, like a power cut. For an application-consistent one, freeze the guest's filesystems first (qemu-guest-agent).
author: openblade.kvm developers (@openblade)
options:
  volume:
    description: The thin volume to snapshot, for example a guest disk made by M(openblade.kvm.lvm_clone).
    type: str
    required: true
  label:
    description:
      - Names the snapshot C(VOLUME-snap-LABEL), for example a date or a backup run ID such as C(20240601T0300).
      - "Allowed characters: C(A-Z a-z 0-9 + _ . -)."
      - Required, unless O(state=present) and O(retention) is given, which only prunes.
    type: str
  state:
    description: Whether the snapshot O(label) should exist.
    type: str
    choices: [present, absent]
    default: present
  retention:
    description:
      - Keep this many of the newest snapshots of O(volume) (counting the one this run takes) and remove older ones. Newest means latest C(ob_created) tag.
      - When not given, nothing is pruned.
    type: int
  active:
    description:
      - Activate the snapshot (and clear LVM's activation-skip flag) so a backup can read it, for example with C(mount -o ro,noload) for ext4.
      - By default a snapshot stays inactive, as LVM makes thin snapshots.
    type: bool
    default: false
extends_documentation_fragment:
  - openblade.kvm.attributes
  - openblade.kvm.lvm
seealso:
  - module: openblade.kvm.lvm_clone
"""

EXAMPLES = r"""
- name: Nightly snapshot of web1's disk, keep a week
  openblade.kvm.lvm_snapshot:
    vg: vg_guests
    volume: web1-root
    label: "{{ now(utc=true, fmt='%Y%m%d') }}"
    retention: 7

- name: Snapshot for the weekly tape dump, active so it can be read
  openblade.kvm.lvm_snapshot:
    vg: vg_guests
    volume: fileserver-data
    label: tape-{{ now(utc=true, fmt='%G-W%V') }}
    active: true

- name: Drop the tape snapshot after the dump
  openblade.kvm.lvm_snapshot:
    vg: vg_guests
    volume: fileserver-data
    label: tape-{{ now(utc=true, fmt='%G-W%V') }}
    state: absent
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode.
  returned: always
  type: list
  elements: str
  sample: ["create read-only snapshot vg_guests/web1-root-snap-20240601 of vg_guests/web1-root",
           "remove snapshot vg_guests/web1-root-snap-20240525 (beyond the retention of 7)"]
snapshots:
  description: The snapshots of O(volume) made by this module after the run (in check mode, as they are now), newest first.
  returned: success
  type: list
  elements: dict
  contains:
    name: {description: LV name., type: str, returned: always}
    path: {description: Device path (present while the snapshot is active)., type: str, returned: always}
    created: {description: Creation time in seconds since the epoch (tag C(ob_created))., type: int, returned: always}
    active: {description: Whether the snapshot is active., type: bool, returned: always}
  sample: [{name: web1-root-snap-20240601, path: /dev/vg_guests/web1-root-snap-20240601, created: 1717210800, active: false}]
pruned:
  description: Names of the snapshots removed (or that would be removed in check mode).
  returned: success
  type: list
  elements: str
  sample: [web1-root-snap-20240525]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.snapshot import Snapshots
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


def main():
    module = AnsibleModule(
        argument_spec=dict(
            vg=dict(type="str", required=True),
            volume=dict(type="str", required=True),
            label=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            retention=dict(type="int"),
            active=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    run_module(module, lambda m: Snapshots(Runner(m), m.params))


if __name__ == "__main__":
    main()
