# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read PVs, VGs and LVs from LVM's JSON reports into plain records."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands
from ansible_collections.openblade.kvm.plugins.module_utils._runner import CommandError


def _int(text):
    return int(text) if text not in ("", None) else None


def _float(text):
    return float(text) if text not in ("", None) else None


def _tags(text):
    return tuple(tag for tag in (text or "").split(",") if tag)


def dm_name(vg, lv):
    """The device-mapper name: '-' inside each name is doubled, then joined with '-'."""
    return vg.replace("-", "--") + "-" + lv.replace("-", "--")


@dataclass(frozen=True)
class PV:
    name: str
    vg: str | None
    size: int
    dev_size: int
    used: int
    tags: tuple


@dataclass(frozen=True)
class VG:
    name: str
    size: int
    free: int
    extent_size: int
    extent_count: int
    free_count: int
    tags: tuple


@dataclass(frozen=True)
class LV:
    vg: str
    name: str
    size: int
    layout: tuple
    pool: str | None
    origin: str | None
    tags: tuple
    data_percent: float | None
    metadata_percent: float | None
    metadata_size: int | None
    chunk_size: int | None
    profile: str | None
    active: bool
    open: bool
    skip_activation: bool
    read_only: bool
    kernel: tuple | None  # (major, minor) while active
    monitored: bool

    @property
    def full_name(self):
        return f"{self.vg}/{self.name}"

    @property
    def path(self):
        return f"/dev/{self.vg}/{self.name}"

    @property
    def is_thin_pool(self):
        return self.layout == ("thin", "pool")

    @property
    def is_thin(self):
        return self.layout == ("thin", "sparse")

    @classmethod
    def from_report(cls, row):
        major, minor = _int(row["lv_kernel_major"]), _int(row["lv_kernel_minor"])
        return cls(
            vg=row["vg_name"],
            name=row["lv_name"],
            size=int(row["lv_size"]),
            layout=tuple(row["lv_layout"].split(",")),
            pool=row["pool_lv"] or None,
            origin=row["origin"] or None,
            tags=_tags(row["lv_tags"]),
            data_percent=_float(row["data_percent"]),
            metadata_percent=_float(row["metadata_percent"]),
            metadata_size=_int(row["lv_metadata_size"]),
            chunk_size=_int(row["chunk_size"]) or None,
            profile=row["lv_profile"] or None,
            active=row["lv_active"] == "active",
            # "unknown" for inactive LVs: nothing can hold a device that does not exist.
            open=row["lv_device_open"] == "open",
            skip_activation=bool(row["lv_skip_activation"]),
            read_only=row["lv_permissions"].startswith("read-only"),
            kernel=(major, minor) if major is not None and major >= 0 else None,
            monitored=row["seg_monitor"] == "monitored",
        )


def _rows(answer, kind):
    try:
        return [row for report in answer["report"] for row in report.get(kind, [])]
    except (KeyError, TypeError):
        raise CommandError([kind + "s"], 0, problem=f"printed a report without {kind!r} rows") from None


class Lvm:
    """Observation through LVM's reports; ``run`` for the argv lists of commands.py."""

    def __init__(self, runner):
        self.runner = runner

    def run(self, argv):
        return self.runner.run(argv)

    def pvs(self):
        """Every PV, by the real path of its device."""
        found = {}
        for row in _rows(self.runner.json(commands.pvs()), "pv"):
            name = os.path.realpath(row["pv_name"])
            found[name] = PV(name, row["vg_name"] or None, int(row["pv_size"]), int(row["dev_size"]),
                             int(row["pv_used"]), _tags(row["pv_tags"]))
        return found

    def vgs(self):
        return {
            row["vg_name"]: VG(row["vg_name"], int(row["vg_size"]), int(row["vg_free"]),
                               int(row["vg_extent_size"]), int(row["vg_extent_count"]),
                               int(row["vg_free_count"]), _tags(row["vg_tags"]))
            for row in _rows(self.runner.json(commands.vgs()), "vg")
        }

    def lvs(self, vg):
        """The visible LVs of ``vg`` by name (one row per LV, even with several segments)."""
        found = {}
        for row in _rows(self.runner.json(commands.lvs(vg)), "lv"):
            if row["lv_name"] not in found:
                found[row["lv_name"]] = LV.from_report(row)
        return found

    def lvs_by_vg(self):
        """{vg: {name: LV}} of every VG that has a visible LV, from one ``lvs``: a run that
        would otherwise ask ``vgs`` first saves a command (most of a second on a busy blade)."""
        found = {}
        for row in _rows(self.runner.json(commands.lvs()), "lv"):
            found.setdefault(row["vg_name"], {}).setdefault(row["lv_name"], LV.from_report(row))
        return found

    def thin_ids(self, vg):
        """{name: (pool, thin_id, size)} of the thin volumes of ``vg``."""
        return {
            row["lv_name"]: (row["pool_lv"], int(row["thin_id"]), int(row["lv_size"]))
            for row in _rows(self.runner.json(commands.thin_lvs(vg)), "lv")
            if row["thin_id"] not in ("", None)
        }

    def signatures(self, device):
        """Signature types wipefs finds on ``device`` (e.g. ['ext4'], ['PMBR', 'gpt'])."""
        argv = commands.WIPEFS_LIST.argv(positional=[device])
        result = self.runner.run(argv)
        # Some util-linux versions print nothing at all for a blank device.
        if not result.stdout.strip():
            return []
        try:
            answer = json.loads(result.stdout)
        except ValueError:
            raise CommandError(argv, result.rc, result.stdout, result.stderr,
                               problem="printed output that is not JSON") from None
        return [sig.get("type", "unknown") for sig in answer.get("signatures", [])]
