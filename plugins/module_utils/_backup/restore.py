# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A guest's disks restored from a kept backup point (the guest_restore module).

Runs on the blade that receives the disks.  By default each disk becomes a NEW thin
volume ``<volume>-restored-<label>`` (the guest's own disks are not touched); with
``overwrite_disks`` the guest's own volume is overwritten in place, which is refused
unless the guest is shut off and the volume is not open.

The backup blade reads the whole point and sends its non-zero 64 KiB blocks (a new thin
volume, or one discarded first, reads as zeros elsewhere), with a checksum per frame;
the sha256 of the whole point must equal the manifest's (the digest verified at backup
time) and the restored volume's.  A volume being written carries ``ob_restoring``: a
run killed midway leaves it tagged, and the next run removes and redoes it; a restored
one carries ``ob_restored=<label>`` and ``ob_sha256``, so a re-run changes nothing.
"""

from __future__ import annotations

from ansible_collections.openblade.kvm.plugins.module_utils._backup import names, stream
from ansible_collections.openblade.kvm.plugins.module_utils._backup.target import Target, ssh_prefix
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import STOPPED
from ansible_collections.openblade.kvm.plugins.module_utils._lock import resource_lock
from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands, sizes, tags
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.report import Lvm
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import Plan, ReconcileError, Resource
from ansible_collections.openblade.kvm.plugins.module_utils._validate import lvm_name

RESTORING = "ob_restoring"
RESTORED = "ob_restored"


class Restore(Resource):
    def __init__(self, hv, runner, remote_runner, params, transfer=stream.transfer, lock_dir=None):
        self.hv = hv
        self.runner = runner
        self.lvm = Lvm(runner)
        self.p = params
        self.name = params["name"]
        self.label = names.check_label(params["label"]) if params.get("label") else None
        for key in ("vg", "pool"):
            if params.get(key):
                lvm_name(params[key], key, kind="vg" if key == "vg" else "lv")
        for disk, volume in (params.get("volumes") or {}).items():
            lvm_name(volume, f"volumes.{disk}")
        self.ssh = ssh_prefix(
            params["source"], params["ssh_user"], params["ssh_port"], params["ssh_identity"]
        )
        self.remote = remote_runner
        self.transfer = transfer
        self.lock_dir = lock_dir
        self.jobs = []
        self.facts = {}

    def lock(self):
        kwargs = {"lock_dir": self.lock_dir} if self.lock_dir else {}
        return resource_lock("domain", self.name, timeout=120, **kwargs)

    def observe(self):
        self.store = Target(self.remote, None, None, self.p["backup_dir"], self.name, None)
        complete, _partial = self.store.definitions()
        if not complete:
            raise ReconcileError(
                f"no complete backup of guest {self.name} in {self.p['backup_dir']} on {self.store.host}",
                guest=self.name,
            )
        manifests = {label: self.store.read_manifest(label) for label in complete}
        label = self.label or max(manifests, key=lambda item: manifests[item]["created"])
        if label not in manifests:
            raise ReconcileError(
                f"label: no complete backup {label!r} of guest {self.name} on {self.store.host} "
                f"(kept: {', '.join(sorted(manifests, key=lambda i: manifests[i]['created']))})",
                option="label",
            )
        self.label, self.manifest = label, manifests[label]
        wanted = self.p.get("disks") or sorted(self.manifest["disks"])
        unknown = sorted(set(wanted) - set(self.manifest["disks"]))
        if unknown:
            raise ReconcileError(
                f"disks: {', '.join(unknown)} not in backup {label} of {self.name} (it has "
                f"{', '.join(sorted(self.manifest['disks']))})",
                option="disks",
            )
        self.dom = self.hv.lookup(self.name)
        self.state = self.hv.state(self.dom) if self.dom is not None else None
        lvs_by_vg = {}
        current = {}
        for disk in wanted:
            entry = self.manifest["disks"][disk]
            src_vg, volume = entry["volume"].split("/")
            vg = self.p.get("vg") or src_vg
            name = (
                volume
                if self.p["overwrite_disks"]
                else (self.p.get("volumes") or {}).get(disk, f"{volume}-restored-{label}")
            )
            lvm_name(name, "volumes")
            if vg not in lvs_by_vg:
                lvs_by_vg[vg] = self.lvm.lvs(vg) if vg in self.lvm.vgs() else None
            if lvs_by_vg[vg] is None:
                raise ReconcileError(f"vg: volume group {vg} does not exist on this blade", option="vg")
            lv = lvs_by_vg[vg].get(name)
            point_vg, point = entry["point"].split("/")
            job = {
                "disk": disk,
                "vg": vg,
                "name": name,
                "lv": lv,
                "size": entry["size"],
                "sha256": entry["sha256"],
                "point": point,
                "point_vg": point_vg,
                "pool": self.p.get("pool") or entry.get("pool"),
            }
            self.jobs.append(job)
            current[disk] = self._state(job)
        return current

    def _state(self, job):
        lv = job["lv"]
        if lv is None:
            return None
        if self.p["overwrite_disks"]:
            digest = stream.device_digest(self.runner, lv.path) if lv.active else None
            return {"volume": lv.full_name, "sha256": digest}
        if tags.MARKER not in lv.tags or (RESTORING not in lv.tags and tags.value(lv.tags, RESTORED) is None):
            raise ReconcileError(
                f"{lv.full_name} exists and was not restored by guest_restore; refusing to "
                "overwrite it (choose another name in volumes)"
            )
        if RESTORING in lv.tags:
            return {"volume": lv.full_name, "sha256": None, "interrupted": True}
        return {
            "volume": lv.full_name,
            "sha256": tags.value(lv.tags, tags.SHA256),
            "label": tags.value(lv.tags, RESTORED),
        }

    def desired(self, current):
        return {
            job["disk"]: {"volume": f"{job['vg']}/{job['name']}", "sha256": job["sha256"]}
            | ({} if self.p["overwrite_disks"] else {"label": self.label})
            for job in self.jobs
        }

    def plan(self, current, desired):
        plan = Plan()
        todo = [job for job in self.jobs if current[job["disk"]] != desired[job["disk"]]]
        if todo and self.p["overwrite_disks"]:
            self._refuse_overwrite(todo)
        for job in todo:
            full = f"{job['vg']}/{job['name']}"
            if self.p["overwrite_disks"]:
                plan.add(
                    f"discard every block of {full} (the guest's disk, overwritten)",
                    lambda job=job: self._discard(job),
                )
            else:
                if job["lv"] is not None:
                    plan.add(
                        f"remove {full}, left by an interrupted restore",
                        lambda job=job: self.lvm.run(
                            commands.LVREMOVE.argv(positional=[job["lv"].full_name])
                        ),
                    )
                if not job["pool"]:
                    raise ReconcileError(
                        f"pool: the backup does not name the thin pool of {job['disk']}; set pool"
                    )
                plan.add(
                    f"create thin volume {full} of {sizes.human(job['size'])} in thin pool {job['pool']}",
                    lambda job=job: self._create(job),
                )
            plan.add(
                f"copy backup point {job['point_vg']}/{job['point']} of {self.store.host} into {full} "
                f"and compare its sha256 with the backup's",
                lambda job=job: self._copy(job),
            )
        self.facts["volumes"] = {job["disk"]: f"{job['vg']}/{job['name']}" for job in self.jobs}
        return plan

    def _refuse_overwrite(self, todo):
        if self.dom is None or self.state != STOPPED:
            why = "is not defined on this blade" if self.dom is None else f"is {self.state}"
            raise ReconcileError(
                f"overwrite_disks: guest {self.name} {why}; its disks are overwritten only "
                "while it is defined here and shut off",
                guest=self.name,
            )
        for job in todo:
            if job["lv"] is None:
                raise ReconcileError(
                    f"overwrite_disks: {job['vg']}/{job['name']} does not exist on this blade"
                )
            if job["lv"].open or job["lv"].size != job["size"]:
                raise ReconcileError(
                    f"overwrite_disks: {job['lv'].full_name} is open or its size differs from the "
                    f"backup's ({job['size']} bytes); refusing to overwrite it"
                )

    def _create(self, job):
        self.lvm.run(
            commands.LVCREATE.argv(
                type="thin",
                virtualsize=sizes.argv_bytes(job["size"]),
                thinpool=job["pool"],
                name=job["name"],
                addtag=[tags.MARKER, RESTORING],
                positional=[job["vg"]],
            )
        )

    def _discard(self, job):
        lv = job["lv"]
        if not lv.active:
            self.lvm.run(commands.LVCHANGE.argv(activate="y", positional=[lv.full_name]))
        self.runner.run(["blkdiscard", lv.path])

    def _copy(self, job):
        point = f"{job['point_vg']}/{job['point']}"
        self.remote.run(["lvchange", "--activate", "y", "--ignoreactivationskip", point])
        path = f"/dev/{job['vg']}/{job['name']}"
        try:
            summary = self.transfer(
                stream.local(stream.remote(self.ssh, stream.python_argv(stream.SENDER, f"/dev/{point}"))),
                stream.local(stream.python_argv(stream.RECEIVER, path)),
                None,
            )
        finally:
            self.remote.run(commands.LVCHANGE.argv(activate="n", positional=[point]))
        here = stream.device_digest(self.runner, path)
        if not summary["digest"] == here == job["sha256"]:
            raise ReconcileError(
                f"{job['vg']}/{job['name']} differs after the restore: sha256 {here} here, "
                f"{summary['digest']} of the point, {job['sha256']} at backup time"
            )
        if not self.p["overwrite_disks"]:
            self.lvm.run(
                commands.LVCHANGE.argv(
                    deltag=RESTORING,
                    addtag=[tags.kv(RESTORED, self.label), tags.kv(tags.SHA256, here)],
                    positional=[f"{job['vg']}/{job['name']}"],
                )
            )
        self.facts.setdefault("disks", {})[job["disk"]] = {
            "volume": f"{job['vg']}/{job['name']}",
            "sha256": here,
            "bytes_sent": summary["sent"],
        }

    def result(self, current, desired, plan, applied):
        return dict(self.facts, guest=self.name, label=self.label, source=self.store.host)
