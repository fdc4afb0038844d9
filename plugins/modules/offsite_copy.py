#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: offsite_copy
short_description: Copy a guest's backup points to an encrypted restic repository off site
version_added: 1.1.0
description:
  - Runs on the backup blade (the O(openblade.kvm.guest_backup#module:target) of M(openblade.kvm.guest_backup)) and copies every verified backup
    point of guest O(guest) kept there, and the point's definition directory (domain XML, seed ISOs, address ledger entries, manifest), into the
    encrypted restic repository O(repository) on an off-site host, over SFTP.
  - Each disk of a point becomes one restic snapshot of the point's whole device (C(restic backup --stdin), file C(/DISK.raw)); the definition
    directory another. Both are tagged C(openblade.kvm), C(ob_guest=GUEST), C(ob_point=LABEL) and C(ob_disk=DISK) (C(definition) for the
    directory); a disk also C(ob_sha256) and C(ob_size).
  - A second run finds the tagged snapshots and copies only what is missing, so it reports no change. Check mode lists exactly the copies a real
    run would make.
  - The sha256 of what was read from the point must equal the digest its backup verified, or the new snapshot is forgotten and the run fails.
  - The repository is created (C(restic init)) when there is none at O(repository).
  - restic reads the whole point, also its unallocated ranges (which read as zeros and cost no upload); its content-defined chunks deduplicate
    what a point shares with the points already copied, so only changed data is sent.
  - With O(retention), the repository keeps its own set of points, chosen by the same rule as
    O(openblade.kvm.guest_backup#module:retention) among the points copied there and those on this blade (by when each point was made,
    its C(ob_created) tag). A point beyond it is not copied, and the snapshots of the points beyond it are forgotten and the data no
    other snapshot uses is pruned (C(restic forget --prune) with their IDs), after the copies; check mode lists those snapshots. Without
    O(retention) nothing is forgotten.
author: openblade.kvm developers (@openblade)
options:
  backup_dir:
    description: The directory of the guests' backed-up definitions on this blade (as in M(openblade.kvm.guest_backup)).
    type: path
    default: /var/lib/openblade/backups
extends_documentation_fragment:
  - openblade.kvm.attributes
  - openblade.kvm.offsite
  - openblade.kvm.retention
requirements:
  - lvm2 here.
seealso:
  - module: openblade.kvm.guest_backup
  - module: openblade.kvm.offsite_check
  - module: openblade.kvm.offsite_restore
"""

EXAMPLES = r"""
- name: Copy web1's backup points off site (on the backup blade)
  openblade.kvm.offsite_copy:
    guest: web1
    repository: sftp:backup@offsite.example.org:/srv/restic/dc1
    password: "{{ vault_offsite_restic_password }}"

- name: The same with the password in a root-only file on the blade
  openblade.kvm.offsite_copy:
    guest: web1
    repository: sftp:backup@offsite.example.org:/srv/restic/dc1
    password_file: /etc/openblade/restic-password
    ssh_identity: /root/.ssh/offsite_ed25519

- name: Keep a longer history off site than on the backup blade
  openblade.kvm.offsite_copy:
    guest: web1
    repository: sftp:backup@offsite.example.org:/srv/restic/dc1
    password: "{{ vault_offsite_restic_password }}"
    retention: {daily: 14, weekly: 8, monthly: 12}
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode.
  returned: always
  type: list
  elements: str
  sample: ["initialize the encrypted restic repository sftp:backup@offsite.example.org:/srv/restic/dc1",
           "copy backup point vg_guests/bk-web1-vda-b1 (web1 vda at b1) to sftp:backup@offsite.example.org:/srv/restic/dc1 and compare the sha256
            of what was read with the point's"]
guest: {description: The guest., returned: success, type: str}
repository: {description: The repository., returned: success, type: str}
copies:
  description: The copies of the guest in the repository, C(LABEL/DISK) and C(LABEL/definition), after the run.
  returned: success
  type: list
  elements: str
  sample: ["b1/definition", "b1/vda"]
pushed:
  description: Per copy made by this run, the restic snapshot ID, the bytes read and the bytes added to the repository (after deduplication).
  returned: when a copy was made
  type: dict
  sample: {"b2/vda": {"snapshot": "4f0c...", "bytes_read": 268435456, "bytes_added": 3211264}}
kept:
  description: The points the retention keeps in the repository, oldest first.
  returned: when O(retention) is given
  type: list
  elements: str
pruned:
  description: The points whose snapshots were forgotten (or would be, in check mode), oldest first.
  returned: when O(retention) is given
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._backup import offsite, retention
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


def main():
    module = AnsibleModule(**offsite.module_kwargs(
        backup_dir={"type": "path", "default": "/var/lib/openblade/backups"}, retention=retention.SPEC))
    run_module(module, lambda module: offsite.OffsiteCopy(Runner(module), module.params))


if __name__ == "__main__":
    main()
