#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lvm_thinpool
short_description: A volume group on given disks, and a thin pool in it with an autoextend and overcommit policy
version_added: 1.0.0
description:
  - Creates the volume group O(vg) on the devices in O(pvs), or adds listed devices that are not in it yet.
  - Never removes a device from the volume group unless O(remove_unlisted_pvs) is set, and then only a device that holds no data.
    A device that already holds a filesystem, partition table or other signature is refused unless O(wipe_signatures) is set.
  - Creates the thin pool O(pool) with the given size, chunk size and metadata size, or grows an existing pool to O(size).
    A thin pool cannot shrink in LVM; a pool that is larger than O(size) (for example after it autoextended) is left alone.
  - Writes the autoextend policy into an LVM metadata profile that this module owns
    (C(/etc/lvm/profile/openblade-kvm-VG-POOL.profile), with a header that marks it as managed) and attaches it to the pool.
  - Records O(max_overcommit) as a tag on the pool; M(openblade.kvm.lvm_volume) and M(openblade.kvm.lvm_clone) refuse new volumes past it.
  - Returns the pool's data and metadata use and its overcommit ratio.
  - With O(state=absent), tears down what O(state=present) built.
    The pool is removed only once it holds no thin volume (golden images, clones and snapshots included); otherwise the task fails and names them.
    The module's LVM profile for the pool is removed with it.
    The volume group is removed too when it carries the C(openblade.kvm) tag that this module puts on the volume groups it creates
    and holds no other logical volume;
    then the devices of O(pvs) that were in it stop being physical volumes (C(pvremove)).
    A volume group without the tag, or with other volumes, is kept, with a warning.
    Nothing happens when the volume group does not exist.
