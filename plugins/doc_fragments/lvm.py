# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option docs shared by the LVM modules (lvm_thinpool, lvm_volume, golden_image,
lvm_clone, lvm_snapshot)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  vg:
    description:
      - The LVM volume group.
      - "Allowed characters: C(A-Z a-z 0-9 + _ . -), not starting with C(-)."
    type: str
    required: true
requirements:
  - lvm2 and thin-provisioning-tools on the target host.
notes:
  - Sizes are a number of bytes or a number with a unit C(b), C(k), C(m), C(g), C(t) or C(p) in powers of 1024 (C(10g), C(1.5TiB), C(512M)), as LVM counts.
    They are rounded up to whole extents of the volume group before they are compared, so a re-run with the same size changes nothing.
  - Everything these modules create carries the LV tag C(openblade.kvm), plus C(ob_*) key tags
    (C(ob_golden), C(ob_version=...), C(ob_sha256=...), C(ob_owner=...), C(ob_origin=...), C(ob_snapshot_of=...), C(ob_created=...)).
    Pruning only ever considers volumes with these tags.
  - Two runs never interleave on one volume group; each run holds a lock under C(/run/lock/openblade-kvm) from observing the volume group to its last
    change, and gives up with an error naming the holder after 60 seconds.
  - "Before a volume is removed or shrunk, every libvirt domain on the host is checked, running or not (C(qemu:///system), read-only), and so are the
    kernel's open count, mounts and stacked devices. This needs C(python3-libvirt) on the target."
"""

    OVERCOMMIT = r"""
options:
  allow_overcommit:
    description:
      - Go ahead even when the change pushes the thin pool past the C(max_overcommit) ratio that M(openblade.kvm.lvm_thinpool) set on it;
        a warning says by how much.
      - The ratio is the sum of the virtual sizes of the pool's writable thin volumes divided by the pool's data size.
        Read-only volumes (golden images, backup snapshots) cannot grow their usage and do not count.
    type: bool
    default: false
"""
