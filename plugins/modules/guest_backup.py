#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: guest_backup
short_description: Back up a guest's disks and definition to another blade, sending only what changed
version_added: 1.1.0
description:
  - Runs on the blade the guest is on and makes backup point O(label) of guest O(name) on blade O(target), which keeps it in its own thin pool.
  - Every writable disk of the guest must be an LVM thin volume. Each gets a read-only thin snapshot C(DISK-bk-LABEL) here. With O(quiesce), the
    guest's filesystems are frozen through the QEMU guest agent for the instant the snapshots take, and always thawed.
    A running guest with several disks and no freeze is paused for that instant instead, so its disks are consistent with each other.
  - "What is sent is read from the thin pool's metadata, never by reading the whole disk: C(thin_delta) between the base (the source snapshot of
    the last verified backup) and the new snapshot. The first backup of a thin clone sends only what differs from its golden image, when the target
    has the same golden image (same name and C(ob_sha256)). Without either (a first backup, or after a migration or a restore), only the allocated
    ranges are sent (C(thin_dump))."
  - "On the target, the point C(bk-GUEST-DISK-LABEL) is a writable thin snapshot of the base's point (or of the golden image, or a new thin volume),
    tagged C(ob_backup_incomplete) while it is written. Every frame carries the sha256 of its data, checked by the receiver, and the whole stream a
    chain of them. Ranges the guest discarded since the base are sent as discards (no data), and discarded on the point. Each 1 MiB block the
    sent ranges touch is read once here and its sha256 sent; after apply the target drops its page cache, reads the same blocks back from the
    point and compares each. Every point keeps a block manifest (one sha256 per MiB, C(DISK.blocks) in its definition directory); the blocks
    no range touched keep the base point's entries (C(thin_delta) guarantees they are the same pool blocks as the base's, which an earlier run
    verified), and the point's digest C(ob_sha256) is the sha256 of its manifest. Without a base manifest (a first backup, a golden image, a
    resized disk, a base made before block manifests) every allocated block is read here (unallocated ones hash as zeros without a read) and
    every block of the point is read there. Only when all compare equal does the point become read-only and C(ob_backup_point) (with
    C(ob_sha256)), and only then does the source snapshot become the new base (C(ob_backup_base)) and the older base go."
  - The guest's definition goes with its disks into O(backup_dir)C(/GUEST/LABEL/) on the target, written into a C(.partial) directory first and
    renamed when complete. It holds C(domain.xml), the cloud-init seed ISOs (read-only disks in O(seed_dir)), C(ledger.json) (the guest's addresses
    in the cluster's address ledger, if this blade's copy has any), C(manifest.json) (disks, sizes, points, digests, consistency) and the
    disks' block manifests.
  - "A run killed at any point leaves nothing marked good and the base where it was: the next run removes what it left (source snapshots still
    C(ob_backup_pending), points still C(ob_backup_incomplete), C(.partial) directories) and makes the backup again. The thin pool's metadata
    snapshot is reserved only while ranges are read and always released; one left by a killed run is found and released under the volume
    group's lock, which every run of this collection takes before reserving one."
  - What changed means for a backup. A new O(label) always makes a new backup point, even when no byte changed (it then sends nothing, and the point
    still counts for retention), like M(openblade.kvm.lvm_snapshot) with a new label. The same O(label) again, once its backup is complete,
    changes nothing except what the retention prunes. Use a date or a run ID as the label.
  - With O(retention), the target's points beyond it are removed with their definitions. Only points this module made for this guest (its
    UUID) are counted, and the newest point, the base of the next backup, is always kept.
  - "What an incremental reads: the MiB blocks its changed ranges touch, once here and once there. Unchanged blocks are not read again, so a
    block that rots on the disk after it was verified is not found by later incrementals; a full backup (a new target, or a restore test)
    reads everything."
