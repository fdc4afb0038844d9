#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: guest_migrate
short_description: Move one guest to another blade, live or cold, without shared storage, keeping its disks thin
version_added: 1.0.0
description:
  - Runs on the blade the guest is on (the source) and moves guest O(name) to blade O(destination).
    A running guest moves live (its memory and disks are copied while it runs); a stopped guest moves cold.
  - The guest keeps its identity, because libvirt moves its XML as it is, UUID, MACs, addresses, seed and ownership metadata included.
    The cloud-init seed ISO is copied, because libvirt never copies read-only disks.
  - Each writable disk must be an LVM thin volume. The module creates it first on the destination, in the same volume group, with the same
    name, size and tags, in thin pool O(pool).
  - A cold move keeps the destination thin. It sends only the 64 KiB blocks that are not all zero, and compares digests afterwards.
  - A live move copies the disks with QEMU's drive mirror. On Debian 12 the mirror alone fills the destination. QEMU 7.2 writes every byte,
    zeros included. dm-thin on Linux 6.1 has no WRITE_ZEROES, so even C(detect_zeroes=unmap) ends in zero pages that provision pool chunks.
  - So the guest stays paused on the destination after the switch-over (libvirt's C(VIR_MIGRATE_PAUSED)). The source QEMU has exited by then,
    so the source volumes no longer change. The module reads which ranges each source volume has provisioned from its pool's metadata
    (C(thin_dump) on a reserved metadata snapshot, always released). On the destination, one SSH call then discards every other range.
    Those ranges read as zeros on the source, so the destination holds zeros there. The discard changes no byte, and the thin pool drops the chunks.
    Then the guest resumes, also when the discard failed (with a warning). This adds the time of that step to the guest's pause (a few seconds
    on the lab's emulated blades, see the README).
  - The module measures both volumes after the move, returns RV(allocation) and RV(thin), and warns when the destination holds more than one
    pool chunk per GiB above the source.
  - The source volumes are tagged C(ob_migrated=<uuid>) and kept until the guest runs on the destination and answers, through its guest agent if
    it has one, otherwise by its vCPUs consuming time. Then they are removed, and so is the seed ISO on the source.
  - The pre-flight runs in check mode too, and refuses before anything changes. It checks
    memory and vCPUs against the placement rule, and room in the destination pool. A cold move needs room for what the disks hold. A live move
    needs room for their full virtual size, because the mirror writes all of it before the discard. The pool's C(max_overcommit) is checked too.
    It also checks
    the guest's partitions (libvirt networks) and bridges, the CPU (libvirt's hypervisor CPU comparison), the machine type,
    passthrough devices, UEFI NVRAM, and the kernel, initrd and read-only images.
    The error names the guest, the destination and every reason.
  - On a failure or a timeout the job is aborted, and the guest keeps running on the source.
    The destination then keeps nothing this run created (volumes, seed, definition), and the source volumes lose their tag.
  - A second run, with the guest already on the destination, reports no change.
    It only finishes a run that stopped after the move, by removing source volumes still tagged C(ob_migrated).
    If that run stopped while the guest was paused on the destination, it discards and resumes the guest first.
  - Transport. libvirt's control connection is C(qemu+ssh://) to O(destination). The guest's memory and the disk mirror go as plain TCP
    (or TLS with O(tls)) to O(migration_address), the destination's address on a partition reserved for migrations. The destination
    QEMU listens only there. Guest memory is sensitive, so that partition must carry nothing else.
    The destination's LVM commands, the seed copy and a cold move's data go over SSH as root (the same identity libvirt uses).
