# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvm_info: the volume groups, thin pools and our volumes of a host, read only.

The parsing is report.py's and the overcommit arithmetic base.py's, so this module
reports exactly the numbers lvm_thinpool, lvm_volume and lvm_clone decide with.
"""

from __future__ import annotations

from ansible_collections.openblade.kvm.plugins.module_utils._lvm import tags
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.base import (
    max_overcommit,
    overcommit,
    writable_virtual_size,
)
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.clone import clone_origin
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.report import Lvm
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    Plan,
    ReadOnlyResource,
    ReconcileError,
)

# Role tags in the order they are checked: a clone of a golden image carries ob_clone only,
# but check the most specific first should a volume ever carry two.
_KINDS = ((tags.GOLDEN, "golden"), (tags.SNAPSHOT, "snapshot"), (tags.CLONE, "clone"))


def volume_kind(lv):
    return next((kind for tag, kind in _KINDS if tag in lv.tags), "volume")


def vg_facts(vg):
    return {"name": vg.name, "size": vg.size, "free": vg.free, "managed": tags.MARKER in vg.tags}


def pool_facts(pool, lvs):
    return {
        "vg": pool.vg, "name": pool.name, "size": pool.size,
        "data_percent": pool.data_percent, "metadata_percent": pool.metadata_percent,
        "metadata_size": pool.metadata_size,
        "virtual_size": writable_virtual_size(pool, lvs),
        "overcommit": round(overcommit(pool, lvs), 3),
        "max_overcommit": max_overcommit(pool),
        "managed": tags.MARKER in pool.tags,
    }


def volume_facts(lv):
    return {
        "vg": lv.vg, "name": lv.name, "pool": lv.pool, "size": lv.size, "kind": volume_kind(lv),
        "owner": tags.value(lv.tags, tags.OWNER),
        # A snapshot's origin outlives LVM's link only in our tag, as a clone's does.
        "origin": clone_origin(lv) or tags.value(lv.tags, tags.SNAPSHOT_OF),
        "image": tags.value(lv.tags, tags.IMAGE), "version": tags.value(lv.tags, tags.VERSION),
        "read_only": lv.read_only, "active": lv.active,
    }


class LvmInventory(ReadOnlyResource):
    """Every VG (or only ``vgs``), its thin pools and the LVs carrying our marker."""

    def __init__(self, runner, vgs=None):
        self.runner = runner
        self.lvm = Lvm(runner)
        self.only = list(dict.fromkeys(vgs or ()))
        self.missing = []
        self.facts = {"vgs": [], "thin_pools": [], "volumes": []}

    def observe(self):
        # Without this check the first report fails as "command `vgs ...` could not be
        # started", which does not say what to install.
        if not self.runner.exists("vgs"):
            raise ReconcileError("lvm2 is not installed on this host (no `vgs` on PATH); the "
                                 "openblade.kvm.hypervisor role installs it")
        found = self.lvm.vgs()
        self.missing = [name for name in self.only if name not in found]
        for name in sorted(found):
            if self.only and name not in self.only:
                continue
            lvs = self.lvm.lvs(name)
            self.facts["vgs"].append(vg_facts(found[name]))
            for lv in sorted(lvs.values(), key=lambda lv: lv.name):
                if lv.is_thin_pool:
                    self.facts["thin_pools"].append(pool_facts(lv, lvs))
                elif tags.MARKER in lv.tags:
                    self.facts["volumes"].append(volume_facts(lv))
        return None

    def plan(self, current, desired):
        plan = Plan()
        # A typo in ``vgs`` would otherwise look like an empty volume group.
        for name in self.missing:
            plan.warn(f"volume group {name} does not exist on this host")
        return plan

    def result(self, current, desired, plan, applied):
        return dict(self.facts)
