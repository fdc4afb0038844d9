# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest disks as thin snapshots of a golden image: O(1) whatever the image size.

A clone is tagged with its owner guest and its origin (LV, image and version), so its
provenance survives the golden LV's removal (LVM forgets the origin then).  Thin
snapshots get LVM's activation-skip flag by default; a guest disk must come up at
boot, so clones are created without it, and an existing clone has it cleared.

``Clones`` (lvm_clones) reconciles every clone of a VG in one cycle: one lock, one
``lvs`` read and one plan, so a blade's re-run costs the same for 2 guests or 200.
``Clone`` (lvm_clone) is a batch of one.
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
    ValidationError,
    domain_name,
    lvm_name,
    one_of,
)


def clone_origin(lv):
    """The LV a clone was made from: LVM's origin, or our tag once the origin is gone."""
    return lv.origin or tags.value(lv.tags, tags.ORIGIN)


def is_clone(lv):
    return tags.MARKER in lv.tags and tags.CLONE in lv.tags


class CloneSpec:
    """One wanted clone, validated.  ``where`` prefixes option names in errors: '' for
    lvm_clone, 'clones[2].' for lvm_clones, so a message names the list item."""

    def __init__(self, params, where=""):
        self.where = where
        self.name = lvm_name(params.get("name"), where + "name")
        self.origin = lvm_name(params.get("origin"), where + "origin")
        self.owner = params.get("owner")
        if self.owner is not None:
            tags.check_value(domain_name(self.owner, where + "owner"), where + "owner", tags.OWNER)
        self.size = sizes.parse(params.get("size"), where + "size")
        self.state = one_of(params.get("state") or "present", where + "state", ("present", "absent"))


