# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An LVM host for the unit tier: the JSON that pvs/vgs/lvs/wipefs print for a given
state, as a FakeRunner table, plus a check-mode-then-real-run driver."""

from __future__ import annotations

from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.inuse import Domains
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import reconcile
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner

MIB = 1024 ** 2
GIB = 1024 ** 3
EXTENT = 4 * MIB
VG = "obt_vg"


def report(kind, rows):
    return {"report": [{kind: list(rows)}]}


def pv(name, vg=VG, size=20 * GIB, used=0):
    return {"pv_name": name, "vg_name": vg or "", "pv_size": str(size), "dev_size": str(size),
            "pv_used": str(used), "pv_tags": ""}


def vg(name=VG, size=20 * GIB, free=10 * GIB, tags="openblade.kvm"):
    return {"vg_name": name, "vg_size": str(size), "vg_free": str(free),
            "vg_extent_size": str(EXTENT), "vg_extent_count": str(size // EXTENT),
            "vg_free_count": str(free // EXTENT), "vg_tags": tags}


def lv(name, size=GIB, layout="thin,sparse", pool="thinpool", origin="", tags=(), data=None,
       meta=None, metadata_size=None, chunk=None, profile="", active=True, is_open=False,
       skip=False, read_only=False, kernel=None, monitored=False, vg_name=VG):
    major, minor = kernel or ((253, 10) if active else (-1, -1))
    return {
        "lv_name": name, "vg_name": vg_name, "lv_size": str(size), "lv_layout": layout,
        "pool_lv": pool if layout == "thin,sparse" else "", "origin": origin,
        "lv_tags": ",".join(sorted(tags)), "data_percent": "" if data is None else f"{data:.2f}",
        "metadata_percent": "" if meta is None else f"{meta:.2f}",
        "lv_metadata_size": "" if metadata_size is None else str(metadata_size),
        "chunk_size": str(chunk or 0), "lv_profile": profile,
        "lv_active": "active" if active else "", "lv_device_open": "open" if is_open else "",
        "lv_skip_activation": "skip activation" if skip else "",
        "lv_permissions": "read-only" if read_only else "writeable",
        "lv_kernel_major": str(major), "lv_kernel_minor": str(minor),
        "seg_monitor": "monitored" if monitored else "",
    }


def pool(name="thinpool", size=10 * GIB, data=5.0, tags=("openblade.kvm",), **kwargs):
    kwargs.setdefault("metadata_size", 16 * MIB)
    kwargs.setdefault("chunk", 64 * 1024)
    kwargs.setdefault("monitored", True)
    return lv(name, size=size, layout="thin,pool", tags=tags, data=data, meta=10.0, **kwargs)


def host(pvs=(), vgs=(), lvs=(), signatures=None, extra=None):
    """A FakeRunner table for this state; ``extra`` adds argv -> answer entries."""
    table = {
        tuple(commands.pvs()): (0, report("pv", pvs), ""),
        tuple(commands.vgs()): (0, report("vg", vgs), ""),
    }
    for row in vgs:
        mine = [entry for entry in lvs if entry["vg_name"] == row["vg_name"]]
        table[tuple(commands.lvs(row["vg_name"]))] = (0, report("lv", mine), "")
    table[tuple(commands.lvs())] = (0, report("lv", list(lvs)), "")
    for device, found in (signatures or {}).items():
        table[("wipefs", "--no-act", "--json", device)] = (
            0, {"signatures": [{"device": device, "type": kind} for kind in found]}, "")
    table.update({tuple(argv): answer for argv, answer in (extra or {}).items()})
    return table


class StaticDomains(Domains):
    """libvirt domains without libvirt: [(name, running, {disk source paths})]."""

    def __init__(self, domains=()):
        super().__init__()
        self._cache = list(domains)


def observations(table):
    """The argvs that only read (everything in the table that is not a mutation)."""
    return set(table)


def check_then_apply(build, table, mutations):
    """Run ``build(runner)`` in check mode, then for real, as the harness does on a blade.

    ``mutations`` lists the argvs the real run must execute, in order; check mode must
    run none of them and plan the same actions.  Returns (check result, real result).
    """
    runner = FakeRunner({**table, **{tuple(argv): (0, "", "") for argv in mutations}})
    reads = observations(table)
    checked = reconcile(build(runner), check_mode=True, diff_mode=True)
    assert set(runner.calls) <= reads, f"check mode ran {set(runner.calls) - reads}"
    runner.calls.clear()
    real = reconcile(build(runner), diff_mode=True)
    assert (checked["changed"], checked["actions"]) == (real["changed"], real["actions"])
    assert [call for call in runner.calls if call not in reads] == [tuple(m) for m in mutations]
    return checked, real