author: openblade.kvm developers (@openblade)
options:
  name:
    description: The guest to move.
    type: str
    required: true
  destination:
    description:
      - The destination blade as this blade's root reaches it over SSH (host name or address); the control connection.
      - Root on the source needs key-based SSH access to root on the destination, with the host key known.
    type: str
    required: true
  migration_address:
    description:
      - The destination's address on the migration partition. The memory stream, the disk mirror and a cold move's data go there.
    type: str
    required: true
  ssh_user:
    description: The user on the destination.
    type: str
    default: root
  ssh_port:
    description: The SSH port of the destination.
    type: int
  ssh_identity:
    description: The private key this blade uses for the destination (default, root's own keys).
    type: path
  pool:
    description: The thin pool on the destination. Defaults to the name of the source volumes' pool.
    type: str
  bandwidth:
    description: Limit of the migration stream in MiB/s (memory and disks). V(0) means no limit.
    type: int
    default: 0
  max_downtime:
    description: The longest pause, in milliseconds, that QEMU may take to switch over. Unset keeps QEMU's default (300 ms).
    type: int
  auto_converge:
    description: Slow the guest's vCPUs down when its memory changes faster than the stream can carry it.
    type: bool
    default: true
  postcopy_without_rollback:
    description:
      - Switch to post-copy after the second memory pass.
      - After that switch, a failure cannot be rolled back. The guest then runs on the destination with part of its memory still on
        the source, and a lost connection loses the guest. The timeout no longer aborts the job.
      - The guest runs on the destination before the copy ends, so its volumes there are not re-thinned. A trim inside the guest returns the space.
    type: bool
    default: false
  tls:
    description: Encrypt the migration stream with libvirt's migration TLS (the blades need its certificates).
    type: bool
    default: false
  timeout_per_gib:
    description:
      - Seconds allowed per GiB of memory (live only) and allocated disk data, before the job is aborted. The timeout is at least 120 s.
    type: int
    default: 300
  timeout:
    description: A fixed timeout in seconds, instead of O(timeout_per_gib).
    type: int
  verify_timeout:
    description: How long to wait, in seconds, for the guest to answer on the destination before its source volumes are removed.
    type: int
    default: 60
  cpu_ratio:
    description: vCPUs per physical core the destination may carry (the placement rule of the C(cluster) role).
    type: float
    default: 4.0
  memory_reserve_mib:
    description: Memory, in MiB, kept free on the destination for the host itself (the placement rule).
    type: int
    default: 2048
  seed_dir:
    description: Where cloud-init seed ISOs live. A read-only disk there named C(*-cidata.iso) is copied, and other read-only images must exist.
    type: path
    default: /var/lib/libvirt/boot
  force:
    description: Move a guest that does not carry the openblade.kvm ownership marker.
    type: bool
    default: false
  anti_affinity_guests:
    description:
      - The other guests of this guest's anti-affinity group. The move is refused if any of them is defined on the destination, running or not.
      - The C(cluster) role passes the group of the inventory's C(anti_affinity).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - openblade.kvm.guest.info  # the connection option (uri) only
  - openblade.kvm.attributes
requirements:
  - python3-libvirt and python3-lxml on the source blade
  - LVM thin pools on both blades, and SSH from the source's root to the destination
notes:
  - Run it on the source blade, for example with C(delegate_to) the blade the guest runs on.
  - libvirt 9.0 (Debian 12) has no C(--migrate-disks-detect-zeroes) (libvirt 10.9), and that would not help here, see the description.
  - The source blade needs C(thin-provisioning-tools) (C(thin_dump)) and C(dmsetup) for a live move.
    The metadata snapshot is reserved under the volume group's lock of this collection. A snapshot left by a killed run is released first.
seealso:
  - module: openblade.kvm.guest
  - module: openblade.kvm.lvm_volume
"""

EXAMPLES = r"""
- name: Move web1 from blade01 to blade02, live, at most 200 MiB/s
  openblade.kvm.guest_migrate:
    name: web1
    destination: blade02
    migration_address: 10.99.0.12
    bandwidth: 200
    max_downtime: 500
  delegate_to: blade01

- name: Rehearse the move (pre-flight and plan only)
  openblade.kvm.guest_migrate:
    name: web1
    destination: blade02
    migration_address: 10.99.0.12
  check_mode: true
  delegate_to: blade01
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["create thin volume vg_guests/web1 of 20 GiB in thin pool thinpool on blade02", "live-migrate web1 to blade02 over tcp://10.99.0.12"]
guest:
  description: The guest's name.
  returned: always
  type: str
destination:
  description: The destination blade.
  returned: always
  type: str
state:
  description: The guest's state (it is the same after the move).
  returned: always
  type: str
mode:
  description: C(live) or C(cold).
  returned: when the guest was (or would be) moved
  type: str
disks:
  description: The thin volumes that move.
  returned: when the guest was (or would be) moved
  type: list
  elements: str
seeds:
  description: The seed ISOs copied.
  returned: when the guest was (or would be) moved
  type: list
  elements: str
source_allocated:
  description: Bytes of pool data the moving volumes held on the source before the move.
  returned: when the guest was (or would be) moved
  type: int
timeout:
  description: Seconds after which the job is aborted.
  returned: when the guest was (or would be) moved
  type: int
job:
  description:
    - The finished live job. C(seconds) is measured by the module. C(time_elapsed) and C(downtime) (ms), C(memory_total), C(disk_total) and
      C(data_total) (bytes) are libvirt's figures, when it kept them.
  returned: after a live move
  type: dict
allocation:
  description:
    - Per moved volume, the bytes of pool data it holds on the C(source) and the C(destination), its C(virtual) size, and C(thin).
    - C(thin) means the destination holds at most one pool chunk per GiB more than the source.
  returned: after a move
  type: dict
thin:
  description: Whether every moved volume is thin by that rule.
  returned: after a move
  type: bool
sent:
  description: Bytes of each volume that a cold move sent (the blocks that are not all zero).
  returned: after a cold move
  type: dict
discarded:
  description: Per moved volume, the bytes discarded on the destination after a live move (the ranges the source never provisioned).
  returned: after a live move that re-thinned its volumes
  type: dict
  sample: {"vg_guests/web1": 19327352832}
paused_seconds:
  description: How long the guest stayed paused on the destination for the re-thin, from the end of libvirt's job to the resume.
  returned: after a live move
  type: float
answered_by:
  description: How the guest answered on the destination, C(guest agent) or C(vCPU time).
  returned: after a live move
  type: str
refusals:
  description: Every reason the pre-flight refused the move.
  returned: on a refusal
  type: list
  elements: str
rolled_back:
  description: What this run had created on the destination and removed again after a failure.
  returned: on a failure during the move
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import (
    DEFAULT_URI,
    Hypervisor,
    require_libraries,
)
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.migrate import Migration
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.remote import SshRunner, libvirt_uri
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


def argument_spec():
    return {
        "uri": {"type": "str", "default": DEFAULT_URI},
        "name": {"type": "str", "required": True},
        "destination": {"type": "str", "required": True},
        "migration_address": {"type": "str", "required": True},
        "ssh_user": {"type": "str", "default": "root"},
        "ssh_port": {"type": "int"},
        "ssh_identity": {"type": "path"},
        "pool": {"type": "str"},
        "bandwidth": {"type": "int", "default": 0},
        "max_downtime": {"type": "int"},
        "auto_converge": {"type": "bool", "default": True},
        "postcopy_without_rollback": {"type": "bool", "default": False},
        "tls": {"type": "bool", "default": False},
        "timeout_per_gib": {"type": "int", "default": 300},
        "timeout": {"type": "int"},
        "verify_timeout": {"type": "int", "default": 60},
        "cpu_ratio": {"type": "float", "default": 4.0},
        "memory_reserve_mib": {"type": "int", "default": 2048},
        "seed_dir": {"type": "path", "default": "/var/lib/libvirt/boot"},
        "force": {"type": "bool", "default": False},
        "anti_affinity_guests": {"type": "list", "elements": "str", "default": []},
    }


def build(module):
    params = module.params
    runner = Runner(module)
    ssh = (params["ssh_user"], params["ssh_port"], params["ssh_identity"])
    remote = SshRunner(runner, params["destination"], *ssh)
    dest = Hypervisor(libvirt_uri(params["destination"], *ssh))
    return Migration(Hypervisor(params["uri"]), dest, runner, remote, params)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    require_libraries(module)
    run_module(module, build)


if __name__ == "__main__":
    main()
