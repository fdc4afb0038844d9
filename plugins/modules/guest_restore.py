#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: guest_restore
short_description: Restore a guest's disks from a backup point kept on another blade
version_added: 1.1.0
description:
  - Runs on the blade that receives the disks and restores the disks of guest O(name) from backup point O(label) that
    M(openblade.kvm.guest_backup) made on blade O(source).
  - By default each disk becomes a new thin volume C(VOLUME-restored-LABEL) (or the name in O(volumes)); the guest and its own disks are not touched.
  - With O(overwrite_disks), the guest's own disk volumes are overwritten in place instead. This is refused unless the guest is defined on this
    blade and shut off, and each volume exists, is not open and has the backup's size.
  - The backup blade reads the whole point and sends its blocks that are not all zero, each frame with a checksum. The restored volume's sha256
    must equal both the point's and the digest recorded (and verified) when the backup was made.
  - A volume being written is tagged C(ob_restoring); a run killed midway leaves it so, and the next run removes it and restores again. A restored
    volume is tagged C(ob_restored=LABEL) and C(ob_sha256), so a second run changes nothing.
  - Only a verified backup point is restored; every disk's point on O(source) must be marked good (C(ob_backup_point)).
  - With O(define), the guest itself comes back onto this blade (disaster recovery, see C(playbooks/recover-blade.yml)); its disks into volumes
    of their own names, its seed ISOs into O(seed_dir), its address ledger entries into this blade's copy of the ledger, and its domain with the
    backup's UUID, MACs and ownership marker; then it is started with O(start).
  - O(define) is refused while a guest of that name or UUID is defined on this blade (other than the one an earlier run of this restore
    defined), on O(source), or on any of O(peers), and when the ledger here gives the guest, or its address, to another; never two copies of a
    guest.
  - With O(as_guest), a copy is defined instead, under that name, with a UUID of its own, no network interface, and its serial console in
    C(/var/log/libvirt/qemu/AS_GUEST.serial); its disks are C(AS_GUEST-vda)... and its seeds C(AS_GUEST-SEED). It is marked for the
    pseudo-cluster C(restore-copy), so no cluster plan counts it. C(playbooks/restore-test.yml) boots such a copy.
