# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A volume group on listed PVs and a thin pool in it, with its policy.

PVs are only ever added.  One that the VG holds but the user did not list is kept
unless ``remove_unlisted_pvs`` is set, and even then only when it holds no extents
(community.general's lvg removes unlisted PVs by default: a known data-loss trap).

The autoextend policy is an LVM metadata profile that we own (a file with our header),
attached to the pool; dmeventd reads it when the pool passes the threshold.  The
overcommit limit is a tag on the pool, which lvm_volume and lvm_clone check.

``state: absent`` tears down what ``present`` built, in reverse: the pool (only once it
holds no thin volume), our profile, then the VG, but only one that carries our marker
and holds nothing else, and the listed PVs of that VG.
"""

from __future__ import annotations

import os
import re

from ansible_collections.openblade.kvm.plugins.module_utils._files import write_atomic
from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands, sizes, tags
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.base import (
    LvmResource,
    format_ratio,
    max_overcommit,
    overcommit,
    writable_virtual_size,
)
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.report import dm_name
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    Plan,
    ReconcileError,
)
from ansible_collections.openblade.kvm.plugins.module_utils._validate import (
    ValidationError,
    lvm_name,
    one_of,
)

PROFILE_DIR = "/etc/lvm/profile"
PROFILE_MARK = "# Managed by openblade.kvm"
PROFILE_HEADER = PROFILE_MARK + " (lvm_thinpool) for thin pool {}; local edits are overwritten.\n"
PROFILE_BODY = ("activation {{\n"
                "\tthin_pool_autoextend_threshold = {threshold}\n"
                "\tthin_pool_autoextend_percent = {percent}\n"
                "}}\n")
DEFAULT_AUTOEXTEND_PERCENT = 20  # lvm.conf's default

KIB, MIB, GIB = 1024, 1024 ** 2, 1024 ** 3
# lvmthin(7): chunks are multiples of 64 KiB up to 1 GiB; metadata is 2 MiB to ~16 GiB.
CHUNK_MIN, CHUNK_MAX = 64 * KIB, GIB
METADATA_MIN, METADATA_MAX = 2 * MIB, 16 * GIB


def profile_name(vg, pool):
    # The device-mapper form keeps names unambiguous: vg a-b/pool c != vg a/pool b-c.
    return "openblade-kvm-" + dm_name(vg, pool)


def _int_option(value, option, minimum, maximum, meaning):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ValidationError(f"{option}: {value!r} is not a valid {meaning} (allowed: integers "
                              f"{minimum}-{maximum})", option=option)
    return value


def _bounded_size(value, option, minimum, maximum, multiple=None):
    if value is None:
        return None
    size = sizes.parse(value, option).nbytes
    rule = f"allowed: {sizes.human(minimum)} to {sizes.human(maximum)}"
    if multiple:
        rule += f" in multiples of {sizes.human(multiple)}"
    if not minimum <= size <= maximum or (multiple and size % multiple):
        raise ValidationError(f"{option}: {value!r} is out of range ({rule})", option=option)
    return size


class ThinPool(LvmResource):
    """The ``lvm_thinpool`` module: params as the module's argument spec defines them."""

    def __init__(self, runner, params, profile_dir=PROFILE_DIR, **kwargs):
        super().__init__(runner, params["vg"], **kwargs)
        self.pool = lvm_name(params["pool"], "pool")
        self.state = one_of(params.get("state") or "present", "state", ("present", "absent"))
        self.devices = self._devices(params.get("pvs"), required=self.state == "present")
        self.size = sizes.parse(params.get("size"), "size", bases=("VG", "FREE"))
        self.chunk_size = _bounded_size(params.get("chunk_size"), "chunk_size", CHUNK_MIN, CHUNK_MAX,
                                        multiple=CHUNK_MIN)
        self.metadata_size = _bounded_size(params.get("metadata_size"), "metadata_size",
                                           METADATA_MIN, METADATA_MAX)
        self.threshold = _int_option(params.get("autoextend_threshold"), "autoextend_threshold",
                                     50, 100, "autoextend threshold in percent (100 turns it off)")
        self.percent = _int_option(params.get("autoextend_percent"), "autoextend_percent", 1, 1000,
                                   "autoextend step in percent of the pool size")
        if self.percent is not None and self.threshold is None:
            raise ValidationError("autoextend_percent: it needs autoextend_threshold too (the "
                                  "threshold decides when the pool grows)",
                                  option="autoextend_percent")
        if self.threshold is not None and self.percent is None:
            self.percent = DEFAULT_AUTOEXTEND_PERCENT
        self.max_overcommit = params.get("max_overcommit")
        if self.max_overcommit is not None and not 0 < self.max_overcommit <= 1000:
            raise ValidationError(f"max_overcommit: {self.max_overcommit!r} is not a valid ratio "
                                  "(allowed: a number above 0 and up to 1000, e.g. 1 for no "
                                  "overcommit, 2.5 for 2.5x the pool size)", option="max_overcommit")
        self.remove_unlisted = params.get("remove_unlisted_pvs", False)
        self.wipe = params.get("wipe_signatures", False)
        self.profile = profile_name(self.vg, self.pool)
        self.profile_path = os.path.join(profile_dir, self.profile + ".profile")

    @staticmethod
    def _devices(values, required=True):
        if not values and not required:
            return {}
        if not values:
            raise ValidationError("pvs: at least one device is required (the VG lives on them)",
                                  option="pvs")
        devices = {}
        for value in values:
            if not isinstance(value, str) or not value.startswith("/"):
                raise ValidationError(f"pvs: {value!r} is not a device path (allowed: absolute "
                                      "paths such as /dev/sdb or /dev/disk/by-id/...)", option="pvs")
            # pvs reports /dev/sdb for /dev/disk/by-id/...: compare real paths, but hand
            # LVM the name the user gave (it prefers /dev/mapper/... to /dev/dm-N).
            devices.setdefault(os.path.realpath(value), value)
        return devices

    def _shown(self, real):
        given = self.devices.get(real, real)
        return given if given == real else f"{given} ({real})"

    # --- observe ---------------------------------------------------------------------------

    def observe(self):
        present = self.state == "present"
        missing = [given for real, given in self.devices.items() if not os.path.exists(real)]
        if missing and present:
            raise ReconcileError(f"pvs: {', '.join(missing)} does not exist on this host",
                                 option="pvs")
        self.pvs = self.lvm.pvs()
        self.observe_vg()
        self.pool_lv = self.lvs.get(self.pool)
        # Only devices we would initialise need their signatures read.
        self.signatures = {real: self.lvm.signatures(given) for real, given in self.devices.items()
                           if present and real not in self.pvs}
        self.profile_text = _read(self.profile_path)
        return self._fields()

    def _vg_pvs(self):
        return sorted(name for name, pv in self.pvs.items() if pv.vg == self.vg)

    def _fields(self):
        if self.vg_info is None:
            return None
        pool = self.pool_lv
        fields = {"pvs": self._vg_pvs(), "pool": None}
        if pool is not None:
            fields["pool"] = {
                "size": pool.size, "chunk_size": pool.chunk_size,
                "metadata_size": pool.metadata_size, "profile": pool.profile,
                "max_overcommit": max_overcommit(pool),
                **_autoextend(self.profile_text if pool.profile == self.profile else None),
            }
        return fields

    def desired(self, current):
        if self.state == "absent":
            if current is None or self._removes_vg():
                return None
            return {**current, "pool": None}
        listed = list(self.devices)
        kept = [] if self.remove_unlisted or current is None else \
            [pv for pv in current["pvs"] if pv not in listed]
        pool = (current or {}).get("pool") or {}
        if not pool:
            # A percentage stays as it is: LVM resolves it when it creates the pool.
            # None where LVM decides at creation.
            relative = self.size is not None and self.size.relative
            pool = {"size": str(self.size) if relative else None, "chunk_size": self.chunk_size,
                    "metadata_size": None, "profile": None, "max_overcommit": None,
                    "autoextend_threshold": None, "autoextend_percent": None}
        if self.size and not self.size.relative:
            pool["size"] = max(pool["size"] or 0, sizes.round_up(self.size.nbytes, self.extent))
        if self.metadata_size:
            pool["metadata_size"] = max(pool["metadata_size"] or 0,
                                        sizes.round_up(self.metadata_size, self.extent))
        if self.threshold is not None:
            pool.update(profile=self.profile, autoextend_threshold=self.threshold,
                        autoextend_percent=self.percent)
        if self.max_overcommit is not None:
            pool["max_overcommit"] = float(format_ratio(self.max_overcommit))
        return {"pvs": sorted(listed + kept), "pool": pool}

    # --- plan ------------------------------------------------------------------------------

    def plan(self, current, desired):
        # The VG's members and the pool's sizes and profile come from current vs desired,
        # the view the diff shows, so the diff and the actions are one decision.
        plan = Plan()
        if self.state == "absent":
            self._plan_absent(plan)
            return plan
        self._plan_pvs(plan)
        self._plan_vg(plan, current, desired)
        if self.threshold is not None:
            self._plan_profile(plan)
        if current is None or current["pool"] is None:
            self._plan_create_pool(plan)
        else:
            self._plan_update_pool(plan, current["pool"], desired["pool"])
        return plan

    def _plan_pvs(self, plan):
        for real, device in self.devices.items():
            pv = self.pvs.get(real)
            shown = self._shown(real)
            if pv is not None:
                if pv.vg not in (None, self.vg):
                    raise ReconcileError(f"pvs: {shown} already belongs to volume group {pv.vg}; "
                                         "refusing to take it", option="pvs")
                continue
            found = self.signatures[real]
            if found:
                if not self.wipe:
                    raise ReconcileError(
                        f"pvs: {shown} holds data ({', '.join(found)} signature); refusing to "
                        "overwrite it (set wipe_signatures: true if it may be erased)", option="pvs")
                plan.add(f"wipe the {', '.join(found)} signatures on {shown}",
                         self.run(commands.WIPEFS_ALL.argv(positional=[device])))
            plan.add(f"initialise {shown} as an LVM physical volume",
                     self.run(commands.PVCREATE.argv(positional=[device])))

    def _plan_vg(self, plan, current, desired):
        if current is None:
            shown = ", ".join(self._shown(real) for real in self.devices)
            plan.add(f"create volume group {self.vg} on {shown}",
                     self.run(commands.VGCREATE.argv(addtag=tags.MARKER,
                                                     positional=[self.vg, *self.devices.values()])))
            return
        members, wanted = current["pvs"], desired["pvs"]
        for real, device in self.devices.items():  # in the order pvs lists them
            if real in wanted and real not in members:
                plan.add(f"add {self._shown(real)} to volume group {self.vg}",
                         self.run(commands.VGEXTEND.argv(positional=[self.vg, device])))
        unlisted = [self.pvs[name] for name in members if name not in self.devices]
        if unlisted and not self.remove_unlisted:
            plan.warn(f"volume group {self.vg} also has {', '.join(pv.name for pv in unlisted)}, "
                      "which pvs does not list; kept (set remove_unlisted_pvs: true to remove "
                      "unused ones)")
        for pv in (self.pvs[name] for name in members if name not in wanted):
            if pv.used:
                raise ReconcileError(
                    f"pvs: refusing to remove {pv.name} from volume group {self.vg}: it holds "
                    f"{sizes.human(pv.used)} of logical volumes (move them with pvmove first)",
                    option="pvs")
            plan.add(f"remove {pv.name} from volume group {self.vg} (not listed in pvs, unused)",
                     self.run(commands.VGREDUCE.argv(positional=[self.vg, pv.name])))

    def render_profile(self):
        return PROFILE_HEADER.format(f"{self.vg}/{self.pool}") + PROFILE_BODY.format(
            threshold=self.threshold, percent=self.percent)

    def _plan_profile(self, plan):
        text = self.render_profile()
        if self.profile_text == text:
            return
        if self.profile_text is not None and not self._own_profile():
            raise ReconcileError(f"{self.profile_path} exists and is not managed by openblade.kvm; "
                                 "refusing to overwrite it")
        verb = "write" if self.profile_text is None else "update"
        plan.add(f"{verb} LVM profile {self.profile_path} (autoextend by {self.percent}% at "
                 f"{self.threshold}% full)", lambda: _write(self.profile_path, text))

    def _own_profile(self):
        return self.profile_text is not None and self.profile_text.startswith(PROFILE_MARK)

    def _plan_create_pool(self, plan):
        if self.size is None:
            raise ReconcileError(f"size: required to create thin pool {self.vg}/{self.pool}",
                                 option="size")
        extent = self.extent
        details = []
        if self.size.relative:
            size_args = {"extents": str(self.size)}
        else:
            wanted = sizes.round_up(self.size.nbytes, extent)
            size_args = {"size": sizes.argv_bytes(wanted)}
            # LVM keeps a spare metadata LV as big as the metadata: count both.
            needed = wanted + 2 * (self.metadata_size or 0)
            if self.vg_info is not None and needed > self.vg_info.free:
                raise ReconcileError(
                    f"size: thin pool {self.vg}/{self.pool} of {sizes.human(wanted)} does not fit: "
                    f"volume group {self.vg} has {sizes.human(self.vg_info.free)} free", option="size")
        if self.chunk_size:
            details.append(f"chunks of {sizes.human(self.chunk_size)}")
        if self.metadata_size:
            details.append(f"{sizes.human(self.metadata_size)} metadata")
        pool_tags = [tags.MARKER]
        if self.max_overcommit is not None:
            pool_tags.append(tags.kv(tags.MAX_OVERCOMMIT, format_ratio(self.max_overcommit)))
        argv = commands.LVCREATE.argv(
            type="thin-pool", **size_args,
            chunksize=sizes.argv_bytes(self.chunk_size) if self.chunk_size else None,
            poolmetadatasize=sizes.argv_bytes(self.metadata_size) if self.metadata_size else None,
            metadataprofile=self.profile if self.threshold is not None else None,
            addtag=pool_tags, name=self.pool, positional=[self.vg])
        plan.add(f"create thin pool {self.vg}/{self.pool} of {self.size}"
                 + (f" ({', '.join(details)})" if details else ""), self.run(argv))

    def _plan_update_pool(self, plan, have, want):
        pool = self.pool_lv
        if not pool.is_thin_pool:
            raise ReconcileError(f"pool: {pool.full_name} exists but is not a thin pool "
                                 f"(layout {','.join(pool.layout)})", option="pool")
        if self.chunk_size and pool.chunk_size != self.chunk_size:
            raise ReconcileError(
                f"chunk_size: thin pool {pool.full_name} has chunks of {sizes.human(pool.chunk_size)}; "
                f"LVM cannot change the chunk size of an existing pool to "
                f"{sizes.human(self.chunk_size)}", option="chunk_size")
        # desired() never shrinks (pools cannot): a larger pool, grown by autoextend or an
        # admin, is fine.
        if want["size"] != have["size"]:
            wanted, free = want["size"], self.vg_info.free
            if wanted - have["size"] > free:
                raise ReconcileError(
                    f"size: cannot extend thin pool {pool.full_name} to {sizes.human(wanted)}: "
                    f"volume group {self.vg} has {sizes.human(free)} free", option="size")
            plan.add(f"extend thin pool {pool.full_name} from {sizes.human(have['size'])} to "
                     f"{sizes.human(wanted)}",
                     self.run(commands.LVEXTEND.argv(size=sizes.argv_bytes(wanted),
                                                     positional=[pool.full_name])))
        if want["metadata_size"] != have["metadata_size"]:
            wanted = want["metadata_size"]
            plan.add(f"extend the metadata of thin pool {pool.full_name} from "
                     f"{sizes.human(have['metadata_size'])} to {sizes.human(wanted)}",
                     self.run(commands.LVEXTEND.argv(poolmetadatasize=sizes.argv_bytes(wanted),
                                                     positional=[pool.full_name])))
        if want["profile"] != have["profile"]:
            plan.add(f"attach LVM profile {want['profile']} to thin pool {pool.full_name}",
                     self.run(commands.LVCHANGE.argv(metadataprofile=want["profile"],
                                                     positional=[pool.full_name])))
        if self.threshold is not None:
            if self.threshold < 100 and not pool.monitored:
                plan.warn(f"thin pool {pool.full_name} is not monitored by dmeventd, so it will "
                          "not autoextend (is lvm2-monitor/dm-event running?)")
        if self.max_overcommit is not None:
            self._plan_max_overcommit(plan, pool)

    def _plan_max_overcommit(self, plan, pool):
        wanted = format_ratio(self.max_overcommit)
        old = [tag for tag in pool.tags if tag.startswith(tags.MAX_OVERCOMMIT + "=")]
        if old == [tags.kv(tags.MAX_OVERCOMMIT, wanted)]:
            return
        plan.add(f"set max_overcommit of thin pool {pool.full_name} to {wanted}",
                 self.run(commands.LVCHANGE.argv(deltag=old or None,
                                                 addtag=tags.kv(tags.MAX_OVERCOMMIT, wanted),
                                                 positional=[pool.full_name])))
        ratio = overcommit(pool, self.lvs)
        if ratio > self.max_overcommit:
            plan.warn(f"thin pool {pool.full_name} is already overcommitted {ratio:.2f}x, above the "
                      f"new max_overcommit of {wanted}; new volumes will be refused")

    # --- absent ----------------------------------------------------------------------------

    def _removes_vg(self):
        """Whether the VG goes too: ours (marker tag) and nothing in it but the pool."""
        return (self.vg_info is not None and tags.MARKER in self.vg_info.tags
                and not self._other_lvs())

    def _other_lvs(self):
        return sorted(name for name in self.lvs if name != self.pool)

    def _plan_absent(self, plan):
        pool = self.pool_lv
        if pool is not None:
            if not pool.is_thin_pool:
                raise ReconcileError(f"pool: {pool.full_name} exists but is not a thin pool "
                                     f"(layout {','.join(pool.layout)}); refusing to remove it",
                                     option="pool")
            volumes = sorted(lv.name for lv in self.lvs.values()
                             if lv.is_thin and lv.pool == self.pool)
            if volumes:
                raise ReconcileError(
                    f"refusing to remove thin pool {pool.full_name}: it still holds thin volumes "
                    f"{', '.join(volumes)} (remove them first)", option="pool", volumes=volumes)
            plan.add(f"remove thin pool {pool.full_name}",
                     self.run(commands.LVREMOVE.argv(positional=[pool.full_name])))
        if self._own_profile():
            plan.add(f"remove LVM profile {self.profile_path}", lambda: _remove(self.profile_path))
        if self.vg_info is None:
            return
        if not self._removes_vg():
            # Said once, when the pool goes; a re-run that finds it gone stays quiet.
            if pool is not None:
                why = (f"it holds {', '.join(self._other_lvs())}" if self._other_lvs() else
                       f"it does not carry the {tags.MARKER} tag (lvm_thinpool did not create it)")
                plan.warn(f"volume group {self.vg} is kept: {why}")
            return
        plan.add(f"remove volume group {self.vg}",
                 self.run(commands.VGREMOVE.argv(positional=[self.vg])))
        unlisted = []
        for name in self._vg_pvs():
            if name in self.devices:
                plan.add(f"remove the LVM physical volume label from {self._shown(name)}",
                         self.run(commands.PVREMOVE.argv(positional=[self.devices[name]])))
            else:
                unlisted.append(name)
        if unlisted:
            plan.warn(f"{', '.join(unlisted)} of volume group {self.vg} stay LVM physical volumes "
                      "(pvs does not list them)")

    # --- result ----------------------------------------------------------------------------

    def result(self, current, desired, plan, applied):
        if applied and plan:
            self.observe()
        return {"thinpool": self.facts()}

    def facts(self):
        pool = self.pool_lv
        vg = self.vg_info
        facts = {
            "vg": self.vg, "pool": self.pool, "exists": pool is not None,
            "pvs": self._vg_pvs(),
            "vg_size": vg.size if vg else None, "vg_free": vg.free if vg else None,
            "size": None, "data_percent": None, "metadata_percent": None,
            "metadata_size": None, "chunk_size": None, "virtual_size": None,
            "overcommit": None, "max_overcommit": None, "profile": None,
            "autoextend_threshold": None, "autoextend_percent": None, "monitored": None,
        }
        if pool is not None and pool.is_thin_pool:
            facts.update(
                size=pool.size, data_percent=pool.data_percent,
                metadata_percent=pool.metadata_percent, metadata_size=pool.metadata_size,
                chunk_size=pool.chunk_size, virtual_size=writable_virtual_size(pool, self.lvs),
                overcommit=round(overcommit(pool, self.lvs), 3),
                max_overcommit=max_overcommit(pool), profile=pool.profile,
                monitored=pool.monitored,
                **_autoextend(self.profile_text if pool.profile == self.profile else None))
        return facts


def _autoextend(text):
    values = {"autoextend_threshold": None, "autoextend_percent": None}
    for key in values:
        match = re.search(rf"^\s*thin_pool_{key}\s*=\s*(\d+)", text or "", re.M)
        if match:
            values[key] = int(match.group(1))
    return values


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ReconcileError(f"cannot read LVM profile {path}: {exc}") from None


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ReconcileError(f"cannot remove LVM profile {path}: {exc}") from None


def _write(path, text):
    # Atomically: LVM may read the profile at any moment (dmeventd does).
    write_atomic(path, text, what="LVM profile")