author: openblade.kvm developers (@openblade)
options:
  name:
    description: The guest to back up.
    type: str
    required: true
  label:
    description:
      - The backup point's label, for example a date such as C(20240601T0300). A new label makes a new backup point.
      - "Allowed characters: C(A-Z a-z 0-9 + _ . -), at most 40."
    type: str
    required: true
  target:
    description:
      - The backup target blade, as this blade's root reaches it over SSH, normally its address on a backup partition.
      - Root here needs key-based SSH access to root there, with the host key known. Data, checksums and LVM commands all go over that SSH.
    type: str
    required: true
  target_vg:
    description: The volume group on the target. Defaults to the volume group of the guest's first disk.
    type: str
  target_pool:
    description: The thin pool on the target for points made as new volumes. Defaults to the name of the pool of the guest's first disk.
    type: str
  quiesce:
    description:
      - V(try) freezes the guest's filesystems through the QEMU guest agent when the running guest has a connected one, and warns otherwise
        (the backup is then crash-consistent, like a power cut).
      - V(required) fails before any snapshot is taken when a running guest has no connected agent, and when the freeze fails.
      - V(off) never freezes. A shut-off guest is never frozen; nothing writes to its disks.
    type: str
    choices: [try, required, "off"]
    default: try
  quiesce_timeout:
    description:
      - Seconds the guest agent may take to answer the freeze and thaw. If this run dies while the guest is frozen, a watchdog thaws it after
        three times this.
    type: int
    default: 10
  seed_dir:
    description: Read-only disks of the guest in this directory (its cloud-init seeds) are backed up with its definition.
    type: path
    default: /var/lib/libvirt/boot
  ledger_dir:
    description: The directory of this blade's copy of the address ledger (see M(openblade.kvm.cluster_ledger)).
    type: path
    default: /var/lib/openblade/ipam
extends_documentation_fragment:
  - openblade.kvm.attributes
  - openblade.kvm.backup
  - openblade.kvm.retention