author: openblade.kvm developers (@openblade)
options:
  name:
    description: The guest whose backup is restored.
    type: str
    required: true
  label:
    description: The backup point to restore. Defaults to the newest complete one.
    type: str
  source:
    description: The blade that keeps the backups (the O(openblade.kvm.guest_backup#module:target) of the backup), as this blade's root reaches it over SSH.
    type: str
    required: true
  disks:
    description: The disks (targets such as C(vda)) to restore. Defaults to every disk of the backup.
    type: list
    elements: str
  vg:
    description: The volume group here. Defaults to the disk's volume group at backup time.
    type: str
  pool:
    description: The thin pool for new volumes. Defaults to the disk's pool at backup time.
    type: str
  volumes:
    description: The names of the new volumes, per disk (C(vda) -> name). Defaults to C(VOLUME-restored-LABEL).
    type: dict
  overwrite_disks:
    description:
      - Overwrite the guest's own disk volumes in place with the backup. Everything written to them since is lost.
      - Refused unless the guest is defined on this blade and shut off.
    type: bool
    default: false
  define:
    description:
      - Bring the guest's definition back too, and define the guest on this blade (see the description). Every disk is restored, into a volume
        of the disk's own name unless O(volumes) names another.
      - Once the guest is defined here, its disks are its own; a later run restores nothing and only starts it with O(start).
    type: bool
    default: false
  as_guest:
    description:
      - Define an isolated copy of the guest under this name instead (implies O(define)); see the description.
    type: str
  start:
    description: Start the guest defined by O(define) or O(as_guest) when it does not run.
    type: bool
    default: false
  peers:
    description:
      - Other blades (as this blade's root reaches them over SSH, with O(ssh_user) and the other SSH options) that must not have a guest of that
        name or UUID for O(define). O(source) is always looked at.
    type: list
    elements: str
    default: []
  seed_dir:
    description: Where the seed ISOs are written for O(define).
    type: path
    default: /var/lib/libvirt/boot
  ledger_dir:
    description: The directory of this blade's copy of the cluster's address ledger, for O(define).
    type: path
    default: /var/lib/openblade/ipam
extends_documentation_fragment:
  - openblade.kvm.attributes
  - openblade.kvm.backup
requirements:
  - lvm2, util-linux (blkdiscard) and python3-libvirt here; python3 on O(source).
seealso:
  - module: openblade.kvm.guest_backup
"""

EXAMPLES = r"""
- name: Restore web1's disks from last night's backup next to its own, to look into them
  openblade.kvm.guest_restore:
    name: web1
    label: 20240601T0300
    source: 10.20.30.3

- name: Roll web1 back to a backup (it must be shut off)
  openblade.kvm.guest_restore:
    name: web1
    label: 20240601T0300
    source: 10.20.30.3
    overwrite_disks: true

- name: Bring web1 back on this blade after its blade was lost (that blade is powered off)
  openblade.kvm.guest_restore:
    name: web1
    source: 10.20.30.3
    define: true
    start: true
    peers: [10.20.30.2, 10.20.30.4]

- name: Boot an isolated copy of web1's latest backup, to see that it comes up
  openblade.kvm.guest_restore:
    name: web1
    source: 10.20.30.3
    as_guest: rt-web1
    start: true
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode.
  returned: always
  type: list
  elements: str
  sample: ["create thin volume vg_guests/web1-root-restored-20240601 of 20 GiB in thin pool pool0",
           "copy backup point vg_guests/bk-web1-vda-20240601 of 10.20.30.3 into vg_guests/web1-root-restored-20240601 and compare its sha256
            with the backup's"]
guest: {description: The guest., returned: success, type: str}
label: {description: The backup point restored., returned: success, type: str}
source: {description: The blade the backup came from., returned: success, type: str}
volumes:
  description: Per disk, the volume restored into.
  returned: success
  type: dict
disks:
  description: Per disk restored by this run, its volume, verified C(sha256) and C(bytes_sent).
  returned: when a disk was restored
  type: dict
defined:
  description: The guest defined by O(define) or O(as_guest); its C(name), C(uuid), C(seeds) (their paths here) and, for a copy, C(serial_log).
  returned: with define or as_guest
  type: dict
  sample: {name: rt-web1, uuid: 3c1f9b7e-0d5e-5f4c-9a2b-6d7e8f901234, seeds: [/var/lib/libvirt/boot/rt-web1-web1-cidata.iso],
           serial_log: /var/log/libvirt/qemu/rt-web1.serial}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._backup.restore import Restore, peer_runners
from ansible_collections.openblade.kvm.plugins.module_utils._backup.target import (
    BackupSsh,
    connect,
    remote_spec,
)
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import require_libraries
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module


def argument_spec():
    return dict(
        remote_spec(),
        name={"type": "str", "required": True},
        label={"type": "str"},
        source={"type": "str", "required": True},
        disks={"type": "list", "elements": "str"},
        vg={"type": "str"},
        pool={"type": "str"},
        volumes={"type": "dict"},
        overwrite_disks={"type": "bool", "default": False},
        define={"type": "bool", "default": False},
        as_guest={"type": "str"},
        start={"type": "bool", "default": False},
        peers={"type": "list", "elements": "str", "default": []},
        seed_dir={"type": "path", "default": "/var/lib/libvirt/boot"},
        ledger_dir={"type": "path", "default": "/var/lib/openblade/ipam"},
    )


def build(module):
    runner, source, hv = connect(module, "source")
    return Restore(hv, runner, source, module.params, peers=peer_runners(runner, module.params, BackupSsh))


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    require_libraries(module)
    run_module(module, build)


if __name__ == "__main__":
    main()
