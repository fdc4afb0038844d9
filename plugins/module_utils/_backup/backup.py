# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One backup point of one guest, sent to another blade (the guest_backup module).

A run with a new ``label`` always makes a new backup point, like lvm_snapshot with a new
label, even when nothing changed (it then sends nothing, and the point still counts for
retention); the same label again, once complete, changes nothing but retention.

The plan, in order (each step one action, so a failure names where it stopped):

1. remove what an interrupted run left: source snapshots still ``ob_backup_pending``,
   target points still ``ob_backup_incomplete``, ``.partial`` definition directories;
2. freeze the guest (quiesce), take a read-only thin snapshot of every writable disk, thaw;
3. per disk: the ranges to send, from the pool's metadata (``thin_delta`` against the
   base, or against the golden image the disk was cloned from when the target has the
   same one, or the allocated ranges of the snapshot when there is no base); a new
   point on the target (a writable snapshot of the base's point, of its golden image, or
   a new volume); the ranges sent with a checksum per frame, each MiB block they touch
   read once here and hashed, the same blocks read back there after apply and compared
   (every block when there is no base manifest; see :mod:`.stream`), and the point's block
   manifest written, its sha256 the point's digest;
4. the guest's definition (domain XML, seed ISOs, address ledger entries, a manifest);
5. per disk: the point made read-only and good, then the source snapshot made the base
   and the previous base removed;
6. retention on the target (points and definitions).

