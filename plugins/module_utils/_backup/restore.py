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

Only a verified point is restored: every disk's point on the backup blade must carry
``ob_backup_point`` (a definition directory is written before its points are marked
good, so a run killed in between leaves a complete directory of an unverified backup).

With ``define`` the guest itself comes back (disaster recovery onto another blade): its
disks into volumes of their own names, its seed ISOs, its address ledger entries and its
domain with the same UUID, MACs and ownership marker, optionally started.  It is refused
while a guest of that name or UUID is defined here (other than this restore's own), on
the backup blade or on any of ``peers``: never two copies.  With ``as_guest`` a COPY is
defined instead, under that name with its own UUID, with no network interface and its
serial console in a file (what a restore test boots).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

from ansible_collections.openblade.kvm.plugins.module_utils._backup import definition, names, stream
from ansible_collections.openblade.kvm.plugins.module_utils._backup.target import (
    Target,
    point_active,
    ssh_prefix,
)
from ansible_collections.openblade.kvm.plugins.module_utils._cluster import (
    LEDGER_MODE,
    ledger_path,
    read_ledger,
    render_ledger,
)
from ansible_collections.openblade.kvm.plugins.module_utils._files import write_atomic
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import model
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import RUNNING, STOPPED
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.seed import write_seed
from ansible_collections.openblade.kvm.plugins.module_utils._lock import resource_lock
from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands, sizes, tags
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.report import Lvm
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import Plan, ReconcileError, Resource
from ansible_collections.openblade.kvm.plugins.module_utils._validate import domain_name, lvm_name

RESTORING = "ob_restoring"
RESTORED = "ob_restored"


class Restore(Resource):
    def __init__(
        self, hv, runner, remote_runner, params, transfer=stream.transfer, lock_dir=None, peers=None
    ):
        self.hv = hv
        self.runner = runner
        self.lvm = Lvm(runner)
        self.p = params
        self.name = domain_name(params["name"], "name")
        self.as_guest = domain_name(params["as_guest"], "as_guest") if params.get("as_guest") else None
        self.define = bool(params.get("define") or self.as_guest)
        if self.define and params["overwrite_disks"]:
            raise ReconcileError(
                "overwrite_disks: cannot be combined with define or as_guest (overwrite_disks rolls back "
                "the disks of a guest defined here; define brings a guest back where it is not)",
                option="overwrite_disks",
            )
        if params.get("start") and not self.define:
            raise ReconcileError("start: needs define or as_guest (only a guest restored here is started)",
                                 option="start")
        self.peers = peers or {}  # {host: SSH runner}: other blades that must not have the guest
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
        self.settled = False
        self.seed_content = {}

    def lock(self):
        kwargs = {"lock_dir": self.lock_dir} if self.lock_dir else {}
        return resource_lock("domain", self.as_guest or self.name, timeout=120, **kwargs)

    def observe(self):
        self.store = Target(self.remote, None, None, self.p["backup_dir"], self.name, None)
        complete, _partial = self.store.definitions()
        if not complete:
            raise ReconcileError(
                f"no complete backup of guest {self.name} in {self.p['backup_dir']} on {self.store.host}",
                guest=self.name,
            )
        manifests = {label: self.store.read_manifest(label) for label in complete}
        verified = self._verified(manifests)
        kept = ", ".join(sorted(verified, key=lambda i: manifests[i]["created"])) or "none"
        if not verified:
            raise ReconcileError(
                f"no verified backup of guest {self.name} on {self.store.host} (its points are missing or "
                "not marked ob_backup_point)",
                guest=self.name,
            )
        label = self.label or max(verified, key=lambda item: manifests[item]["created"])
        if label not in verified:
            why = "complete" if label not in manifests else "verified (a point is missing or incomplete)"
            raise ReconcileError(
                f"label: no {why} backup {label!r} of guest {self.name} on {self.store.host} "
                f"(verified: {kept})",
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
        if self.define and self.p.get("disks"):
            raise ReconcileError(
                "disks: define and as_guest restore every disk of the guest; leave disks out", option="disks"
            )
        self.dom = self.hv.lookup(self.as_guest or self.name)
        self.state = self.hv.state(self.dom) if self.dom is not None else None
        current = {}
        if self.define:
            current["guest"] = self._observe_guest(label)
        current["disks"] = self._observe_disks(wanted, label)
        return current

    # --- the guest's definition (define, as_guest) -------------------------------------------------

    def _backup_file(self, label, name):
        return self.remote.run(["cat", os.path.join(self.store.definition_dir(label), name)]).stdout

    def _observe_guest(self, label):
        self.xml = self._backup_file(label, "domain.xml")
        fields = model.read_fields(model.parse(self.xml))
        original = fields["uuid"]
        self.target = self.as_guest or self.name
        self.uuid = definition.copy_uuid(original, self.as_guest) if self.as_guest else original
        self.cluster = fields.get("cluster")
        here = {dom.UUIDString(): dom.name() for dom in self.hv.domains()}
        if here.get(self.uuid, self.target) != self.target:
            raise ReconcileError(
                f"guest {here[self.uuid]} on this blade has UUID {self.uuid}, the one {self.target} is "
                "restored with; refusing to define a second guest with it",
                guest=self.target,
            )
        if self.dom is not None and self.dom.UUIDString() != self.uuid:
            raise ReconcileError(
                f"a different guest named {self.target} (UUID {self.dom.UUIDString()}) is defined on this "
                f"blade; refusing to define the backup's ({self.uuid}) beside it",
                guest=self.target,
            )
        for host, runner in [(self.store.host, self.remote), *self.peers.items()]:
            found = definition.look_elsewhere(runner, self.target, self.uuid, os.uname().nodename)
            if found:
                raise ReconcileError(
                    f"{'; '.join(found)} ({host}); refusing to define {self.target} here as well: never two "
                    "copies of a guest (stop and undefine the other one first)",
                    guest=self.target,
                )
        self.settled = self.dom is not None  # defined here by an earlier run: its disks are its own now
        self.seeds = {}
        for path in self.manifest.get("seeds") or []:
            base = os.path.basename(path)
            here_path = os.path.join(self.p["seed_dir"], f"{self.as_guest}-{base}" if self.as_guest else base)
            self.seeds[path] = (here_path, base)
        if not self.settled:  # what the seeds will hold, read here so that desired() only decides
            for where, base in self.seeds.values():
                self.seed_content[where] = base64.b64decode(self.remote.run(
                    ["base64", "-w0", os.path.join(self.store.definition_dir(label), base)]).stdout)
        current = {
            "name": self.target,
            "uuid": self.uuid if self.dom is not None else None,
            "state": self.state,
            "seeds": {where: _file_digest(where) for where, _base in self.seeds.values()},
        }
        self.addresses = {}
        if not self.as_guest and self.cluster and self.p.get("ledger_dir"):
            self.addresses = json.loads(self._backup_file(label, "ledger.json") or "{}")
            self.ledger_path = ledger_path(self.p["ledger_dir"], self.cluster)
            ledger = read_ledger(self.ledger_path) or {}
            partitions = ledger.get("partitions") or {}
            held = {p: (members or {}).get(self.name) for p, members in partitions.items()}
            current["addresses"] = {p: held.get(p) for p in sorted(self.addresses)}
            self.merged, self.added = definition.merge_ledger(ledger, self.name, self.addresses)
        return current

    def _desired_guest(self, current):
        if self.settled:
            state = RUNNING if self.p.get("start") else current["state"]
            return dict(current, state=state)
        desired = {
            "name": self.target,
            "uuid": self.uuid,
            "state": RUNNING if self.p.get("start") else STOPPED,
            "seeds": {},
        }
        for where, _base in self.seeds.values():
            desired["seeds"][where] = hashlib.sha256(self.seed_content[where]).hexdigest()
        if "addresses" in current:
            desired["addresses"] = {p: self.addresses[p] for p in sorted(self.addresses)}
        return desired

    def _plan_guest(self, plan, current, desired):
        for where, digest in desired["seeds"].items():
            if current["seeds"].get(where) != digest:
                plan.add(f"write seed {where} from the backup", lambda where=where: write_seed(
                    where, self.seed_content[where]))
        if desired.get("addresses") != current.get("addresses") and self.added:
            added = ", ".join(f"{p}: {a}" for p, a in sorted(self.added.items()))
            plan.add(f"record {self.name}'s addresses ({added}) in {self.ledger_path}", self._write_ledger)
        if current["uuid"] is None:
            what = (
                f"a copy: no network interface, serial console in {definition.serial_log(self.target)}"
                if self.as_guest
                else "MACs and seed of the backup"
            )
            plan.add(f"define guest {self.target} (UUID {self.uuid}, {what})", self._define)
        if desired["state"] == RUNNING and current["state"] != RUNNING:
            plan.add(f"start guest {self.target}", lambda: self.hv.start(self.hv.lookup(self.target)))

    def _define(self):
        disks = {job["disk"]: f"/dev/{job['vg']}/{job['name']}" for job in self.jobs}
        seeds = {path: where for path, (where, _base) in self.seeds.items()}
        self.hv.define(definition.prepare_xml(self.xml, self.target, self.uuid, disks, seeds,
                                              copy=bool(self.as_guest)))

    def _write_ledger(self):
        with resource_lock("ledger", self.cluster, **({"lock_dir": self.lock_dir} if self.lock_dir else {})):
            ledger = read_ledger(self.ledger_path) or {}
            merged, _added = definition.merge_ledger(ledger, self.name, self.addresses)
            write_atomic(self.ledger_path, render_ledger(merged), LEDGER_MODE, what="address ledger")

    def _verified(self, manifests):
        """The labels whose every point on the backup blade is a verified point."""
        lvs = {}
        verified = []
        for label, manifest in manifests.items():
            good = True
            for entry in manifest["disks"].values():
                vg, point = entry["point"].split("/")
                if vg not in lvs:
                    lvs[vg] = self.store.lvm.lvs(vg) if vg in self.store.lvm.vgs() else {}
                lv = lvs[vg].get(point)
                good = good and lv is not None and names.POINT in lv.tags
            if good:
                verified.append(label)
        return verified

    def _volume_name(self, disk, volume, label):
        chosen = (self.p.get("volumes") or {}).get(disk)
        if self.p["overwrite_disks"]:
            return volume
        if self.as_guest:
            return chosen or f"{self.as_guest}-{disk}"
        if self.define:
            return chosen or volume
        return chosen or f"{volume}-restored-{label}"

    def _observe_disks(self, wanted, label):
        lvs_by_vg = {}
        current = {}
        for disk in wanted:
            entry = self.manifest["disks"][disk]
            src_vg, volume = entry["volume"].split("/")
            vg = self.p.get("vg") or src_vg
            name = self._volume_name(disk, volume, label)
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
            if self.define and self.settled:  # the guest's own disk now, written by it
                current[disk] = {"volume": f"{vg}/{name}", "guest": self.target}
            else:
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
        disks = {
            job["disk"]: {"volume": f"{job['vg']}/{job['name']}", "sha256": job["sha256"]}
            | ({} if self.p["overwrite_disks"] else {"label": self.label})
            for job in self.jobs
        }
        desired = {"disks": current["disks"] if self.define and self.settled else disks}
        if self.define:
            desired["guest"] = self._desired_guest(current["guest"])
        return desired

    def plan(self, current, desired):
        plan = self._plan_disks(current["disks"], desired["disks"])
        if self.define:
            self._plan_guest(plan, current["guest"], desired["guest"])
            self.facts["defined"] = {
                "name": self.target,
                "uuid": self.uuid,
                "seeds": sorted(where for where, _base in self.seeds.values()),
            } | ({"serial_log": definition.serial_log(self.target)} if self.as_guest else {})
        return plan

    def _plan_disks(self, current, desired):
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
        path = f"/dev/{job['vg']}/{job['name']}"
        with point_active(self.remote, point):
            summary = self.transfer(
                stream.local(stream.remote(self.ssh, stream.python_argv(stream.SENDER, f"/dev/{point}"))),
                stream.local(stream.python_argv(stream.RECEIVER, path)),
                None,
            )
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


def peer_runners(local, params, runner_class):
    """{host: SSH runner} of the ``peers`` option."""
    return {
        host: runner_class(local, host, params["ssh_user"], params["ssh_port"], params["ssh_identity"])
        for host in params.get("peers") or []
    }


def _file_digest(path):
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except FileNotFoundError:
        return None
