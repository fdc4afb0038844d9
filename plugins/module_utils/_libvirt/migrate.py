# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Move one guest to another blade without shared storage (the guest_migrate module).

observe: where the guest is (this blade, the destination, both or neither) and the
volumes a previous run left tagged.  desired: the guest on the destination, in the
state it has now.  plan: the pre-flight (which refuses before anything changes, also in
check mode), then, in order:

1. tag the source volumes ``ob_migrated=<uuid>`` (kept, and findable, until the end);
2. create each thin volume on the destination, same VG, name, size and tags, tagged
   ``ob_migrating=<uuid>`` while the move is under way;
3. copy the cloud-init seed ISO (libvirt never copies read-only disks);
4. live: migrateToURI3 (see :mod:`.migrate_job`), the guest left paused on the
   destination; there, every range the source volume never provisioned is discarded (the
   disk mirror wrote zeros there, which a thin pool provisions), then the guest resumes;
   cold: a sparse copy, verified by digest, then define on the destination and undefine here;
5. check that the guest runs on the destination and answers (guest agent ping, or its
   vCPUs consuming time);
6. drop ``ob_migrating`` on the destination, then remove the source volumes and seed.

A failure in steps 2-4 rolls back what *this run* created on the destination (volumes,
seed, definition) and untags the source; the guest never stopped running here.  A
failure in step 5 keeps everything (the guest runs there, the source volumes stay
tagged), and the next run finishes step 6 once the guest answers.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import stat
import time

from ansible_collections.openblade.kvm.plugins.module_utils._files import sha256
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import cpumodel, model, remote
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import migrate_checks as checks
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import migrate_job as job
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import (
    PAUSED,
    RUNNING,
    STOPPED,
)
from ansible_collections.openblade.kvm.plugins.module_utils._lock import resource_lock
from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands, sizes, tags, thinmap
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.report import Lvm
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import Plan, ReconcileError, Resource
from ansible_collections.openblade.kvm.plugins.module_utils._validate import (
    ValidationError,
    domain_name,
    lvm_name,
)

try:
    import libvirt
except ImportError:  # reported by the module through missing_required_lib
    libvirt = None

LOCK_KIND = "domain"  # the same lock the domain module takes on a guest
MIGRATED = "ob_migrated"  # on the source volumes: moved away, removed once the guest answers
MIGRATING = "ob_migrating"  # on the destination volumes this run created, until it succeeds
_GIB = 2**30
TIMEOUT_FLOOR = 120
RETHIN_LOCK_WAIT = 10  # seconds; the guest waits paused for the re-thin


def seed_access(path):
    """(owner, group) names and octal mode of the seed at ``path``, to give its copy."""
    info = os.stat(path)
    try:
        owner = (pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name)
    except KeyError:
        owner = (str(info.st_uid), str(info.st_gid))
    return owner, f"{stat.S_IMODE(info.st_mode):04o}"


