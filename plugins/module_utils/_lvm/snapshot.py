# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Point-in-time thin snapshots of a guest volume, for backups, with retention.

A snapshot is ``<volume>-snap-<label>``: the label (a date, a backup run ID) makes a
re-run with the same label a no-op.  Snapshots are read-only, so a backup cannot alter
them and they do not count towards the pool's overcommit.  Retention only ever counts
and prunes snapshots that carry our marker and name this volume in ``ob_snapshot_of``;
a snapshot someone made by hand is never touched.  A snapshot that is in use (a backup
has it mounted) is kept beyond the retention, with a warning, instead of being pulled
away.  The snapshot is crash-consistent, like pulling the power: freeze the guest's
filesystems first (qemu-guest-agent) for an application-consistent one.
"""

from __future__ import annotations

import re
import time

from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands, tags
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.base import LvmResource
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.inuse import InUse
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.volume import require_thin
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    Plan,
    ReconcileError,
)
from ansible_collections.openblade.kvm.plugins.module_utils._validate import (
    ValidationError,
    lvm_name,
    one_of,
)

_LABEL = re.compile(r"[A-Za-z0-9+_.-]+")


def snapshot_name(volume, label):
    return f"{volume}-snap-{label}"


def created(lv):
    text = tags.value(lv.tags, tags.CREATED)
    return int(text) if text and text.isdigit() else 0


class Snapshots(LvmResource):
    """The ``lvm_snapshot`` module."""

    def __init__(self, runner, params, clock=time.time, **kwargs):
        super().__init__(runner, params["vg"], **kwargs)
        self.volume = lvm_name(params["volume"], "volume")
        self.state = one_of(params.get("state", "present"), "state", ("present", "absent"))
        self.label = params.get("label")
        self.snapshot = None
        if self.label is not None:
            if not isinstance(self.label, str) or not _LABEL.fullmatch(self.label):
                raise ValidationError(f"label: {self.label!r} is not a valid snapshot label (allowed: "
                                      "A-Z a-z 0-9 + _ . -, e.g. '20240601T0300')", option="label")
            self.snapshot = lvm_name(snapshot_name(self.volume, self.label), "label")
        self.retention = params.get("retention")
        if self.retention is not None and (isinstance(self.retention, bool)
                                           or not isinstance(self.retention, int)
                                           or self.retention < 1):
            raise ValidationError(f"retention: {self.retention!r} is not a valid retention (allowed: "
                                  "integers from 1, the number of newest snapshots to keep)",
                                  option="retention")
        if self.label is None and (self.state == "absent" or self.retention is None):
            raise ValidationError("label: required, unless state is present and retention is set "
                                  "(which only prunes)", option="label")
        self.active = params.get("active", False)
        self.clock = clock
        self.pruned = []

    def _ours(self, lv):
        return (tags.MARKER in lv.tags and tags.SNAPSHOT in lv.tags
                and tags.value(lv.tags, tags.SNAPSHOT_OF) == self.volume)

    def _newest_first(self, entries):
        return sorted(entries, key=lambda entry: (entry[0], entry[1]), reverse=True)

    def observe(self):
        self.observe_vg()
        self.ours = {name: lv for name, lv in self.lvs.items() if self._ours(lv)}
        self.observe_users(self._removable())
        return {"snapshots": [name for _created, name in
                              self._newest_first((created(lv), n) for n, lv in self.ours.items())]}

    def _removable(self):
        """Our snapshots that the label (state absent) or the retention may remove."""
        names = [self.snapshot] if self.state == "absent" and self.snapshot in self.ours else []
        if self.retention is not None:
            creates = self.state == "present" and self.snapshot is not None and self.snapshot not in self.lvs
            newest = self._newest_first((created(lv), name) for name, lv in self.ours.items()
                                        if name not in names)
            names += [name for _created, name in newest[max(self.retention - creates, 0):]]
        return names

    def desired(self, current):
        """Our snapshots after this run, newest first: the label's created (or removed), and
        those beyond the retention pruned, except the ones in use (kept, with a warning)."""
        self.warnings = []
        existing = self.lvs.get(self.snapshot) if self.snapshot else None
        if existing is not None and self.snapshot not in self.ours:
            raise ReconcileError(f"{existing.full_name} exists but is not a snapshot of "
                                 f"{self.vg}/{self.volume} made by lvm_snapshot; refusing to treat "
                                 "it as one")
        entries = [(created(lv), name) for name, lv in self.ours.items()]
        if self.state == "present" and self.snapshot and existing is None:
            origin = self.lvs.get(self.volume)
            if origin is not None:
                require_thin(origin, "snapshots")
            self.stamp = int(self.clock())
            entries.append((self.stamp, self.snapshot))
        elif self.state == "absent" and existing is not None:
            self.in_use[self.snapshot].refuse("remove", force=False)
            entries = [entry for entry in entries if entry[1] != self.snapshot]
        kept = self._newest_first(entries)
        if self.retention is not None:
            kept = [entry for index, entry in enumerate(kept)
                    if index < self.retention or self._kept_in_use(entry[1])]
        return {"snapshots": [name for _created, name in kept]}

    def _kept_in_use(self, name):
        try:
            self.in_use[name].refuse("prune", force=False)
        except InUse as exc:
            self.warnings.append(f"{exc}; kept beyond the retention of {self.retention}")
            return True
        return False

    def plan(self, current, desired):
        plan = Plan()
        for warning in self.warnings:
            plan.warn(warning)
        wanted = desired["snapshots"]
        if self.state == "present" and self.snapshot in wanted and self.snapshot not in current["snapshots"]:
            self._plan_create(plan)
        elif self.state == "present" and self.snapshot in self.ours and self.active:
            self.activate(plan, self.ours[self.snapshot])
        # The label's own removal first, then what the retention prunes, newest first.
        gone = [name for name in current["snapshots"] if name not in wanted]
        for name in sorted(gone, key=lambda name: name != self.snapshot or self.state != "absent"):
            why = "" if name == self.snapshot and self.state == "absent" else \
                f" (beyond the retention of {self.retention})"
            self._remove(plan, self.ours[name], why)
        return plan

    def _plan_create(self, plan):
        origin = self.lvs.get(self.volume)
        argv = commands.LVCREATE.argv(
            snapshot=True, permission="r", activationskip="n" if self.active else None,
            addtag=[tags.MARKER, tags.SNAPSHOT, tags.kv(tags.SNAPSHOT_OF, self.volume),
                    tags.kv(tags.CREATED, self.stamp)],
            name=self.snapshot, positional=[f"{self.vg}/{self.volume}"])
        missing = None if origin is not None else (
            f"volume {self.vg}/{self.volume}" if self.vg_info else f"volume group {self.vg}")
        self.add_or_fail_missing(plan, f"create read-only snapshot {self.vg}/{self.snapshot} of "
                                 f"{self.vg}/{self.volume}", argv, missing)

    def _remove(self, plan, lv, why):
        self.pruned.append(lv.name)
        plan.add(f"remove snapshot {lv.full_name}{why}",
                 self.run(commands.LVREMOVE.argv(positional=[lv.full_name])))

    def result(self, current, desired, plan, applied):
        if applied and plan:
            self.refresh()
            self.ours = {name: lv for name, lv in self.lvs.items() if self._ours(lv)}
        snapshots = [{"name": name, "path": lv.path, "created": created(lv), "active": lv.active}
                     for _created, name, lv in sorted(((created(lv), n, lv) for n, lv in self.ours.items()),
                                                      reverse=True)]
        return {"snapshots": snapshots, "pruned": list(self.pruned)}