author: openblade.kvm developers (@openblade)
options:
  pvs:
    description:
      - Block devices the volume group lives on, for example C(/dev/sdb) or C(/dev/disk/by-id/wwn-...). Symlinks are resolved.
      - Devices that are not physical volumes yet are initialised with C(pvcreate).
      - Required with O(state=present). With O(state=absent), the devices whose physical volume label is removed once the volume group is gone;
        the volume group's other devices stay physical volumes.
    type: list
    elements: path
  remove_unlisted_pvs:
    description:
      - Remove physical volumes that are in the volume group but not in O(pvs).
      - Only unused ones are removed (no extents allocated); a device that holds data is refused with an error, since moving it with C(pvmove) is a
        maintenance task of its own.
      - When false, unlisted devices stay in the volume group and a warning names them.
    type: bool
    default: false
  wipe_signatures:
    description:
      - Erase existing signatures (filesystem, partition table, RAID member...) on listed devices before C(pvcreate).
      - Without it, such a device is refused and the error names what it holds.
    type: bool
    default: false
  pool:
    description: Name of the thin pool logical volume.
    type: str
    required: true
  state:
    description:
      - Whether the pool (and, for C(absent), the volume group the module made for it) should exist.
      - The options that describe the pool (O(size), O(chunk_size), ...) are ignored with C(absent).
    type: str
    choices: [present, absent]
    default: present
  size:
    description:
      - Size of the pool's data. Required to create the pool.
      - An absolute size is a minimum; the pool is grown to it, never shrunk.
      - C(N%VG) or C(N%FREE) (N from 1 to 100) are passed to C(lvcreate --extents) as they are and take effect only when the pool is created;
        an existing pool satisfies them whatever its size, because C(%FREE) changes as soon as the pool exists. Give an absolute size to grow a pool.
    type: str
  chunk_size:
    description:
      - Thin pool chunk size, a multiple of 64 KiB from 64 KiB to 1 GiB. Smaller chunks share more between snapshots, larger ones need less metadata.
      - Set only when the pool is created; an existing pool with a different chunk size is an error, since LVM cannot change it.
      - LVM chooses one when it is not given.
    type: str
  metadata_size:
    description:
      - Size of the pool's metadata, from 2 MiB to 16 GiB. The metadata is grown to it, never shrunk.
      - LVM chooses one when it is not given.
    type: str
  autoextend_threshold:
    description:
      - Grow the pool when its data use passes this percentage (50 to 100; 100 turns autoextend off).
      - Written to the pool's LVM profile; dmeventd must monitor the pool (Debian's lvm2-monitor does).
      - When not given, the pool's profile is left as it is.
    type: int
  autoextend_percent:
    description:
      - Grow the pool by this percentage of its size each time. Needs O(autoextend_threshold).
      - Defaults to 20 (lvm.conf's default) when only O(autoextend_threshold) is given.
    type: int
  max_overcommit:
    description:
      - The largest ratio of the pool's writable thin volumes' virtual sizes to its data size that new volumes may reach, for example C(1)
        (no overcommit) or C(3).
      - Stored as the tag C(ob_max_overcommit) on the pool. When not given, the pool's limit is left as it is.
    type: float
extends_documentation_fragment:
  - openblade.kvm.attributes
  - openblade.kvm.lvm
notes:
  - O(state=absent) never removes a volume. Empty the pool first with M(openblade.kvm.lvm_volume), M(openblade.kvm.lvm_clones) or M(openblade.kvm.lvm_snapshot).
seealso:
  - module: openblade.kvm.lvm_volume
  - module: openblade.kvm.golden_image
"""

EXAMPLES = r"""
- name: Guest storage on the blade's data disk
  openblade.kvm.lvm_thinpool:
    vg: vg_guests
    pvs: [/dev/disk/by-id/virtio-bladedata]
    pool: thinpool
    size: 90%VG
    chunk_size: 256k
    metadata_size: 1g
    autoextend_threshold: 80
    autoextend_percent: 20
    max_overcommit: 3

- name: Add a second LUN and grow the pool to 2 TiB
  openblade.kvm.lvm_thinpool:
    vg: vg_guests
    pvs: [/dev/mapper/lun0, /dev/mapper/lun1]
    pool: thinpool
    size: 2t

- name: Tear down the guest storage (fails while the pool still holds volumes)
  openblade.kvm.lvm_thinpool:
    vg: vg_guests
    pool: thinpool
    pvs: [/dev/disk/by-id/virtio-bladedata]
    state: absent
"""

RETURN = r"""
actions:
  description:
    - What was done, or would be done in check mode.
    - With O(state=absent), for example C(remove thin pool vg_guests/thinpool), C(remove volume group vg_guests) and
      C(remove the LVM physical volume label from /dev/vdb).
  returned: always
  type: list
  elements: str
  sample: ["initialise /dev/vdb as an LVM physical volume", "create volume group vg_guests on /dev/vdb",
           "write LVM profile /etc/lvm/profile/openblade-kvm-vg_guests-thinpool.profile (autoextend by 20% at 80% full)",
           "create thin pool vg_guests/thinpool of 90%VG (chunks of 256 KiB, 1 GiB metadata)"]
thinpool:
  description:
    - The pool after the run (in check mode, as it is now). Sizes are in bytes.
    - Values are null while the pool does not exist (and the volume group's while it does not exist), for example after O(state=absent).
  returned: success
  type: dict
  contains:
    vg: {description: The volume group., type: str, returned: always}
    pool: {description: The pool name., type: str, returned: always}
    exists: {description: Whether the pool exists., type: bool, returned: always}
    pvs: {description: Physical volumes of the volume group., type: list, elements: str, returned: always}
    vg_size: {description: Size of the volume group., type: int, returned: always}
    vg_free: {description: Unallocated space in the volume group., type: int, returned: always}
    size: {description: Data size of the pool., type: int, returned: always}
    data_percent: {description: Percentage of the pool's data in use., type: float, returned: always}
    metadata_percent: {description: Percentage of the pool's metadata in use., type: float, returned: always}
    metadata_size: {description: Size of the pool's metadata., type: int, returned: always}
    chunk_size: {description: Chunk size of the pool., type: int, returned: always}
    virtual_size: {description: Sum of the virtual sizes of the pool's writable thin volumes., type: int, returned: always}
    overcommit: {description: "RV(thinpool.virtual_size) divided by RV(thinpool.size).", type: float, returned: always}
    max_overcommit: {description: "The pool's overcommit limit, null when it has none.", type: float, returned: always}
    profile: {description: The LVM profile attached to the pool., type: str, returned: always}
    autoextend_threshold: {description: Autoextend threshold from our profile., type: int, returned: always}
    autoextend_percent: {description: Autoextend step from our profile., type: int, returned: always}
    monitored: {description: Whether dmeventd monitors the pool (needed for autoextend)., type: bool, returned: always}
  sample:
    vg: vg_guests
    pool: thinpool
    exists: true
    size: 19318964224
    data_percent: 4.52
    metadata_percent: 11.2
    overcommit: 1.25
    max_overcommit: 3.0
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.thinpool import ThinPool
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


def main():
    module = AnsibleModule(
        argument_spec=dict(
            vg=dict(type="str", required=True),
            pvs=dict(type="list", elements="path"),
            remove_unlisted_pvs=dict(type="bool", default=False),
            wipe_signatures=dict(type="bool", default=False),
            pool=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            size=dict(type="str"),
            chunk_size=dict(type="str"),
            metadata_size=dict(type="str"),
            autoextend_threshold=dict(type="int"),
            autoextend_percent=dict(type="int"),
            max_overcommit=dict(type="float"),
        ),
        required_if=[("state", "present", ["pvs"])],
        supports_check_mode=True,
    )
    run_module(module, lambda m: ThinPool(Runner(m), m.params))


if __name__ == "__main__":
    main()