class Migration(Resource):
    """One guest, from this blade (``source``) to ``dest``."""

    def __init__(self, source, dest, runner, remote, params, lock_dir=None, copier=None):
        self.src = source
        self.dest = dest
        self.runner = runner
        self.remote = remote
        self.p = params
        self.name = params["name"]
        self.blade = params["destination"]
        self.lock_dir = lock_dir
        self.copier = copier  # the unit tier's stand-in for the data path
        self.src_lvm = Lvm(runner)
        self.dest_lvm = Lvm(remote)
        self.src_dom = self.dest_dom = None
        self.root = self.fields = None
        self.volumes = []  # source LVs of the writable disks
        self.leftovers = []  # source LVs tagged by an earlier run whose guest is on dest
        self.created = []  # what this run made on the destination, for the rollback
        self.thin_ids = {}  # per VG, read before a live move's switch-over
        self.receiver = None  # the discarding end on the destination, started before it
        self.facts = {}
        self.warnings = []
        self._validate()

    def _validate(self):
        for key in ("bandwidth", "max_downtime", "timeout_per_gib", "verify_timeout"):
            value = self.p.get(key)
            if value is not None and value < 0:
                raise ValidationError(f"{key}: {value} must not be negative", option=key)
        if self.p["cpu_ratio"] <= 0:
            raise ValidationError(
                f"cpu_ratio: {self.p['cpu_ratio']} must be greater than 0", option="cpu_ratio"
            )
        if self.p.get("pool"):
            lvm_name(self.p["pool"], "pool")
        for name in self.p["anti_affinity_guests"]:
            domain_name(name, "anti_affinity_guests")

    def lock(self):
        kwargs = {"lock_dir": self.lock_dir} if self.lock_dir else {}
        return resource_lock(LOCK_KIND, self.name, timeout=120, **kwargs)

    # --- observe / desired --------------------------------------------------------------------

    def observe(self):
        self.src_dom = self.src.lookup(self.name)
        self.dest_dom = self.dest.lookup(self.name)
        if self.src_dom is not None:
            self.root = model.parse(self.src.inactive_xml(self.src_dom))
            self.fields = model.read_fields(self.root)
            state = self.src.state(self.src_dom)
            self.live = state in (RUNNING, PAUSED)
            # The pre-flight only reads both blades: done here, so plan decides on what it found.
            self.refusals = self._preflight(state) if self.fields["managed"] or self.p["force"] else []
            return {"blade": "source", "state": state, "uuid": self.fields["uuid"]}
        if self.dest_dom is not None:
            fields = model.read_fields(model.parse(self.dest.inactive_xml(self.dest_dom)))
            self.fields = fields
            self.leftovers = self._tagged(self.src_lvm, MIGRATED, fields["uuid"])
            return {"blade": self.blade, "state": self.dest.state(self.dest_dom), "uuid": fields["uuid"]}
        return None

    def desired(self, current):
        if current is None:
            return None
        return dict(current, blade=self.blade)

    # --- plan ----------------------------------------------------------------------------------

    def plan(self, current, desired):
        plan = Plan()
        if current is None:
            raise ReconcileError(
                f"guest {self.name} is neither on this blade nor on {self.blade}",
                guest=self.name,
                destination=self.blade,
            )
        if current["blade"] != "source":
            self._plan_finish(plan)
            return plan
        if not self.fields["managed"] and not self.p["force"]:
            raise ReconcileError(
                f"guest {self.name} was not created by openblade.kvm (no openblade metadata); "
                "refusing to migrate it. Set force: true to migrate it anyway.",
                guest=self.name,
            )
        if self.dest_dom is not None:
            checks.refuse(self.name, self.blade, ["a guest of that name is already defined there"])
        checks.refuse(self.name, self.blade, self.refusals)
        self._plan_move(plan)
        return plan

    def _preflight(self, state):
        """Why the guest cannot move (empty: it can), from reads of both blades only."""
        reasons = checks.guest_refusals(self.root, state)
        self.volumes, self.seeds, disk_reasons = self._disks()
        reasons += disk_reasons
        live_root = model.parse(self.src.live_xml(self.src_dom)) if self.live else None
        reasons += checks.cpu_refusals(
            self.dest, self.root, live_root, self._host_cpu(self.src), self._host_cpu(self.dest)
        )
        reasons += checks.machine_refusals(self.dest, self.root)
        there = self.dest.domains()
        if self.live:
            reasons += checks.capacity_refusals(
                self.dest, there, self.fields, self.p["cpu_ratio"], self.p["memory_reserve_mib"]
            )
        reasons += checks.anti_affinity_refusals(there, self.p["anti_affinity_guests"])
        reasons += checks.network_refusals(self.dest, self.remote, self.fields["nics"])
        others = [path for path in checks.referenced_files(self.fields) if path not in self.seeds]
        reasons += [
            f"{path} does not exist there (kernel, initrd and read-only images are not copied)"
            for path in checks.missing_files(self.remote, others)
        ]
        reasons += self._dest_volume_refusals()
        if self.live and not self.runner.exists("thin_dump"):
            reasons.append(
                "this blade has no thin_dump (thin-provisioning-tools), which a live move needs to "
                "keep the destination thin"
            )
        return reasons

    def _host_cpu(self, hv):
        return cpumodel.host_cpu_identity(hv.conn.getCapabilities())

    def _disks(self):
        """Source thin volumes of the writable disks, the seed ISOs, and refusals."""
        volumes, seeds, reasons = [], [], []
        cache = {}
        for disk in self.fields["disks"]:
            path = disk["path"]
            if disk["readonly"]:
                if path and checks.is_seed(path, self.p["seed_dir"]):
                    seeds.append(path)
                continue
            if disk["type"] != "block" or not path or not path.startswith("/dev/"):
                reasons.append(
                    f"disk {disk['target']} ({path}) is not an LVM thin volume; only those can move"
                )
                continue
            vg, name = path.split("/")[2:4] if path.count("/") == 3 else (None, None)
            if vg not in cache:
                cache[vg] = self.src_lvm.lvs(vg) if vg else {}
            lv = cache[vg].get(name)
            if lv is None or not lv.is_thin:
                reasons.append(
                    f"disk {disk['target']} ({path}) is not an LVM thin volume; only those can move"
                )
                continue
            volumes.append((disk["target"], lv))
        return volumes, seeds, reasons

    def _dest_volume_refusals(self):
        reasons = []
        self.dest_pools = {}
        by_vg = {}
        for _target, lv in self.volumes:
            by_vg.setdefault(lv.vg, []).append(lv)
        vgs = self.dest_lvm.vgs()
        for vg, lvs in by_vg.items():
            if vg not in vgs:
                reasons.append(f"volume group {vg} does not exist there")
                continue
            existing = self.dest_lvm.lvs(vg)
            for lv in lvs:
                if lv.name in existing:
                    reasons.append(f"volume {lv.full_name} already exists there")
            pool_name = self.p.get("pool") or lvs[0].pool
            self.dest_pools[vg] = pool_name
            reasons += checks.pool_refusals(
                existing.get(pool_name), existing, lvs, f"{vg}/{pool_name}", live=self.live
            )
        return reasons

    def _tagged(self, lvm, key, uuid):
        tag = tags.kv(key, uuid)
        found = []
        for vg in lvm.vgs():
            found += [lv for lv in lvm.lvs(vg).values() if tag in lv.tags]
        return found

    # --- the actions ---------------------------------------------------------------------------

    def _plan_move(self, plan):
        uuid = self.fields["uuid"]
        allocated = sum(checks.allocated(lv) for _target, lv in self.volumes)
        memory = self.fields["memory"] * 2**20 if self.live else 0
        timeout = max(TIMEOUT_FLOOR, int(self.p["timeout_per_gib"] * (memory + allocated) / _GIB))
        if self.p.get("timeout"):
            timeout = self.p["timeout"]
        self.facts.update(
            mode="live" if self.live else "cold",
            timeout=timeout,
            disks=[lv.full_name for _target, lv in self.volumes],
            seeds=list(self.seeds),
            source_allocated=allocated,
        )
        names = ", ".join(lv.full_name for _target, lv in self.volumes) or "no volumes"
        self._step(
            plan,
            f"tag {names} on this blade {MIGRATED}={uuid} (kept until {self.name} answers on {self.blade})",
            lambda: self._tag_source(add=True),
        )
        for _target, lv in self.volumes:
            pool = self.dest_pools[lv.vg]
            self._step(
                plan,
                f"create thin volume {lv.full_name} of {sizes.human(lv.size)} in thin pool "
                f"{pool} on {self.blade}",
                lambda lv=lv, pool=pool: self._create_volume(lv, pool),
            )
        for path in self.seeds:
            self._step(
                plan, f"copy cloud-init seed {path} to {self.blade}", lambda path=path: self._copy_seed(path)
            )
        how = f"bandwidth {self.p['bandwidth']} MiB/s" if self.p["bandwidth"] else "no bandwidth limit"
        if self.live:
            rethin = (
                ""
                if self.p["postcopy_without_rollback"]
                else f"; paused there until what the source never wrote is discarded on {self.blade}"
            )
            self._step(
                plan,
                f"live-migrate {self.name} to {self.blade} over tcp://{self.p['migration_address']} "
                f"({len(self.volumes)} disk(s), {how}, abort after {timeout}s){rethin}",
                lambda: self._live(timeout),
            )
            plan.add(f"check that {self.name} runs on {self.blade} and answers", self._verify)
        else:
            self._step(
                plan,
                f"copy the disks of stopped {self.name} to {self.blade} over "
                f"{self.p['migration_address']}, skipping zero blocks, and compare digests",
                self._cold_copy,
            )
            self._step(plan, f"define {self.name} on {self.blade} and undefine it here", self._cold_switch)
        plan.add(f"untag the volumes on {self.blade} and measure their allocation", self._untag_dest)
        for _target, lv in self.volumes:
            plan.add(
                f"remove thin volume {lv.full_name} on this blade", lambda lv=lv: self._remove_source(lv)
            )
        for path in self.seeds:
            plan.add(f"remove cloud-init seed {path} on this blade", lambda path=path: self._unlink(path))

    def _plan_finish(self, plan):
        """The guest is on the destination already: finish a run that stopped after the move."""
        if not self.leftovers:
            return
        state = self.dest.state(self.dest_dom)
        if state == PAUSED:
            # An earlier run stopped between the switch-over and the resume; the source
            # volumes it kept still say which ranges to discard there.
            self.volumes = [(None, lv) for lv in self.leftovers]
            plan.add(
                f"discard on {self.blade} what the source never wrote and resume {self.name} there "
                "(left paused by an interrupted migration)",
                self._rethin_then_resume,
            )
        if state in (RUNNING, PAUSED):
            plan.add(f"check that {self.name} runs on {self.blade} and answers", self._verify)
        for lv in self.leftovers:
            plan.add(
                f"remove thin volume {lv.full_name} on this blade (left by an earlier migration of "
                f"{self.name})",
                lambda lv=lv: self._remove_source(lv),
            )

    def _step(self, plan, description, function):
        """An action whose failure rolls back what this run created on the destination."""

        def guarded():
            try:
                return function()
            except Exception as exc:
                undone = self._rollback()
                if isinstance(exc, ReconcileError):
                    exc.details["rolled_back"] = undone
                    raise
                raise ReconcileError(
                    f"{description}: {type(exc).__name__}: {exc}", rolled_back=undone
                ) from exc

        plan.add(description, guarded)

    def _rollback(self):
        """Undo this run's creations on the destination, newest first; the source keeps the
        guest.  Returns what was undone (and what could not be)."""
        undone = []
        for what, undo in reversed(self.created):
            try:
                undo()
                undone.append(what)
            except Exception as exc:  # noqa: BLE001 - keep undoing the rest, say what stayed
                undone.append(f"FAILED to undo {what}: {exc}")
        self.created = []
        return undone

    def _tag_source(self, add):
        tag = tags.kv(MIGRATED, self.fields["uuid"])
        for _target, lv in self.volumes:
            option = {"addtag": tag} if add else {"deltag": tag}
            self.src_lvm.run(commands.LVCHANGE.argv(positional=[lv.full_name], **option))
        if add:
            self.created.append(("the source volumes' tags", lambda: self._tag_source(add=False)))

    def _create_volume(self, lv, pool):
        keep = [tag for tag in lv.tags if not tag.startswith(MIGRATED + "=")]
        argv = commands.LVCREATE.argv(
            type="thin",
            virtualsize=sizes.argv_bytes(lv.size),
            thinpool=pool,
            addtag=keep + [tags.kv(MIGRATING, self.fields["uuid"])],
            name=lv.name,
            positional=[lv.vg],
        )
        self.dest_lvm.run(argv)
        self.created.append(
            (
                f"volume {lv.full_name} on {self.blade}",
                lambda: self.dest_lvm.run(commands.LVREMOVE.argv(positional=[lv.full_name])),
            )
        )

    def _copy_seed(self, path):
        with open(path, "rb") as handle:
            data = handle.read()
        staged = f"{path}.migrating"
        owner, mode = seed_access(path)
        self.remote.run(["mkdir", "-p", os.path.dirname(path)])
        # A seed may hold passwords: it exists there only with its owner and mode here
        # (0640 root:libvirt-qemu, see seed.restrict), never readable by all in between.
        self.remote.run(["install", "-m", "0600", "-o", owner[0], "-g", owner[1], "/dev/null", staged])
        self.remote.run(["dd", f"of={staged}", "status=none"], data=data)
        self.remote.run(["chmod", mode, staged])
        self.remote.run(["mv", "-f", staged, path])
        self.created.append((f"seed {path} on {self.blade}", lambda: self.remote.run(["rm", "-f", path])))

    def _dest_xml(self, persistent=False):
        """The guest's XML for the destination: libvirt's migratable form (what ``virsh
        dumpxml --migratable`` prints: identical UUID, MACs and metadata, without the
        source's runtime-only details that the ABI check rejects), with discard and zero
        detection on the moving disks.  ``persistent``: the inactive config instead."""
        flags = libvirt.VIR_DOMAIN_XML_MIGRATABLE
        if persistent or not self.live:
            flags |= libvirt.VIR_DOMAIN_XML_INACTIVE
        xml = self.src._call(f"read the migratable XML of {self.name}", self.src_dom.XMLDesc, flags)
        root = model.parse(xml)
        moving = {target for target, _lv in self.volumes}
        for disk in root.findall("devices/disk"):
            target = disk.find("target")
            if target is not None and target.get("dev") in moving:
                driver = disk.find("driver")
                if driver is None:
                    driver = model.etree.SubElement(disk, "driver", name="qemu", type="raw")
                driver.set("discard", "unmap")
                driver.set("detect_zeroes", "unmap")
        return model.to_string(root)

    def _live(self, timeout):
        runner = self.copier.live if self.copier else self._live_job
        rethin = not self.p["postcopy_without_rollback"]
        if rethin:
            # Ready before the switch-over, so the guest's pause holds only what must be in it:
            # the thin ids (they never change), and the discarding end with its SSH connection.
            vgs = sorted({lv.vg for _t, lv in self.volumes})
            self.thin_ids = {vg: self.src_lvm.thin_ids(vg) for vg in vgs}
            self.receiver = self.remote.start(job.receiver_argv([lv.path for _t, lv in self.volumes]))
        try:
            self.facts["job"] = runner(timeout)
        except BaseException:
            if rethin:
                # No frames: it closes the volumes, so the rollback can remove them; its own
                # failure must not hide the job's.
                with contextlib.suppress(ReconcileError):
                    self.receiver.finish()
            raise
        # From here on the guest runs on the destination: nothing there is rolled back.
        self.created = []
        self.dest_dom = self.dest.lookup(self.name)
        if self.dest_dom is None:
            raise ReconcileError(f"the migration of {self.name} ended but {self.blade} has no such guest")
        if not rethin:
            # The destination ran (and wrote) before the copy ended: no range is known to be zero.
            self.warnings.append(
                f"post-copy: the volumes of {self.name} on {self.blade} were not re-thinned; a trim "
                "inside the guest (fstrim) returns the zeros the disk mirror wrote"
            )
            return
        self._rethin_then_resume()

    def _rethin_then_resume(self):
        """The guest is paused on the destination and the source QEMU has exited, so the
        source volumes no longer change: discard there every range they never provisioned
        (it reads as zeros here, so it holds zeros there: no byte changes, the thin pool
        drops the chunks), then resume the guest, whatever happened in between."""
        started = time.monotonic()
        try:
            self.facts["discarded"] = self._rethin()
        except Exception as exc:  # noqa: BLE001 - the guest must resume; the warning says what failed
            self.warnings.append(
                f"re-thinning the volumes of {self.name} on {self.blade} failed ({type(exc).__name__}: "
                f"{exc}); they may hold their full virtual size until a trim inside the guest (fstrim)"
            )
        finally:
            self._resume()
            self.facts["paused_seconds"] = round(time.monotonic() - started, 2)

    def _rethin(self):
        """{volume: bytes discarded on the destination}: the holes of each source volume,
        read from its pool's metadata (see :mod:`.._lvm.thinmap`), sent to the receiver that
        :meth:`_live` started there."""
        holes, by_pool = {}, {}
        paths = [lv.path for _target, lv in self.volumes]
        # Started before the switch-over by _live; a re-run that finds the guest paused starts it now.
        receiver = self.receiver or self.remote.start(job.receiver_argv(paths))
        try:
            for _target, lv in self.volumes:
                by_pool.setdefault((lv.vg, lv.pool), []).append(lv)
            for (vg, pool), lvs in sorted(by_pool.items()):
                # A short wait for the VG's lock: the guest is paused meanwhile.
                with thinmap.metadata_snapshot(self.runner, vg, pool, self.lock_dir, timeout=RETHIN_LOCK_WAIT,
                                               thin_ids=self.thin_ids.get(vg)) as snap:
                    for lv in lvs:
                        holes[lv.path] = thinmap.unmapped(snap.mapped(lv.name), lv.size)
        finally:
            # Also on a failure (then with no frames): the receiver must end.
            done = job.discard(receiver, paths, holes)
        return {lv.full_name: done[lv.path] for _target, lv in self.volumes}

    def _resume(self):
        """Resume the guest on the destination; a few tries, then an error that says so."""
        for attempt in range(3):
            try:
                if self.dest.state(self.dest_dom) != PAUSED:
                    return
                self.dest.resume(self.dest_dom)
                return
            except ReconcileError as exc:
                failure = exc
                time.sleep(1 + attempt)
        raise ReconcileError(
            f"guest {self.name} is paused on {self.blade} after its migration and did not resume "
            f"({failure}); resume it there (virsh resume {self.name}). Its volumes on this blade "
            f"are kept (tagged {MIGRATED})",
            guest=self.name,
            destination=self.blade,
        )

    def _live_job(self, timeout):
        targets = [target for target, _lv in self.volumes]
        # A persistent-only copy: PERSIST_XML is the inactive config with the same disk driver.
        xmls = (self._dest_xml(), self._dest_xml(persistent=True))
        result = job.LiveJob(self.src_dom, self.dest.uri, self.p, targets, xmls, timeout).run()
        dom = self.dest.lookup(self.name)
        if dom is not None:
            result.update(job.completed_stats(dom))
        return result

    def _cold_copy(self):
        if self.copier:
            self.copier.cold(self.volumes)
            return
        for _target, lv in self.volumes:
            ssh = remote.ssh_base(
                self.p["migration_address"], self.p["ssh_user"], self.p["ssh_port"], self.p["ssh_identity"]
            )
            sent, sent_bytes = job.sparse_copy(lv.path, ssh, lv.path, lv.size)
            self.facts.setdefault("sent", {})[lv.full_name] = sent_bytes
            got = sha256(self.remote, lv.path)
            if sent != got:
                raise ReconcileError(
                    f"the copy of {lv.full_name} on {self.blade} differs from the source "
                    f"(sha256 {got} there, {sent} here)"
                )

    def _cold_switch(self):
        autostart = self.src.autostart(self.src_dom)
        self.dest_dom = self.dest.define(self._dest_xml())
        self.created.append(
            (f"definition of {self.name} on {self.blade}", lambda: self.dest.undefine(self.dest_dom))
        )
        if autostart:
            self.dest.set_autostart(self.dest_dom, True)
        self.src.undefine(self.src_dom)
        self.created = []

    def _verify(self):
        """The guest runs there and answers: the guest agent when it has one, otherwise its
        vCPUs consume time (a hung or paused QEMU does not)."""
        dom = self.dest_dom
        deadline = time.monotonic() + self.p["verify_timeout"]
        first = None
        while True:
            state = self.dest.state(dom)
            if state == RUNNING:
                if self._agent_answers(dom):
                    self.facts["answered_by"] = "guest agent"
                    return
                cpu_time = dom.info()[4]
                if first is not None and cpu_time > first:
                    self.facts["answered_by"] = "vCPU time"
                    return
                first = cpu_time if first is None else first
            if time.monotonic() >= deadline:
                raise ReconcileError(
                    f"guest {self.name} is {state} on {self.blade} but did not answer within "
                    f"{self.p['verify_timeout']}s; its volumes on this blade are kept (tagged {MIGRATED})",
                    guest=self.name,
                    destination=self.blade,
                )
            time.sleep(1)

    def _agent_answers(self, dom):
        xml = self.dest.live_xml(dom)
        if "org.qemu.guest_agent.0" not in xml:
            return False
        try:
            import libvirt_qemu

            libvirt_qemu.qemuAgentCommand(dom, '{"execute":"guest-ping"}', 5, 0)
        except Exception:  # noqa: BLE001 - no agent answer: fall back to vCPU time
            return False
        return True

    def _untag_dest(self):
        tag = tags.kv(MIGRATING, self.fields["uuid"])
        for _target, lv in self.volumes:
            self.dest_lvm.run(commands.LVCHANGE.argv(deltag=tag, positional=[lv.full_name]))
        self._measure()

    def _measure(self):
        """The destination's allocation against the source's, by the rule: within one pool
        chunk per GiB of what the source held, never the virtual size."""
        allocation = {}
        thin = True
        for vg in sorted({lv.vg for _target, lv in self.volumes}):
            there = self.dest_lvm.lvs(vg)
            pool = there.get(self.dest_pools[vg])
            chunk = (pool.chunk_size if pool is not None else None) or 64 * 1024
            for _target, lv in self.volumes:
                if lv.vg != vg or lv.name not in there:
                    continue
                source, dest = checks.allocated(lv), checks.allocated(there[lv.name])
                # lvs reports data_percent with 2 decimals: 0.01 % of the size is its precision.
                slack = chunk * max(1, -(-source // _GIB)) + lv.size // 10000
                allocation[lv.full_name] = {
                    "source": source,
                    "destination": dest,
                    "virtual": lv.size,
                    "thin": dest <= source + slack,
                }
                thin = thin and dest <= source + slack
        self.facts.update(allocation=allocation, thin=thin)
        if not thin:
            self.warnings.append(
                f"the volumes of {self.name} on {self.blade} hold more than the source did "
                f"({allocation}): more than one pool chunk per GiB above it. A trim inside the guest "
                "(fstrim) returns what it no longer uses; the disks have discard=unmap there"
            )

    def _remove_source(self, lv):
        self.src_lvm.run(commands.LVREMOVE.argv(positional=[lv.full_name]))

    def _unlink(self, path):
        if os.path.exists(path):
            os.unlink(path)

    def result(self, current, desired, plan, applied):
        extra = {"warnings": list(plan.warnings) + self.warnings} if self.warnings else {}
        return dict(
            self.facts,
            **extra,
            guest=self.name,
            destination=self.blade,
            state=(current or {}).get("state", STOPPED),
        )
