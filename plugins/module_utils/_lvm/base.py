# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every LVM resource shares: the lock, observing one VG, the overcommit policy,
activation and resizing of thin volumes, and in-use checks."""

from __future__ import annotations

from ansible_collections.openblade.kvm.plugins.module_utils._lock import resource_lock
from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands, sizes, tags
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.inuse import Domains, users_of
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.report import Lvm
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
    Resource,
)
from ansible_collections.openblade.kvm.plugins.module_utils._validate import lvm_name

LOCK_KIND = "lvm"


def max_overcommit(pool):
    """The pool's overcommit limit from its tag, or None when it has none."""
    text = tags.value(pool.tags, tags.MAX_OVERCOMMIT)
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def format_ratio(ratio):
    """3.0 -> '3', 2.5 -> '2.5': the form stored in the tag and compared on re-runs."""
    return f"{ratio:g}"


def writable_virtual_size(pool, lvs):
    """Sum of the virtual sizes of the pool's writable thin volumes.

    Read-only volumes (golden images, backup snapshots) can never take more pool space
    than they hold now, so they do not count towards overcommit.
    """
    return sum(lv.size for lv in lvs.values()
               if lv.is_thin and lv.pool == pool.name and not lv.read_only)


def overcommit(pool, lvs, extra=0):
    return (writable_virtual_size(pool, lvs) + extra) / pool.size if pool.size else 0.0


