# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every command line this package runs, built from named arguments.

Reports ask for explicit fields in JSON with sizes in bytes and no unit suffix, so
parsing never depends on column layout, locale or LVM's rounding of human units.
``--yes`` goes only on commands whose prompts concern the volume we are creating or
removing after our own in-use checks; never on pvcreate, whose prompt protects a
foreign device.  tests/unit/test_lvm_commands.py pins each argv.
"""

from __future__ import annotations

from ansible_collections.openblade.kvm.plugins.module_utils._runner import (
    Command,
    Flag,
    Opt,
)

_REPORT = ("--reportformat", "json", "--units", "b", "--nosuffix")

PV_FIELDS = ("pv_name", "vg_name", "pv_size", "dev_size", "pv_used", "pv_tags")
VG_FIELDS = ("vg_name", "vg_size", "vg_free", "vg_extent_size", "vg_extent_count",
             "vg_free_count", "vg_tags")
# chunk_size and seg_monitor are segment fields: an LV with several segments yields one
# row per segment (report.lvs keeps the first).
LV_FIELDS = ("lv_name", "vg_name", "lv_size", "lv_layout", "pool_lv", "origin", "lv_tags",
             "data_percent", "metadata_percent", "lv_metadata_size", "chunk_size", "lv_profile",
             "lv_active", "lv_device_open", "lv_skip_activation", "lv_permissions",
             "lv_kernel_major", "lv_kernel_minor", "seg_monitor")

PVS = Command("pvs", *_REPORT, options={"fields": Opt("-o")})
VGS = Command("vgs", *_REPORT, options={"fields": Opt("-o")})
LVS = Command("lvs", *_REPORT, options={"fields": Opt("-o")})


def pvs():
    return PVS.argv(fields=",".join(PV_FIELDS))


def vgs():
    return VGS.argv(fields=",".join(VG_FIELDS))


def lvs(vg=None):
    """The report of ``vg``'s LVs, or of every VG's without one."""
    return LVS.argv(fields=",".join(LV_FIELDS), positional=[vg] if vg else [])


# The pool's internal id of each thin volume (thin_dump and thin_delta name volumes by it);
# not a device minor.  A report of its own, so the main one stays as it is.
THIN_FIELDS = ("lv_name", "vg_name", "pool_lv", "thin_id", "lv_size")


def thin_lvs(vg):
    return LVS.argv(fields=",".join(THIN_FIELDS), positional=[vg])


# Listing only (--no-act): which signatures (filesystem, partition table, RAID...) a device holds.
WIPEFS_LIST = Command("wipefs", "--no-act", "--json")
# No --force: wipefs then opens the device exclusively and fails if anything uses it.
WIPEFS_ALL = Command("wipefs", "--all")
PVCREATE = Command("pvcreate")
VGCREATE = Command("vgcreate", options={"addtag": Opt("--addtag")})
VGEXTEND = Command("vgextend")
VGREDUCE = Command("vgreduce")
# No --yes: an empty VG needs no confirmation, and one that is not empty must fail.
VGREMOVE = Command("vgremove")
PVREMOVE = Command("pvremove")

LVCREATE = Command("lvcreate", "--yes", options={
    "type": Opt("--type"),
    "snapshot": Flag("--snapshot"),
    "size": Opt("--size"),
    "extents": Opt("--extents"),
    "virtualsize": Opt("--virtualsize"),
    "thinpool": Opt("--thinpool"),
    "chunksize": Opt("--chunksize"),
    "poolmetadatasize": Opt("--poolmetadatasize"),
    "metadataprofile": Opt("--metadataprofile"),
    "activationskip": Opt("--setactivationskip"),
    "permission": Opt("--permission"),
    "addtag": Opt("--addtag"),
    "name": Opt("--name"),
})
LVEXTEND = Command("lvextend", options={
    "size": Opt("--size"),
    "poolmetadatasize": Opt("--poolmetadatasize"),
})
LVREDUCE = Command("lvreduce", "--yes", options={"size": Opt("--size")})
LVREMOVE = Command("lvremove", "--yes")
LVCHANGE = Command("lvchange", options={
    "deltag": Opt("--deltag"),
    "addtag": Opt("--addtag"),
    "permission": Opt("--permission"),
    "metadataprofile": Opt("--metadataprofile"),
    "activationskip": Opt("--setactivationskip"),
    "activate": Opt("--activate"),
})

# Thin pool metadata (see thinmap.py): messages to the pool's -tpool device, its status line,
# and the thin-provisioning-tools readers, which only ever read the reserved metadata snapshot
# (the live metadata changes under them).
DMSETUP_MESSAGE = Command("dmsetup", "message")
DMSETUP_STATUS = Command("dmsetup", "status")
THIN_DUMP = Command("thin_dump", "--metadata-snap", options={"dev_id": Opt("--dev-id")})
THIN_DELTA = Command("thin_delta", "--metadata-snap", options={
    "snap1": Opt("--snap1"),
    "snap2": Opt("--snap2"),
})

# -f always: probing an untrusted raw image could follow a qcow2 header it fakes.
QEMU_IMG_INFO = Command("qemu-img", "info", "--output=json", options={"format": Opt("-f")})


def qemu_img_convert(src, src_format, target):
    """Copy an image onto a new thin LV, writing only the blocks that hold data.

    -n: the target exists (our LV); --target-is-zero: a new thin LV reads as zeros, so
    zero runs are skipped instead of written (and never provisioned in the pool);
    -W: out-of-order writes, for throughput.  setpriv --pdeathsig: if the module is killed,
    qemu-img dies with it instead of writing on (and holding the LV open, so the next run
    could not remove the interrupted import).
    """
    return ["setpriv", "--pdeathsig", "KILL", "--",
            "qemu-img", "convert", "-f", src_format, "-O", "raw", "-n", "--target-is-zero",
            "-W", src, target]