notes:
  - Check mode takes no snapshot and sends nothing. It reserves the pool's metadata snapshot for a moment (and releases it) to estimate the bytes
    each disk would send against the live volume (C(estimated_bytes) in RV(disks)).
  - Two runs on one guest never interleave (the guest's lock, the same one M(openblade.kvm.guest) and M(openblade.kvm.guest_migrate) take).
requirements:
  - lvm2, thin-provisioning-tools and python3-libvirt on both blades; ssh here; python3 on the target.
seealso:
  - module: openblade.kvm.guest_restore
  - module: openblade.kvm.lvm_snapshot
"""

EXAMPLES = r"""
- name: Nightly backup of web1 to blade03 over the backup partition
  openblade.kvm.guest_backup:
    name: web1
    label: "{{ now(utc=true, fmt='%Y%m%dT%H%M') }}"
    target: 10.20.30.3
    quiesce: try
    retention: {daily: 7, weekly: 4, monthly: 6}

- name: A database guest is backed up only application-consistent
  openblade.kvm.guest_backup:
    name: crmdb1
    label: "{{ backup_run_id }}"
    target: 10.20.30.3
    quiesce: required
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode.
  returned: always
  type: list
  elements: str
  sample: ["take read-only snapshots vg_guests/web1-root-bk-20240601 of guest web1 (quiesce: try)",
           "send the ranges changed since backup 20240531 of vg_guests/web1-root to vg_guests/bk-web1-vda-20240601 on 10.20.30.3 and compare
            the sha256 of each block read here with the copy's after apply"]
guest: {description: The guest., returned: success, type: str}
label: {description: The backup point's label., returned: success, type: str}
target: {description: The target blade., returned: success, type: str}
backups:
  description: The complete backup points of the guest on the target, oldest first (in check mode, as they are now).
  returned: success
  type: list
  elements: str
consistency:
  description: What the snapshots are, C(application-consistent (N filesystem(s) frozen)), C(crash-consistent) or C(shut off).
  returned: when a backup was made
  type: str
disks:
  description: Per disk target (C(vda)), what was (or would be) sent.
  returned: when a backup was made or planned
  type: dict
  contains:
    volume: {description: The disk's volume., type: str, returned: always}
    snapshot: {description: The source snapshot (the next base)., type: str, returned: always}
    point: {description: The backup point on the target., type: str, returned: always}
    size: {description: The disk's size in bytes., type: int, returned: always}
    base:
      description: The label of the backup the changes are counted from, or null.
      type: str
      returned: always
    golden:
      description: The golden image the changes are counted from (the first backup of a thin clone), or null.
      type: str
      returned: always
    estimated_bytes:
      description: In check mode, the bytes the run would send as of now (against the live volume); null in a real run.
      type: int
      returned: always
    mode: {description: How the ranges were found., type: str, returned: after a real run}
    ranges: {description: How many ranges were sent., type: int, returned: after a real run}
    bytes_read: {description: Bytes read from the snapshot (to be sent and hashed; whole 1 MiB blocks)., type: int, returned: after a real run}
    bytes_sent: {description: Bytes of data sent (discarded ranges send none)., type: int, returned: after a real run}
    bytes_read_target:
      description: Bytes the target read back from the point after apply to compare them.
      type: int
      returned: after a real run
    bytes_discarded: {description: Bytes discarded on the point (ranges the guest discarded since the base)., type: int, returned: after a real run}
    verified:
      description: C(changed blocks) (the blocks the sent ranges touch, the rest from the base's manifest) or C(every block).
      type: str
      returned: after a real run
    sha256:
      description: The verified digest of the snapshot and the point, the sha256 of the point's block manifest (one sha256 per MiB).
      type: str
      returned: after a real run
bytes_read:
  description: Bytes read from the source snapshots, all disks together.
  returned: after a real run that made a backup
  type: int
bytes_sent:
  description: Bytes of disk data sent to the target, all disks together.
  returned: after a real run that made a backup
  type: int
bytes_read_target:
  description: Bytes the target read back to verify, all disks together.
  returned: after a real run that made a backup
  type: int
definition:
  description: Where the definition went, the seeds and the ledger entries backed up with it.
  returned: after a real run that made a backup
  type: dict
pruned:
  description: Labels of the backup points removed (or that would be) by the retention.
  returned: when O(retention) is given
  type: list
  elements: str
kept:
  description: Labels the retention keeps, oldest first.
  returned: when O(retention) is given
  type: list
  elements: str
seconds:
  description:
    - Where the run's time went, in seconds per step as the module timed them on the blade
      (Ansible's own time around the module is not in it).
    - C(observe) (reading both blades), C(snapshot) (quiesce included), per disk C(<disk> ranges)
      (the pool's metadata), C(<disk> point) (the new point on the target), C(<disk> transfer)
      (send, apply, verify) and C(<disk> commit), C(definition), and C(leftovers) and C(retention)
      when they had work.
  returned: success
  type: dict
  sample: {"observe": 2.61, "snapshot": 1.16, "vda ranges": 0.78, "vda point": 1.2, "vda transfer": 2.53,
           "definition": 0.81, "vda commit": 2.18}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._backup import retention
from ansible_collections.openblade.kvm.plugins.module_utils._backup.backup import Backup
from ansible_collections.openblade.kvm.plugins.module_utils._backup.target import connect, remote_spec
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import require_libraries
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module


def argument_spec():
    return dict(
        remote_spec(),
        name={"type": "str", "required": True},
        label={"type": "str", "required": True},
        target={"type": "str", "required": True},
        target_vg={"type": "str"},
        target_pool={"type": "str"},
        quiesce={"type": "str", "choices": ["try", "required", "off"], "default": "try"},
        quiesce_timeout={"type": "int", "default": 10},
        retention=retention.SPEC,
        seed_dir={"type": "path", "default": "/var/lib/libvirt/boot"},
        ledger_dir={"type": "path", "default": "/var/lib/openblade/ipam"},
    )


def build(module):
    runner, target, hv = connect(module, "target")
    return Backup(hv, runner, target, module.params, check_mode=module.check_mode)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    require_libraries(module)
    run_module(module, build)


if __name__ == "__main__":
    main()
