# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest disks as thin snapshots of a golden image: O(1) whatever the image size.

A clone is tagged with its owner guest and its origin (LV, image and version), so its
provenance survives the golden LV's removal (LVM forgets the origin then).  Thin
snapshots get LVM's activation-skip flag by default; a guest disk must come up at
boot, so clones are created without it, and an existing clone has it cleared.
"""

from __future__ import annotations

from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands, sizes, tags
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.base import LvmResource
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.golden import is_golden
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.volume import require_thin
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    Plan,
    ReconcileError,
)
from ansible_collections.openblade.kvm.plugins.module_utils._validate import (
    domain_name,
    lvm_name,
    one_of,
)


def clone_origin(lv):
    """The LV a clone was made from: LVM's origin, or our tag once the origin is gone."""
    return lv.origin or tags.value(lv.tags, tags.ORIGIN)


class Clone(LvmResource):
    """The ``lvm_clone`` module."""

    def __init__(self, runner, params, **kwargs):
        super().__init__(runner, params["vg"], **kwargs)
        self.name = lvm_name(params["name"], "name")
        self.origin = lvm_name(params["origin"], "origin")
        self.owner = params.get("owner")
        if self.owner is not None:
            tags.check_value(domain_name(self.owner, "owner"), "owner", tags.OWNER)
        self.size = sizes.parse(params.get("size"), "size")
        self.on_mismatch = one_of(params.get("on_origin_mismatch", "warn"), "on_origin_mismatch",
                                  ("warn", "fail"))
        self.allow_overcommit = params.get("allow_overcommit", False)
        self.mismatch = None

    @property
    def full(self):
        return f"{self.vg}/{self.name}"

    def observe(self):
        self.observe_vg()
        self.lv = self.lvs.get(self.name)
        self.origin_lv = self.lvs.get(self.origin)
        if self.lv is None:
            return None
        return {"origin": clone_origin(self.lv), "owner": tags.value(self.lv.tags, tags.OWNER),
                "size": self.lv.size, "active": self.lv.active,
                "activation_skip": self.lv.skip_activation}

    def _wanted_size(self, base):
        if self.size is None:
            return base
        return sizes.round_up(self.size.nbytes, self.extent)

    def desired(self, current):
        if current is None:
            base = self.origin_lv.size if self.origin_lv else None
            return {"origin": self.origin, "owner": self.owner,
                    "size": self._wanted_size(base) if base or self.size else None,
                    "active": True, "activation_skip": False}
        if current["origin"] != self.origin:
            return current  # left exactly as it is
        current.update(size=self._wanted_size(current["size"]), active=True, activation_skip=False)
        return current

    def plan(self, current, desired):
        plan = Plan()
        if self.lv is None:
            self._plan_create(plan, desired["size"])
            return plan
        require_thin(self.lv)
        if current["origin"] != self.origin:
            self._mismatch(plan, current["origin"])
            return plan
        owner = current["owner"]
        if self.owner is not None and owner is not None and owner != self.owner:
            raise ReconcileError(f"{self.full} is the disk of guest {owner!r}, not {self.owner!r}; "
                                 "refusing to hand it to another guest", owner=owner)
        self.activate(plan, self.lv)
        self.resize(plan, self.lv, desired["size"], force=False,
                    allow_overcommit=self.allow_overcommit)
        return plan

    def _mismatch(self, plan, found):
        self.mismatch = found
        what = f"a clone of {found}" if found else "not a clone (it has no origin)"
        message = (f"{self.full} already exists and is {what}, not of {self.origin}; it is left as "
                   "it is (a clone is never replaced: remove it explicitly to re-clone it)")
        if self.on_mismatch == "fail":
            raise ReconcileError(message, origin=found)
        plan.warn(message)

    def _plan_create(self, plan, wanted):
        origin = self.origin_lv
        missing = None
        if self.vg_info is None:
            missing = f"volume group {self.vg}"
        elif origin is None:
            missing = f"golden image {self.vg}/{self.origin}"
        elif not is_golden(origin):
            raise ReconcileError(f"origin: {origin.full_name} is not a golden image imported by "
                                 "golden_image (no ob_golden tag); clones are made of golden images "
                                 "only", option="origin")
        elif tags.IMPORTING in origin.tags:
            raise ReconcileError(f"origin: {origin.full_name} is still being imported (or its "
                                 "import was interrupted); run golden_image again first",
                                 option="origin")
        if origin is not None and wanted < origin.size:
            raise ReconcileError(f"size: {sizes.human(wanted)} is smaller than golden image "
                                 f"{origin.full_name} ({sizes.human(origin.size)}); a clone can only "
                                 "be as large or larger", option="size")
        clone_tags = [tags.MARKER, tags.CLONE, tags.kv(tags.ORIGIN, self.origin)]
        for key in (tags.IMAGE, tags.VERSION):
            found = tags.value(origin.tags, key) if origin is not None else None
            if found is not None:
                clone_tags.append(tags.kv(key, found))
        if self.owner is not None:
            clone_tags.append(tags.kv(tags.OWNER, self.owner))
        if origin is not None:
            pool = self.lvs.get(origin.pool)
            self.check_overcommit(plan, pool, wanted, self.allow_overcommit,
                                  f"creating clone {self.full} of {sizes.human(wanted)}")
        argv = commands.LVCREATE.argv(
            snapshot=True, activationskip="n", permission="rw", addtag=clone_tags,
            name=self.name, positional=[f"{self.vg}/{self.origin}"])
        owner = f" for guest {self.owner}" if self.owner else ""
        self.add_or_fail_missing(plan, f"create thin clone {self.full} of golden image "
                                 f"{self.vg}/{self.origin}{owner}", argv, missing)
        if origin is not None and wanted > origin.size:
            plan.add(f"extend {self.full} from {sizes.human(origin.size)} to {sizes.human(wanted)}",
                     self.run(commands.LVEXTEND.argv(size=sizes.argv_bytes(wanted),
                                                     positional=[self.full])))

    def result(self, current, desired, plan, applied):
        if applied and plan:
            self.refresh()
            self.lv = self.lvs.get(self.name)
        facts = self.volume_facts(self.lv)
        if facts:
            facts.update(origin=clone_origin(self.lv), owner=tags.value(self.lv.tags, tags.OWNER),
                         image=tags.value(self.lv.tags, tags.IMAGE),
                         version=tags.value(self.lv.tags, tags.VERSION))
        return {"clone": facts, "origin_mismatch": self.mismatch is not None}