class Clones(LvmResource):
    """The ``lvm_clones`` module.  Items are planned in list order."""

    ITEM = "clones[{}]."  # option prefix of item N in error messages

    def __init__(self, runner, params, **kwargs):
        super().__init__(runner, params["vg"], **kwargs)
        self.items = self._items(params.get("clones") or [])
        self.on_mismatch = one_of(params.get("on_origin_mismatch", "warn"), "on_origin_mismatch",
                                  ("warn", "fail"))
        self.allow_overcommit = params.get("allow_overcommit", False)
        self.force = params.get("force", False)
        self.mismatches = []

    def _items(self, values):
        items, seen = [], {}
        for index, params in enumerate(values):
            item = CloneSpec(params, self.ITEM.format(index))
            if item.name in seen:
                raise ValidationError(f"{item.where}name: {item.name!r} is listed twice (also as "
                                      f"{seen[item.name]}name); list each clone once",
                                      option=item.where + "name")
            seen[item.name] = item.where
            items.append(item)
        return items

    def full(self, item):
        return f"{self.vg}/{item.name}"

    # --- observe and compare -------------------------------------------------------------

    def observe(self):
        self.observe_vg()
        found = {}
        for item in self.items:
            lv = self.lvs.get(item.name)
            if lv is not None:
                found[item.name] = {
                    "origin": clone_origin(lv), "owner": tags.value(lv.tags, tags.OWNER),
                    "size": lv.size, "active": lv.active, "activation_skip": lv.skip_activation}
        self.observe_users([item.name for item in self.items if item.state == "absent"])
        return found

    def desired(self, current):
        for item in self.items:
            if item.state == "absent":
                current.pop(item.name, None)
            else:
                current[item.name] = self._desired_one(item, current.get(item.name))
        return current

    def _wanted_size(self, item, base):
        if item.size is None:
            return base
        return sizes.round_up(item.size.nbytes, self.extent)

    def _desired_one(self, item, current):
        if current is None:
            origin = self.lvs.get(item.origin)
            base = origin.size if origin else None
            return {"origin": item.origin, "owner": item.owner,
                    "size": self._wanted_size(item, base) if base or item.size else None,
                    "active": True, "activation_skip": False}
        if current["origin"] != item.origin:
            return current  # left exactly as it is
        current.update(size=self._wanted_size(item, current["size"]), active=True,
                       activation_skip=False)
        return current

    # --- plan ----------------------------------------------------------------------------

    def plan(self, current, desired):
        plan = Plan()
        for item in self.items:
            if item.state == "absent":
                self._plan_remove(plan, item)
            else:
                self._plan_present(plan, item, current.get(item.name), desired[item.name])
        return plan

    def _plan_present(self, plan, item, current, wanted):
        lv = self.lvs.get(item.name)
        if lv is None:
            self._plan_create(plan, item, wanted["size"])
            return
        require_thin(lv)
        if current["origin"] != item.origin:
            self._mismatch(plan, item, current["origin"])
            return
        self._check_owner(item, current["owner"], "hand it to another guest")
        self.activate(plan, lv)
        self.resize(plan, lv, wanted["size"], force=False, allow_overcommit=self.allow_overcommit)

    def _check_owner(self, item, owner, refused):
        if item.owner is not None and owner is not None and owner != item.owner:
            raise ReconcileError(f"{self.full(item)} is the disk of guest {owner!r}, not "
                                 f"{item.owner!r}; refusing to {refused}", owner=owner)

    def _mismatch(self, plan, item, found):
        self.mismatches.append(item.name)
        what = f"a clone of {found}" if found else "not a clone (it has no origin)"
        message = (f"{self.full(item)} already exists and is {what}, not of {item.origin}; it is "
                   "left as it is (a clone is never replaced: remove it explicitly to re-clone it)")
        if self.on_mismatch == "fail":
            raise ReconcileError(message, origin=found)
        plan.warn(message)

    def _plan_create(self, plan, item, wanted):
        full = self.full(item)
        origin = self.lvs.get(item.origin)
        missing = None
        if self.vg_info is None:
            missing = f"volume group {self.vg}"
        elif origin is None:
            missing = f"golden image {self.vg}/{item.origin}"
        elif not is_golden(origin):
            raise ReconcileError(f"{item.where}origin: {origin.full_name} is not a golden image "
                                 "imported by golden_image (no ob_golden tag); clones are made of "
                                 "golden images only", option=item.where + "origin")
        elif tags.IMPORTING in origin.tags:
            raise ReconcileError(f"{item.where}origin: {origin.full_name} is still being imported "
                                 "(or its import was interrupted); run golden_image again first",
                                 option=item.where + "origin")
        if origin is not None and wanted < origin.size:
            raise ReconcileError(f"{item.where}size: {sizes.human(wanted)} is smaller than golden "
                                 f"image {origin.full_name} ({sizes.human(origin.size)}); a clone can "
                                 "only be as large or larger", option=item.where + "size")
        clone_tags = [tags.MARKER, tags.CLONE, tags.kv(tags.ORIGIN, item.origin)]
        for key in (tags.IMAGE, tags.VERSION):
            found = tags.value(origin.tags, key) if origin is not None else None
            if found is not None:
                clone_tags.append(tags.kv(key, found))
        if item.owner is not None:
            clone_tags.append(tags.kv(tags.OWNER, item.owner))
        if origin is not None:
            self.check_overcommit(plan, self.lvs.get(origin.pool), wanted, self.allow_overcommit,
                                  f"creating clone {full} of {sizes.human(wanted)}")
        argv = commands.LVCREATE.argv(
            snapshot=True, activationskip="n", permission="rw", addtag=clone_tags,
            name=item.name, positional=[f"{self.vg}/{item.origin}"])
        owner = f" for guest {item.owner}" if item.owner else ""
        self.add_or_fail_missing(plan, f"create thin clone {full} of golden image "
                                 f"{self.vg}/{item.origin}{owner}", argv, missing)
        if missing is not None:
            # Said once per missing image: the batch's clones share the cause.
            plan.warn(f"the overcommit check of the clones of {missing} cannot run until it "
                      "exists (its thin pool is not known yet): the real run checks it")
        if origin is not None and wanted > origin.size:
            plan.add(f"extend {full} from {sizes.human(origin.size)} to {sizes.human(wanted)}",
                     self.run(commands.LVEXTEND.argv(size=sizes.argv_bytes(wanted),
                                                     positional=[full])))
        elif origin is None and item.size is not None:
            # Whether the clone grows depends on the image's size, which is not known yet: list
            # the growth (a real run plans again once the image exists) rather than hide it.
            plan.warn(f"{item.where}size: whether {full} grows to {sizes.human(wanted)} depends on "
                      f"the size of {missing}, which does not exist (yet); the growth is listed, "
                      "and the real run does it only if the image is smaller")
            self.add_or_fail_missing(plan, f"extend {full} to {sizes.human(wanted)} if golden image "
                                     f"{self.vg}/{item.origin} is smaller", None, missing)

    def _plan_remove(self, plan, item):
        lv = self.lvs.get(item.name)
        if lv is None:
            return
        # Only what lvm_clone(s) made: never a golden image, a data volume or a foreign LV.
        if not is_clone(lv):
            raise ReconcileError(f"{item.where}name: {lv.full_name} exists but is not a clone made "
                                 "by openblade.kvm (no ob_clone tag); refusing to remove it",
                                 option=item.where + "name")
        self._check_owner(item, tags.value(lv.tags, tags.OWNER), "remove it")
        plan.warnings.extend(self.users(lv).refuse("remove", self.force))
        self.release(lv)
        plan.add(f"remove thin clone {lv.full_name}",
                 self.run(commands.LVREMOVE.argv(positional=[lv.full_name])))

    # --- result --------------------------------------------------------------------------

    def facts(self, lv):
        """What lvm_clone returns as ``clone`` (empty when it does not exist)."""
        facts = self.volume_facts(lv)
        if facts:
            facts.update(origin=clone_origin(lv), owner=tags.value(lv.tags, tags.OWNER),
                         image=tags.value(lv.tags, tags.IMAGE),
                         version=tags.value(lv.tags, tags.VERSION))
        return facts

    def result(self, current, desired, plan, applied):
        if applied and plan:
            self.refresh()
        return {"clones": {item.name: self.facts(self.lvs.get(item.name)) for item in self.items},
                "origin_mismatch": list(self.mismatches)}


class Clone(Clones):
    """The ``lvm_clone`` module: a batch of one, with the single clone's diff and result."""

    ITEM = ""

    def __init__(self, runner, params, **kwargs):
        super().__init__(runner, {**params, "clones": [params]}, **kwargs)
        self.item = self.items[0]

    def _batch(self, state):
        return {} if state is None else {self.item.name: state}

    def observe(self):
        return super().observe().get(self.item.name)

    def desired(self, current):
        return super().desired(self._batch(current)).get(self.item.name)

    def plan(self, current, desired):
        return super().plan(self._batch(current), self._batch(desired))

    def result(self, current, desired, plan, applied):
        batch = super().result(current, desired, plan, applied)
        return {"clone": batch["clones"][self.item.name],
                "origin_mismatch": bool(batch["origin_mismatch"])}
