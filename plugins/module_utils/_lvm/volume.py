# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin volumes: create, grow, shrink only with force, remove only when unused."""

from __future__ import annotations

from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands, sizes, tags
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.base import LvmResource
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    Plan,
    ReconcileError,
)
from ansible_collections.openblade.kvm.plugins.module_utils._validate import lvm_name, one_of


def require_thin(lv, module_verb="manages"):
    if not lv.is_thin:
        kind = "a thin pool" if lv.is_thin_pool else f"not a thin volume (layout {','.join(lv.layout)})"
        raise ReconcileError(f"{lv.full_name} is {kind}; this module {module_verb} thin volumes only")


class ThinVolume(LvmResource):
    """The ``lvm_volume`` module."""

    def __init__(self, runner, params, **kwargs):
        super().__init__(runner, params["vg"], **kwargs)
        self.name = lvm_name(params["name"], "name")
        self.pool = lvm_name(params["pool"], "pool") if params.get("pool") else None
        self.state = one_of(params.get("state", "present"), "state", ("present", "absent"))
        # %FREE is the pool's unused data space: that is what a thin volume draws on.
        self.size = sizes.parse(params.get("size"), "size", bases=("FREE", "VG"))
        self.force = params.get("force", False)
        self.allow_overcommit = params.get("allow_overcommit", False)

    def observe(self):
        self.observe_vg()
        self.lv = self.lvs.get(self.name)
        if self.lv is None:
            return None
        shrinks = (self.force and self.size is not None and not self.size.relative
                   and sizes.round_up(self.size.nbytes, self.extent) < self.lv.size)
        if self.state == "absent" or shrinks:
            self.observe_users([self.name])
        return {"pool": self.lv.pool, "size": self.lv.size}

    def desired(self, current):
        if self.state == "absent":
            return None
        if current is None:
            return {"pool": self.pool, "size": self._create_size(self.thin_pool(self.pool))
                    if self.pool else None}
        if self.size is not None and not self.size.relative:
            current["size"] = sizes.round_up(self.size.nbytes, self.extent)
        return current

    def _create_size(self, pool):
        """Bytes for a new volume; None when a percentage cannot be resolved yet (no pool)."""
        if self.size is None:
            return None
        if not self.size.relative:
            return sizes.round_up(self.size.nbytes, self.extent)
        if pool is None:
            return None
        if self.size.base == "VG":
            total = self.vg_info.size
        else:
            total = int(pool.size * (100 - (pool.data_percent or 0)) / 100)
        return sizes.percent_of(self.size.percent, total, self.extent)

    def plan(self, current, desired):
        plan = Plan()
        if self.state == "absent":
            if self.lv is not None:
                require_thin(self.lv, "removes")
                plan.warnings.extend(self.users(self.lv).refuse("remove", self.force))
                plan.add(f"remove thin volume {self.lv.full_name}",
                         self.run(commands.LVREMOVE.argv(positional=[self.lv.full_name])))
        elif self.lv is None:
            self._plan_create(plan, desired["size"])
        else:
            require_thin(self.lv)
            if self.pool and self.lv.pool != self.pool:
                raise ReconcileError(f"pool: {self.lv.full_name} is in thin pool {self.lv.pool}, "
                                     f"not {self.pool} (LVM cannot move a thin volume)", option="pool")
            if self.size is not None and not self.size.relative:
                self.resize(plan, self.lv, desired["size"], self.force, self.allow_overcommit)
        return plan

    def _plan_create(self, plan, nbytes):
        full = f"{self.vg}/{self.name}"
        if self.pool is None:
            raise ReconcileError(f"pool: required to create thin volume {full}", option="pool")
        if self.size is None:
            raise ReconcileError(f"size: required to create thin volume {full}", option="size")
        pool = self.thin_pool(self.pool)
        missing = self.missing_pool(self.pool)
        shown = sizes.human(nbytes) if nbytes else str(self.size)
        argv = commands.LVCREATE.argv(
            type="thin", virtualsize=sizes.argv_bytes(nbytes or 0), thinpool=self.pool,
            addtag=tags.MARKER, name=self.name, positional=[self.vg])
        self.add_or_fail_missing(plan, f"create thin volume {full} of {shown} in thin pool "
                                 f"{self.pool}", argv, missing)
        self.check_overcommit(plan, pool, nbytes or 0, self.allow_overcommit,
                              f"creating {full} of {shown}", missing)
        if nbytes is None and missing is not None:
            plan.warn(f"size: {self.size} of {full} is resolved against thin pool {self.pool}, "
                      "which does not exist (yet): the size is known only in the real run")

    def result(self, current, desired, plan, applied):
        if applied and plan:
            self.refresh()
            self.lv = self.lvs.get(self.name)
        return {"volume": self.volume_facts(self.lv)}