Nothing becomes good before step 5, so a run killed anywhere leaves the previous base
and points as they were; the next run removes the leftovers and starts again.
"""

from __future__ import annotations

import contextlib
import json
import os
import time

from ansible_collections.openblade.kvm.plugins.module_utils._backup import names, retention, stream
from ansible_collections.openblade.kvm.plugins.module_utils._backup.quiesce import MODES, Quiesce
from ansible_collections.openblade.kvm.plugins.module_utils._backup.target import Target, ssh_prefix
from ansible_collections.openblade.kvm.plugins.module_utils._cluster import ledger_path, read_ledger
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import model
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import RUNNING
from ansible_collections.openblade.kvm.plugins.module_utils._lock import resource_lock
from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands, tags, thinmap
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.report import Lvm
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import Plan, ReconcileError, Resource
from ansible_collections.openblade.kvm.plugins.module_utils._validate import lvm_name, one_of

DIGEST_NOTE = (
    f"sha256 of the disk's block manifest ({stream.FORMAT}: a header line, then the sha256 "
    f"of each {stream.DIGEST_BLOCK}-byte block)"
)
LOCK_KIND = "domain"  # the lock guest and guest_migrate take: a guest is never moved mid-backup


class Disk:
    """One writable disk of the guest and what this run does with it."""

    def __init__(self, target, lv):
        self.target = target  # vda, vdb...
        self.lv = lv
        self.base = None  # the source snapshot of the last verified backup
        self.base_point = None  # its point on the target
        self.base_manifest = None  # the base point's block manifest on the target, if it has one
        self.golden = None  # (source golden LV, target golden LV) when that is the starting point
        self.stale = []  # source snapshots left pending by an interrupted run
        self.old_bases = []  # bases to remove once this run's is verified
        self.digest = None
        self.estimated_bytes = None  # check mode: what the run would send, as of now
        self.snapshot = None
        self.point = None
        self.mode = None
        self.result = {}

    @property
    def volume(self):
        return self.lv.name


class Backup(Resource):
    def __init__(
        self,
        hv,
        runner,
        remote_runner,
        params,
        check_mode=False,
        clock=time.time,
        transfer=stream.transfer,
        lock_dir=None,
    ):
        self.hv = hv
        self.runner = runner
        self.lvm = Lvm(runner)
        self.p = params
        self.name = params["name"]
        self.label = names.check_label(params["label"])
        self.quiesce_mode = one_of(params["quiesce"], "quiesce", MODES)
        self.policy = retention.check(params.get("retention"))
        for key in ("target_vg", "target_pool"):
            if params.get(key):
                lvm_name(params[key], key, kind="vg" if key == "target_vg" else "lv")
        if params["quiesce_timeout"] < 1:
            raise ReconcileError(f"quiesce_timeout: {params['quiesce_timeout']} must be at least 1 second")
        self.remote = remote_runner
        self.check_mode = check_mode
        self.clock = clock
        self.transfer = transfer
        self.lock_dir = lock_dir
        self.ssh = ssh_prefix(
            params["target"], params["ssh_user"], params["ssh_port"], params["ssh_identity"]
        )
        self.disks = []
        self.facts = {}
        self.seconds = {}  # where the run's time went, per step (the result's `seconds`)
        self.warnings = []

    def lock(self):
        kwargs = {"lock_dir": self.lock_dir} if self.lock_dir else {}
        return resource_lock(LOCK_KIND, self.name, timeout=120, **kwargs)

    # --- observe ---------------------------------------------------------------------------------

    def observe(self):
        with self._clocked("observe"):
            return self._observe()

    @contextlib.contextmanager
    def _clocked(self, step):
        """Adds the block's wall time to ``seconds[step]``."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[step] = round(self.seconds.get(step, 0) + time.monotonic() - started, 2)

    def _timed(self, step, action):
        """``action``, clocked as ``step`` when it runs."""

        def timed():
            with self._clocked(step):
                return action()

        return timed

    def _observe(self):
        self.dom = self.hv.lookup(self.name)
        if self.dom is None:
            raise ReconcileError(f"guest {self.name} is not defined on this blade", guest=self.name)
        self.xml = self.hv.inactive_xml(self.dom)
        self.root = model.parse(self.xml)
        self.fields = model.read_fields(self.root)
        self.uuid = self.fields["uuid"]
        self.state = self.hv.state(self.dom)
        self._find_disks()
        vg = self.p.get("target_vg") or self.disks[0].lv.vg
        pool = self.p.get("target_pool") or self.disks[0].lv.pool
        self.target = Target(self.remote, vg, pool, self.p["backup_dir"], self.name, self.uuid)
        self.target.observe()
        if not self.target.vg_exists:
            raise ReconcileError(f"target_vg: volume group {vg} does not exist on {self.target.host}")
        complete, self.partial_dirs = self.target.definitions()
        for disk in self.disks:
            self._find_base(disk)
        labels = [set(self.target.points(disk.volume)) for disk in self.disks]
        backups = set.intersection(*labels) & set(complete)
        if self.check_mode and self.label not in backups:
            for disk in self.disks:  # a read of the pool's metadata, so here, not in plan
                disk.estimated_bytes = self._estimate(disk)
        return {"backups": sorted(backups, key=self._point_created)}

    def _point_created(self, label):
        return max(names.created(self.target.points(disk.volume)[label]) for disk in self.disks)

    def _find_disks(self):
        self.source_lvs = self.lvm.lvs_by_vg()
        for disk in self.fields["disks"]:
            path = disk["path"]
            if disk["readonly"] or disk["device"] != "disk":
                continue
            parts = path.split("/") if path else []
            lv = None
            if disk["type"] == "block" and len(parts) == 4 and parts[1] == "dev":
                lv = self.source_lvs.get(parts[2], {}).get(parts[3])
            if lv is None or not lv.is_thin:
                raise ReconcileError(
                    f"disk {disk['target']} ({path}) of guest {self.name} is not an LVM thin "
                    "volume; only those can be backed up",
                    guest=self.name,
                )
            self.disks.append(Disk(disk["target"], lv))
        if not self.disks:
            raise ReconcileError(f"guest {self.name} has no writable disk to back up", guest=self.name)

    def _find_base(self, disk):
        lvs = self.source_lvs[disk.lv.vg]
        bases = sorted(
            (lv for lv in lvs.values() if names.ours(lv, disk.volume, self.uuid, names.BASE)),
            key=names.created,
        )
        disk.stale = [lv for lv in lvs.values() if names.ours(lv, disk.volume, self.uuid, names.PENDING)]
        disk.old_bases = bases[:-1]  # a run killed between its steps 5a and 5b leaves two
        points = self.target.points(disk.volume)
        if bases:
            base = bases[-1]
            point = points.get(names.label_of(base))
            if point is not None and tags.value(point.tags, tags.SHA256) == tags.value(
                base.tags, tags.SHA256
            ):
                disk.base, disk.base_point = base, point
                manifest = self.target.blocks_path(names.label_of(base), disk.target)
                if base.size == disk.lv.size and self.target.has_file(manifest):
                    disk.base_manifest = manifest  # else (resized, an older backup): hash it all
            else:
                disk.old_bases = bases  # its point is gone (pruned by hand, another target): start afresh
        origin = lvs.get(disk.lv.origin) if disk.lv.origin else None
        if disk.base is None and origin is not None and origin.pool == disk.lv.pool:
            there = self.target.golden(origin)
            if there is not None:
                disk.golden = (origin, there)

    def desired(self, current):
        backups = list(current["backups"])
        if self.label not in backups:
            backups.append(self.label)
        return {"backups": backups}

    # --- plan --------------------------------------------------------------------------------------

    def plan(self, current, desired):
        plan = Plan()
        for warning in self.warnings:
            plan.warn(warning)
        fresh = self.label not in current["backups"]
        if fresh:
            self._plan_backup(plan)
        self._plan_retention(plan, desired["backups"] if fresh else current["backups"])
        return plan

    def _plan_backup(self, plan):
        self.quiesce = Quiesce(self.hv, self.dom, self.quiesce_mode, self.p["quiesce_timeout"], self.state)
        warning = self.quiesce.preflight(self.name)  # `required` fails here: before any snapshot
        if warning:
            plan.warn(warning)
        host = self.target.host
        for disk in self.disks:
            disk.snapshot = names.source_snapshot(disk.volume, self.label)
            lvm_name(disk.snapshot, "label")
            disk.point = names.point(self.name, disk.target, self.label)
            lvm_name(disk.point, "label")
            for lv in disk.stale:
                plan.add(
                    f"remove {lv.full_name}, left pending by an interrupted backup",
                    self._timed("leftovers", lambda lv=lv: self._remove_here(lv)),
                )
            for lv in self.target.incomplete(disk.volume):
                plan.add(
                    f"remove {self.target.vg}/{lv.name} on {host}, left incomplete by an interrupted backup",
                    self._timed("leftovers", lambda lv=lv: self.target.remove(lv.name)),
                )
            existing = self.source_lvs[disk.lv.vg].get(disk.snapshot)
            if existing is not None and existing not in disk.stale:
                raise ReconcileError(
                    f"{existing.full_name} exists but is not a pending backup snapshot of "
                    f"{disk.lv.full_name}; refusing to replace it"
                )
        for entry in self.partial_dirs:
            plan.add(
                f"remove {self.target.backup_dir}/{self.name}/{entry} on {host}, left by an "
                "interrupted backup",
                self._timed("leftovers", lambda entry=entry: self.target.remove_definition(entry)),
            )
        snaps = ", ".join(f"{disk.lv.vg}/{disk.snapshot}" for disk in self.disks)
        plan.add(
            f"take read-only snapshots {snaps} of guest {self.name} (quiesce: {self.quiesce_mode})",
            self._timed("snapshot", self._snapshot),
        )
        for disk in self.disks:
            disk.mode = self._mode(disk)
            self.facts.setdefault("disks", {})[disk.target] = self._disk_facts(disk)
            plan.add(
                f"send {disk.mode} of {disk.lv.full_name} to {self.target.vg}/{disk.point} on {host} "
                "and compare the sha256 of each block read here with the copy's after apply",
                lambda disk=disk: self._send(disk),
            )
        plan.add(
            f"write the definition of {self.name} (domain XML, seed, address ledger entries, "
            f"manifest) to {self.target.definition_dir(self.label)} on {host}",
            self._timed("definition", self._definition),
        )
        for disk in self.disks:
            old = [lv.full_name for lv in disk.old_bases + ([disk.base] if disk.base else [])]
            plan.add(
                f"mark {self.target.vg}/{disk.point} on {host} verified; make {disk.lv.vg}/{disk.snapshot} "
                f"the base of the next backup" + (f" and remove {', '.join(old)}" if old else ""),
                self._timed(f"{disk.target} commit", lambda disk=disk: self._commit(disk)),
            )

    def _mode(self, disk):
        if disk.base is not None:
            return f"the ranges changed since backup {names.label_of(disk.base)}"
        if disk.golden is not None:
            return f"the ranges that differ from golden image {disk.golden[0].name}"
        return "the allocated ranges (no base)"

    def _disk_facts(self, disk):
        facts = {
            "volume": disk.lv.full_name,
            "snapshot": f"{disk.lv.vg}/{disk.snapshot}",
            "point": f"{self.target.vg}/{disk.point}",
            "size": disk.lv.size,
            "base": names.label_of(disk.base) if disk.base else None,
            "golden": disk.golden[0].name if disk.golden else None,
        }
        facts["estimated_bytes"] = disk.estimated_bytes
        return facts

    def _estimate(self, disk):
        """Bytes the run would send, as of now (against the live volume): check mode only,
        because the real run measures its own snapshot."""
        try:
            ranges = self._ranges(disk, disk.volume)
        except ReconcileError as exc:
            self.warnings.append(f"cannot estimate what {disk.lv.full_name} would send: {exc}")
            return None
        return sum(length for _offset, length, kind in ranges[0] if kind == "d")

    # --- the actions -------------------------------------------------------------------------------

    def _snapshot(self):
        stamp = int(self.clock())
        pause = self.state == RUNNING and len(self.disks) > 1 and not self.quiesce.usable
        with self.quiesce.frozen(self.warnings.append):
            if pause:  # several disks without a freeze: one instant for all of them
                self.hv.suspend(self.dom)
            try:
                for disk in self.disks:
                    self.lvm.run(
                        commands.LVCREATE.argv(
                            snapshot=True,
                            permission="r",
                            activationskip="n",
                            addtag=names.source_tags(disk.volume, self.label, self.uuid, stamp),
                            name=disk.snapshot,
                            positional=[disk.lv.full_name],
                        )
                    )
            finally:
                if pause:
                    self.hv.resume(self.dom)
        self.facts["consistency"] = self.quiesce.consistency

    def _ranges(self, disk, name):
        """(the ranges to send, with their kinds; the ranges to read and hash) of volume ``name``.

        With a base manifest only the changed ranges are hashed: thin_delta says every other
        block maps to the same pool data as in the base, whose digests were verified then.
        Otherwise every allocated block is (the rest reads as zeros: a known digest).
        """
        vg, pool, size = disk.lv.vg, disk.lv.pool, disk.lv.size
        origin = disk.base or (disk.golden[0] if disk.golden else None)
        mapped, changed = thinmap.volume_ranges(
            self.runner, vg, pool, name, origin.name if origin else None, self.lock_dir
        )
        if origin is None:
            return [[offset, length, "d"] for offset, length in mapped], stream.cover(mapped, size)
        hashed = changed if disk.base_manifest else mapped
        return stream.with_kinds(changed, mapped, size), stream.cover(hashed, size)

    def _send(self, disk):
        with self._clocked(f"{disk.target} ranges"):
            ranges, hashed = self._ranges(disk, disk.snapshot)
        origin = disk.base_point or (disk.golden[1] if disk.golden else None)
        stamp = int(self.clock())
        with self._clocked(f"{disk.target} point"):
            path = self.target.create_point(
                disk.point,
                disk.lv.size,
                names.point_tags(disk.volume, disk.target, self.label, self.uuid, stamp),
                origin,
            )
        source = f"/dev/{disk.lv.vg}/{disk.snapshot}"
        options = stream.receiver_options(
            self.target.blocks_path(self.label, disk.target, partial=True),
            disk.base_manifest,
            tags.value(disk.base.tags, tags.SHA256) if disk.base_manifest else None,
        )
        # The receiver compares each block it reads back with the source's digest and fails
        # the transfer on the first that differs: the point then stays incomplete.
        with self._clocked(f"{disk.target} transfer"):
            summary = self.transfer(
                stream.local(stream.python_argv(stream.SENDER, source)),
                stream.local(stream.remote(self.ssh, stream.python_argv(stream.RECEIVER, path, options))),
                {"ranges": ranges, "hash": hashed},
            )
        blocks = sum(-(-length // stream.DIGEST_BLOCK) for _offset, length in hashed)
        compared = blocks if disk.base_manifest else -(-disk.lv.size // stream.DIGEST_BLOCK)
        if summary["hashed"] != blocks or summary["checked"] != compared:
            raise ReconcileError(
                f"the copy {self.target.vg}/{disk.point} on {self.target.host} was not verified: "
                f"{summary['hashed']} of {blocks} blocks hashed here, {summary['checked']} compared there; "
                "it stays incomplete and the base is unchanged"
            )
        disk.digest = summary["target_digest"]
        disk.result = {
            "ranges": len(ranges),
            "bytes_sent": summary["sent"],
            "bytes_read": summary["read"],
            "bytes_read_target": summary["target_read"],
            "bytes_discarded": summary["zeroed"],
            "sha256": disk.digest,
            "verified": "changed blocks" if disk.base_manifest else "every block",
            "mode": disk.mode,
        }
        self.facts["disks"][disk.target].update(disk.result)
        for key in ("bytes_read", "bytes_sent", "bytes_read_target"):
            self.facts[key] = self.facts.get(key, 0) + disk.result[key]

    def _definition(self):
        files = {"domain.xml": self.xml}
        seeds = []
        for disk in self.fields["disks"]:
            path = disk["path"]
            if (
                disk["readonly"]
                and path
                and os.path.dirname(path) == self.p["seed_dir"]
                and os.path.isfile(path)
            ):
                with open(path, "rb") as handle:
                    files[os.path.basename(path)] = handle.read()
                seeds.append(path)
        ledger = self._ledger_entries()
        files["ledger.json"] = json.dumps(ledger, indent=2, sort_keys=True) + "\n"
        files["manifest.json"] = (
            json.dumps(
                {
                    "guest": self.name,
                    "uuid": self.uuid,
                    "label": self.label,
                    "created": int(self.clock()),
                    "source": os.uname().nodename,
                    "consistency": self.facts.get("consistency"),
                    "seeds": seeds,
                    "digest": DIGEST_NOTE,
                    "disks": {
                        disk.target: {
                            "volume": disk.lv.full_name,
                            "size": disk.lv.size,
                            "pool": disk.lv.pool,
                            "point": f"{self.target.vg}/{disk.point}",
                            "sha256": disk.digest,
                            "blocks": os.path.basename(self.target.blocks_path(self.label, disk.target)),
                        }
                        for disk in self.disks
                    },
                },
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )
        self.target.write_definition(self.label, files)
        self.facts["definition"] = {
            "dir": self.target.definition_dir(self.label),
            "seeds": seeds,
            "ledger": ledger,
        }

    def _ledger_entries(self):
        """{partition: address} of this guest in the cluster's address ledger, if it has one."""
        cluster = self.fields.get("cluster")
        if not cluster or not self.p.get("ledger_dir"):
            return {}
        ledger = read_ledger(ledger_path(self.p["ledger_dir"], cluster)) or {}
        return {
            partition: members[self.name]
            for partition, members in sorted((ledger.get("partitions") or {}).items())
            if isinstance(members, dict) and self.name in members
        }

    def _commit(self, disk):
        self.target.finish_point(disk.point, disk.digest)
        full = f"{disk.lv.vg}/{disk.snapshot}"
        self.lvm.run(commands.LVCHANGE.argv(activate="n", positional=[full]))  # as finish_point
        self.lvm.run(
            commands.LVCHANGE.argv(
                deltag=names.PENDING,
                addtag=[names.BASE, tags.kv(tags.SHA256, disk.digest)],
                activationskip="y",
                positional=[full],
            )
        )
        for lv in disk.old_bases + ([disk.base] if disk.base else []):
            self._remove_here(lv)

    def _remove_here(self, lv):
        self.lvm.run(commands.LVREMOVE.argv(positional=[lv.full_name]))

    # --- retention ---------------------------------------------------------------------------------

    def _plan_retention(self, plan, backups):
        if not self.policy:
            return
        stamps = {}
        for disk in self.disks:
            for label, lv in self.target.points(disk.volume).items():
                stamps[label] = max(stamps.get(label, 0), names.created(lv))
        if self.label in backups and self.label not in stamps:
            stamps[self.label] = int(self.clock())
        self.facts["kept"], self.facts["pruned"] = retention.split(stamps, self.policy)
        for label in self.facts["pruned"]:
            for disk in self.disks:
                lv = self.target.points(disk.volume).get(label)
                if lv is not None:
                    plan.add(
                        f"remove backup point {self.target.vg}/{lv.name} on {self.target.host} "
                        "(beyond the retention)",
                        self._timed("retention", lambda lv=lv: self.target.remove(lv.name)),
                    )
            plan.add(
                f"remove {self.target.definition_dir(label)} on {self.target.host} (beyond the retention)",
                self._timed("retention", lambda label=label: self.target.remove_definition(label)),
            )

    def result(self, current, desired, plan, applied):
        warnings = list(plan.warnings) + [w for w in self.warnings if w not in plan.warnings]
        backups = current["backups"]
        if applied:
            backups = [label for label in desired["backups"] if label not in self.facts.get("pruned", [])]
        return dict(
            self.facts,
            **({"warnings": warnings} if warnings else {}),
            guest=self.name,
            label=self.label,
            target=self.target.host,
            backups=backups,
            seconds=self.seconds,
        )