class LvmResource(Resource):
    """A resource in one volume group.  Subclasses call :meth:`observe_vg` first."""

    def __init__(self, runner, vg, lock_dir=None, domains=None, proc_root="/", sys_root="/"):
        self.lvm = Lvm(runner)
        self.vg = lvm_name(vg, "vg", kind="vg")
        self.lock_dir = lock_dir
        self.domains = domains if domains is not None else Domains()
        self.proc_root = proc_root
        self.sys_root = sys_root
        self.vg_info = None
        self.lvs = {}
        self.pending = {}
        self.in_use = {}

    # --- lock and observation ----------------------------------------------------------

    @property
    def lock_name(self):
        return self.vg

    def lock(self):
        kwargs = {"lock_dir": self.lock_dir} if self.lock_dir else {}
        return resource_lock(LOCK_KIND, self.lock_name, **kwargs)

    def observe_vg(self):
        self.vg_info = self.lvm.vgs().get(self.vg)
        self.lvs = self.lvm.lvs(self.vg) if self.vg_info else {}
        self.pending = {}

    def refresh(self):
        """Re-read the LVs after a real run, for the facts in the result."""
        self.lvs = self.lvm.lvs(self.vg)

    @property
    def extent(self):
        return self.vg_info.extent_size if self.vg_info else sizes.DEFAULT_EXTENT

    def run(self, argv):
        return lambda: self.lvm.run(argv)

    def observe_users(self, names):
        """Read who uses each of these LVs (those the run may remove or shrink), in observe:
        the check asks libvirt, which a run that removes nothing never needs, and the plan
        decides on what was read here."""
        self.in_use = {name: users_of(self.lvs[name], self.domains, self.proc_root, self.sys_root)
                       for name in names if name in self.lvs}

    def users(self, lv):
        """Who uses ``lv``, as :meth:`observe_users` read it."""
        return self.in_use[lv.name]

    # --- prerequisites -----------------------------------------------------------------

    def thin_pool(self, name, option="pool"):
        """The thin pool ``name``, None when it (or the VG) does not exist yet."""
        pool = self.lvs.get(name)
        if pool is not None and not pool.is_thin_pool:
            raise ReconcileError(f"{option}: {pool.full_name} exists but is not a thin pool "
                                 f"(layout {','.join(pool.layout)})")
        return pool

    def add_or_fail_missing(self, plan, description, argv, missing):
        """Plan ``description`` even though ``missing`` (a VG, pool or origin) is absent.

        In check mode a play may create it in an earlier task, so the plan shows what
        would follow, with a warning; a real run fails at this action, naming what is missing.
        """
        if missing is None:
            plan.add(description, self.run(argv))
            return

        def fail():
            raise ReconcileError(f"{missing} does not exist")
        plan.warn(f"{missing} does not exist (yet): the planned actions that need it fail "
                  "unless an earlier task creates it")
        plan.add(description, fail)

    def missing_pool(self, pool_name):
        if self.vg_info is None:
            return f"volume group {self.vg}"
        if pool_name not in self.lvs:
            return f"thin pool {self.vg}/{pool_name}"
        return None

    # --- policy --------------------------------------------------------------------------

    def check_overcommit(self, plan, pool, extra, allow, what, missing=None):
        """Refuse ``what`` (adding ``extra`` writable bytes) past the pool's max_overcommit.

        Earlier actions of the same plan count too (``pending``, per pool): a batch of
        ten clones is checked as ten clones, not ten times as one.  When the pool is
        ``missing`` (check mode before the task that creates it), say that it cannot be checked.
        """
        if pool is None:
            if missing is not None:
                plan.warn(f"the overcommit check of {what} cannot run until {missing} exists: the "
                          "real run checks it")
            return
        pending = self.pending.get(pool.name, 0) + extra
        self.pending[pool.name] = pending
        limit = max_overcommit(pool)
        if limit is None:
            return
        ratio = overcommit(pool, self.lvs, pending)
        if ratio <= limit:
            return
        message = (f"{what} would overcommit thin pool {pool.full_name} to {ratio:.2f}x its size "
                   f"({sizes.human(pool.size)}), above its max_overcommit of {format_ratio(limit)}")
        if not allow:
            raise ReconcileError(message + " (set allow_overcommit: true to accept this)",
                                 overcommit=round(ratio, 2), max_overcommit=limit)
        plan.warn(message + " (allowed by allow_overcommit)")

    def release(self, lv):
        """Count the removal of ``lv`` (planned earlier) in later overcommit checks."""
        if lv.pool and not lv.read_only:
            self.pending[lv.pool] = self.pending.get(lv.pool, 0) - lv.size

    # --- thin volumes --------------------------------------------------------------------

    def activate(self, plan, lv):
        """Make ``lv`` active now and at boot; thin snapshots carry an activation-skip flag."""
        if lv.skip_activation:
            plan.add(f"clear the activation-skip flag of {lv.full_name} so it activates at boot",
                     self.run(commands.LVCHANGE.argv(activationskip="n", positional=[lv.full_name])))
        if not lv.active:
            plan.add(f"activate {lv.full_name}",
                     self.run(commands.LVCHANGE.argv(activate="y", positional=[lv.full_name])))

    def resize(self, plan, lv, wanted, force=False, allow_overcommit=False):
        """Grow ``lv`` to ``wanted`` bytes (already rounded); shrinking needs ``force``."""
        old, new = sizes.human(lv.size), sizes.human(wanted)
        if wanted > lv.size:
            pool = self.lvs.get(lv.pool) if lv.pool else None
            if not lv.read_only:
                self.check_overcommit(plan, pool, wanted - lv.size, allow_overcommit,
                                      f"growing {lv.full_name} to {new}")
            plan.add(f"extend {lv.full_name} from {old} to {new}",
                     self.run(commands.LVEXTEND.argv(size=sizes.argv_bytes(wanted),
                                                     positional=[lv.full_name])))
        elif wanted < lv.size:
            if not force:
                raise ReconcileError(
                    f"size: refusing to shrink {lv.full_name} from {old} to {new}: everything "
                    f"beyond {new} would be lost (set force: true to shrink it)")
            plan.warnings.extend(self.users(lv).refuse("shrink", force=True))
            plan.add(f"shrink {lv.full_name} from {old} to {new}",
                     self.run(commands.LVREDUCE.argv(size=sizes.argv_bytes(wanted),
                                                     positional=[lv.full_name])))

    def volume_facts(self, lv):
        """What the modules return about one thin volume (empty when it does not exist)."""
        if lv is None:
            return {}
        return {
            "vg": lv.vg, "name": lv.name, "path": lv.path, "pool": lv.pool, "size": lv.size,
            "origin": lv.origin, "active": lv.active, "read_only": lv.read_only,
            "tags": list(lv.tags),
        }
