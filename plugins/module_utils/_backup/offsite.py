# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Encrypted off-site copies of the backup points, in a restic repository over SFTP.

Runs on the backup target blade, which holds the points (``names.point``) and the
definitions (``<backup_dir>/<guest>/<label>/``).  Why restic and not borg or a format of
our own: restic's SFTP backend needs nothing on the off-site host but sshd and a
directory (borg needs borg there); the repository is encrypted and authenticated, and its
content-defined chunks deduplicate the unchanged data of consecutive points.

Each disk of a point is one restic snapshot (``backup --stdin`` of the point's device,
file ``/<disk>.raw``), the point's definition directory another; both are tagged
``openblade.kvm``, ``ob_guest=``, ``ob_point=`` and ``ob_disk=`` (``definition`` for the
directory), so a re-run finds what is there and pushes only what is not.  A snapshot is
written only when restic finished it, so a killed push leaves nothing that counts.  The
sha256 of the stream fed to restic must equal the point's verified ``ob_sha256``, or
the snapshot is forgotten again and the run fails.

The repository password never reaches argv, the environment's values or any output: it
is a file (``password_file``, or the ``password`` option written for the run into a
private 0600 file in a 0700 directory and removed after) named by RESTIC_PASSWORD_FILE.

``OffsiteCopy`` pushes, ``OffsiteCheck`` runs ``restic check --read-data-subset`` (a
read: never a change), ``OffsiteRestore`` restores a point's disks from the repository
onto new thin volumes and compares their sha256 with the one recorded at backup time.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile

from ansible_collections.openblade.kvm.plugins.module_utils._backup import names, retention, stream
from ansible_collections.openblade.kvm.plugins.module_utils._backup.target import point_active
from ansible_collections.openblade.kvm.plugins.module_utils._lock import resource_lock
from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands, sizes, tags
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.report import Lvm
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    Plan,
    ReadOnlyResource,
    ReconcileError,
    Resource,
)
from ansible_collections.openblade.kvm.plugins.module_utils._runner import (
    C_LOCALE,
    CommandError,
    CommandResult,
)
from ansible_collections.openblade.kvm.plugins.module_utils._validate import (
    ValidationError,
    domain_name,
    lvm_name,
)

LOCK_KIND = "offsite"
DEFINITION = "definition"  # the ob_disk= value of a definition snapshot
RESTORING = "ob_offsite_restoring"
RESTORED = "ob_offsite_restored"  # =LABEL on a volume restored from the repository
BLOCK = 1 << 20

# sftp:[user@]host:/absolute/path, restic's SFTP form.  The host is a DNS name or an IPv4 or
# bracketed IPv6 address; no spaces or quotes anywhere, as it also goes into sftp.command.
_REPOSITORY = re.compile(
    r"sftp:(?:(?P<user>[a-z_][a-z0-9_-]{0,31})@)?"
    r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):"
    r"(?P<path>/[A-Za-z0-9._/+-]*)"
)
_SUBSET = re.compile(r"(?:[1-9][0-9]*/[1-9][0-9]*|(?:100|[1-9]?[0-9])(?:\.[0-9]+)?%|[1-9][0-9]*[kKmMgGtT])")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_repository(value):
    """{user, host, path} of an ``sftp:[user@]host:/path`` repository."""
    match = _REPOSITORY.fullmatch(value) if isinstance(value, str) else None
    if match is None or "/../" in f"{value}/" or match["path"] == "/":
        raise ValidationError(
            f"repository: {value!r} is not an SFTP repository (the form is sftp:[user@]host:/absolute/path, "
            "host a DNS name or an address, the path of A-Z a-z 0-9 . _ / + - and not /)",
            option="repository",
        )
    return match.groupdict()


def check_subset(value):
    if not isinstance(value, str) or not _SUBSET.fullmatch(value):
        raise ValidationError(
            f"read_data_subset: {value!r} is not a subset restic 0.14 reads (N/T such as 1/7, a "
            "percentage such as 2.5%, or a size such as 500M)",
            option="read_data_subset",
        )
    if "/" in value and int(value.split("/")[0]) > int(value.split("/")[1]):
        raise ValidationError(
            f"read_data_subset: {value!r} names part N of T with N above T", option="read_data_subset"
        )
    return value


def repository_spec():
    """The argument spec of the options every off-site module takes."""
    return {
        "repository": {"type": "str", "required": True},
        "password": {"type": "str", "no_log": True},
        "password_file": {"type": "path", "no_log": False},
        "ssh_port": {"type": "int"},
        "ssh_identity": {"type": "path"},
        "restic": {"type": "path", "default": "restic"},
        "guest": {"type": "str", "required": True},
    }


def module_kwargs(**options):
    """The AnsibleModule arguments of an off-site module with its own ``options``."""
    return {
        "argument_spec": dict(repository_spec(), **options),
        "supports_check_mode": True,
        "mutually_exclusive": [("password", "password_file")],
        "required_one_of": [("password", "password_file")],
    }


# --- restic ------------------------------------------------------------------------------------------


def execute(argv, env, feed=None, sink=None):
    """Run ``argv``; ``feed``: a file whose bytes go to its stdin, ``sink``: a file its stdout
    is written into (blocks of zeros skipped: a new thin volume reads as zeros).  Returns
    (CommandResult, block-manifest digest of what was fed or sunk).  stdout and stderr go through temporary
    files, so a chatty restic never blocks on a pipe nobody reads."""
    digest = stream.BlockDigest()  # the digest guest_backup verified (ob_sha256)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
                stdout=subprocess.PIPE if sink else out,
                stderr=err,
                env=env,
            )
        except OSError as exc:
            raise CommandError(argv, 127, problem=f"could not be started: {exc}") from None
        try:
            if feed:
                with open(feed, "rb") as source:
                    for block in iter(lambda: source.read(BLOCK), b""):
                        digest.update(block)
                        proc.stdin.write(block)
                proc.stdin.close()
            if sink:
                with open(sink, "r+b") as target:
                    for block in iter(lambda: proc.stdout.read(BLOCK), b""):
                        digest.update(block)
                        if block.count(0) == len(block):
                            target.seek(len(block), os.SEEK_CUR)
                        else:
                            target.write(block)
                    target.flush()
                    os.fsync(target.fileno())
        except BrokenPipeError:
            pass  # restic stopped reading: its rc and stderr say why
        finally:
            rc = proc.wait()
        out.seek(0)
        err.seek(0)
        return CommandResult(
            rc, out.read().decode(errors="replace"), err.read().decode(errors="replace")
        ), digest.hexdigest()


class Restic:
    """restic against one SFTP repository, the password named by RESTIC_PASSWORD_FILE."""

    def __init__(self, params, run=execute):
        self.url = params["repository"]
        self.where = check_repository(self.url)
        self.binary = params.get("restic") or "restic"
        self.password = params.get("password")
        self.password_file = params.get("password_file")
        if not self.password and not self.password_file:
            raise ValidationError("password: one of password or password_file is required", option="password")
        if self.password_file and not os.path.isabs(self.password_file):
            raise ValidationError(
                f"password_file: {self.password_file!r} must be an absolute path", option="password_file"
            )
        port, identity = params.get("ssh_port"), params.get("ssh_identity")
        if port is not None and not 0 < port < 65536:
            raise ValidationError(f"ssh_port: {port!r} is not a TCP port (1 to 65535)", option="ssh_port")
        host = self.where["host"].strip("[]")  # ssh takes an IPv6 address bare
        login = f"{self.where['user']}@{host}" if self.where["user"] else host
        ssh = ["ssh", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=15"]
        ssh += ["-p", str(port)] if port else []
        ssh += ["-i", identity] if identity else []
        self.sftp = shlex.join([*ssh, login, "-s", "sftp"])
        self.run_process = run
        self.env = None

    @contextlib.contextmanager
    def session(self):
        """The password file for the run: the user's, or the password written to a private one."""
        if self.password_file:
            self.env = self._environ(self.password_file)
            yield
            return
        directory = tempfile.mkdtemp(
            prefix="openblade-restic-", dir="/run" if os.access("/run", os.W_OK) else None
        )
        try:
            path = os.path.join(directory, "password")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(self.password)
            self.env = self._environ(path)
            yield
        finally:
            shutil.rmtree(directory, ignore_errors=True)
            self.env = None

    @staticmethod
    def _environ(path):
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        return dict(env, **C_LOCALE, RESTIC_PASSWORD_FILE=path)

    def argv(self, *args):
        return [self.binary, "--repo", self.url, "--option", f"sftp.command={self.sftp}", *args]

    def run(self, *args, feed=None, sink=None, check=True):
        if self.env is None:
            raise RuntimeError("restic runs only inside Restic.session()")
        argv = self.argv(*args)
        result, digest = self.run_process(argv, self.env, feed=feed, sink=sink)
        if check and result.rc != 0:
            raise CommandError(argv, result.rc, result.stdout, result.stderr)
        return result, digest

    def snapshots(self, guest):
        """(whether the repository exists, [snapshot dicts] of ``guest``)."""
        # --no-lock: a listing (check mode too) leaves no lock file in the repository.
        result, _digest = self.run(
            "snapshots", "--no-lock", "--json", "--tag", f"{tags.MARKER},ob_guest={guest}", check=False
        )
        if result.rc != 0:
            # restic 0.14 has no exit code of its own for this (0.17 has 10).
            if "Is there a repository at the following location?" in result.stderr:
                return False, []
            raise CommandError(self.argv("snapshots"), result.rc, result.stdout, result.stderr)
        return True, json.loads(result.stdout or "[]") or []

    def last_json(self, text):
        """The last JSON object restic --json printed (the summary, after any status lines)."""
        for line in reversed(text.splitlines()):
            line = line.strip()
            if line.startswith("{"):
                return json.loads(line)
        return {}


def snapshot_tags(snapshot):
    return {tag.split("=", 1)[0]: tag.split("=", 1)[1] for tag in snapshot.get("tags") or [] if "=" in tag}


def snap_key(snapshot):
    """(label, disk or 'definition') of one of our snapshots, or None for any other."""
    found_tags = snapshot_tags(snapshot)
    if tags.MARKER in (snapshot.get("tags") or []) and "ob_point" in found_tags and "ob_disk" in found_tags:
        return found_tags["ob_point"], found_tags["ob_disk"]
    return None


def pieces(snapshots):
    """{(label, disk or 'definition'): snapshot} of our snapshots, the newest per piece."""
    found = {}
    for snap in sorted(snapshots, key=lambda snap: snap.get("time", "")):
        key = snap_key(snap)
        if key is not None:
            found[key] = snap
    return found


class RepositoryResource(Resource):
    """What the three off-site resources share: the guest, the repository, the lock."""

    def __init__(self, runner, params, run=execute, lock_dir=None):
        self.runner = runner
        self.lvm = Lvm(runner)
        self.p = params
        self.guest = domain_name(params["guest"], "guest")
        self.restic = Restic(params, run)
        self.lock_dir = lock_dir
        self.facts = {}

    def lock(self):
        stack = contextlib.ExitStack()
        kwargs = {"lock_dir": self.lock_dir} if self.lock_dir else {}
        stack.enter_context(resource_lock(LOCK_KIND, self.guest, timeout=120, **kwargs))
        stack.enter_context(self.restic.session())
        return stack

    def _activated(self, lv):
        """A context in which the (read-only, skipped) point ``lv`` is active."""
        return contextlib.nullcontext() if lv.active else point_active(self.lvm, lv.full_name)


def created(snapshot):
    """When the point a snapshot copies was made: its ``ob_created`` tag, else (a copy made
    before that tag) when the snapshot was taken, in seconds."""
    stamp = snapshot_tags(snapshot).get("ob_created", "")
    if stamp.isdigit():
        return int(stamp)
    # restic prints nanoseconds, which datetime does not read; whole seconds are enough.
    text = re.sub(r"\.[0-9]+", "", snapshot.get("time") or "1970-01-01T00:00:00Z").replace("Z", "+00:00")
    return int(datetime.datetime.fromisoformat(text).timestamp())


class OffsiteCopy(RepositoryResource):
    """Every verified point of ``guest`` on this blade (disks and definition) in the repository,
    and with a ``retention`` policy, the repository's points beyond it forgotten and pruned."""

    def __init__(self, runner, params, run=execute, lock_dir=None):
        super().__init__(runner, params, run, lock_dir)
        self.backup_dir = params.get("backup_dir") or "/var/lib/openblade/backups"
        self.policy = retention.check(params.get("retention"))

    def observe(self):
        self.local = self._local_points()
        self.exists, snapshots = self.restic.snapshots(self.guest)
        self.there = pieces(snapshots)
        self.ours = [snap for snap in snapshots if snap_key(snap)]
        self.kept = self._kept()
        return {
            "repository": self.exists,
            "copies": sorted(f"{label}/{disk}" for label, disk in self.there),
        }

    def _kept(self):
        """The labels the retention keeps, among the points here and those in the repository
        (all of them without a policy)."""
        stamps = {}
        for snap in self.ours:
            label = snap_key(snap)[0]
            stamps[label] = max(stamps.get(label, 0), created(snap))
        stamps.update(self.created)  # the point's own time, where this blade still has it
        if not self.policy:
            return set(stamps)
        self.facts["kept"], self.facts["pruned"] = retention.split(stamps, self.policy)
        return set(self.facts["kept"])

    def _local_points(self):
        """{(label, disk or 'definition'): what to push} of the points whose disks are all verified."""
        directory = os.path.join(self.backup_dir, self.guest)
        self.created = {}
        try:
            entries = sorted(os.listdir(directory))
        except FileNotFoundError:
            return {}
        found, vgs = {}, {}
        for label in entries:
            if label.endswith(".partial") or not os.path.isfile(
                os.path.join(directory, label, "manifest.json")
            ):
                continue
            with open(os.path.join(directory, label, "manifest.json"), encoding="utf-8") as handle:
                manifest = json.load(handle)
            disks = {}
            for disk, info in sorted((manifest.get("disks") or {}).items()):
                vg, _sep, name = (info.get("point") or "").partition("/")
                if vg not in vgs:
                    vgs[vg] = self.lvm.lvs(vg) if vg in self.lvm.vgs() else {}
                lv = vgs[vg].get(name)
                digest = info.get("sha256") or ""
                # A manifest is written before its points become good: only good points count.
                if lv is None or names.POINT not in lv.tags or tags.value(lv.tags, tags.SHA256) != digest:
                    disks = None
                    break
                disks[disk] = {"lv": lv, "sha256": digest, "size": lv.size}
            if disks:
                self.created[label] = manifest.get("created", 0)
                for disk, info in disks.items():
                    found[(label, disk)] = info
                found[(label, DEFINITION)] = {"dir": os.path.join(directory, label)}
        oldest_first = sorted(found, key=lambda key: (self.created[key[0]], key[0], key[1] == DEFINITION))
        return {key: found[key] for key in oldest_first}

    def desired(self, current):
        pushed = {f"{label}/{disk}" for label, disk in self.local}
        return {
            "repository": True,
            "copies": sorted(
                copy for copy in set(current["copies"]) | pushed if copy.split("/")[0] in self.kept
            ),
        }

    def plan(self, current, desired):
        plan = Plan()
        url = self.restic.url
        if not current["repository"]:
            plan.add(f"initialize the encrypted restic repository {url}", self._init)
        for key, info in self.local.items():
            if key in self.there or key[0] not in self.kept:  # a point beyond the retention is not copied
                continue
            label, disk = key
            if disk == DEFINITION:
                plan.add(
                    f"copy the definition of {self.guest} point {label} ({info['dir']}) to {url}",
                    lambda key=key, info=info: self._push_definition(key, info),
                )
            else:
                plan.add(
                    f"copy backup point {info['lv'].full_name} ({self.guest} {disk} at {label}) to {url} and "
                    "compare the sha256 of what was read with the point's",
                    lambda key=key, info=info: self._push_disk(key, info),
                )
        forget = [snap for snap in self.ours if snap_key(snap)[0] not in self.kept]
        if forget:  # after the copies: a run that fails while copying has removed nothing
            labels = sorted({snap_key(snap)[0] for snap in forget}, key=self.facts["pruned"].index)
            ids = [snap["id"] for snap in forget]
            plan.add(
                f"forget the {len(ids)} snapshot(s) of {self.guest} point(s) {', '.join(labels)} in {url} "
                "(beyond the retention) and prune the data no other snapshot uses",
                lambda: self.restic.run("forget", "--prune", *ids),
            )
        return plan

    def _init(self):
        self.restic.run("init")

    def _tags(self, label, disk, *extra):
        found = (tags.MARKER, f"ob_guest={self.guest}", f"ob_point={label}", f"ob_disk={disk}")
        found += (f"ob_created={self.created[label]}", *extra)  # the point's time, for the retention
        return [arg for tag in found for arg in ("--tag", tag)]

    def _push_disk(self, key, info):
        label, disk = key
        lv = info["lv"]
        args = [
            "backup",
            "--json",
            "--quiet",
            "--stdin",
            "--stdin-filename",
            f"{disk}.raw",
            "--host",
            self.guest,
            *self._tags(label, disk, f"ob_sha256={info['sha256']}", f"ob_size={lv.size}"),
        ]
        with self._activated(lv):
            result, digest = self.restic.run(*args, feed=lv.path)
        summary = self.restic.last_json(result.stdout)
        if digest != info["sha256"]:
            if summary.get("snapshot_id"):
                self.restic.run("forget", summary["snapshot_id"])
            raise ReconcileError(
                f"{lv.full_name} read {digest}, not the sha256 {info['sha256']} its backup verified; "
                "its off-site snapshot was forgotten again"
            )
        self._record(key, summary)

    def _push_definition(self, key, info):
        label, disk = key
        result, _digest = self.restic.run(
            "backup", "--json", "--quiet", "--host", self.guest, *self._tags(label, disk), info["dir"]
        )
        self._record(key, self.restic.last_json(result.stdout))

    def _record(self, key, summary):
        self.facts.setdefault("pushed", {})["/".join(key)] = {
            "snapshot": summary.get("snapshot_id"),
            "bytes_read": summary.get("total_bytes_processed"),
            "bytes_added": summary.get("data_added"),
        }

    def result(self, current, desired, plan, applied):
        return dict(
            self.facts,
            guest=self.guest,
            repository=self.restic.url,
            copies=desired["copies"] if applied else current["copies"],
        )


class OffsiteCheck(RepositoryResource, ReadOnlyResource):
    """``restic check --read-data-subset``: the repository's structure, and that part of its data."""

    def __init__(self, runner, params, run=execute, lock_dir=None):
        super().__init__(runner, params, run, lock_dir)
        self.subset = check_subset(params.get("read_data_subset") or "5%")

    def observe(self):
        exists, snapshots = self.restic.snapshots(self.guest)
        if not exists:
            raise ReconcileError(f"there is no restic repository at {self.restic.url}")
        result, _digest = self.restic.run("check", f"--read-data-subset={self.subset}", check=False)
        if result.rc != 0:
            raise ReconcileError(
                f"restic check of {self.restic.url} (reading {self.subset} of its data) failed with rc "
                f"{result.rc}: "
                + " ".join(
                    result.stderr.strip().splitlines()[-3:] or result.stdout.strip().splitlines()[-3:]
                ),
                rc=result.rc,
            )
        return {
            "read_data_subset": self.subset,
            "copies": sorted(f"{label}/{disk}" for label, disk in pieces(snapshots)),
            "output": [line for line in result.stdout.splitlines() if line.strip()],
        }

    def result(self, current, desired, plan, applied):
        return dict(current, guest=self.guest, repository=self.restic.url, checked=True)


class OffsiteRestore(RepositoryResource):
    """The disks of one point of ``guest``, from the repository onto new thin volumes here."""

    def __init__(self, runner, params, run=execute, lock_dir=None):
        super().__init__(runner, params, run, lock_dir)
        self.label = names.check_label(params["label"]) if params.get("label") else None
        self.vg = lvm_name(params["vg"], "vg", kind="vg")
        self.pool = lvm_name(params["pool"], "pool")
        self.volumes = params.get("volumes") or {}
        for disk, name in self.volumes.items():
            lvm_name(name, f"volumes.{disk}")

    def observe(self):
        exists, snapshots = self.restic.snapshots(self.guest)
        if not exists:
            raise ReconcileError(f"there is no restic repository at {self.restic.url}")
        there = pieces(snapshots)
        labels = sorted(
            {label for label, _disk in there},
            key=lambda label: max(snap.get("time", "") for key, snap in there.items() if key[0] == label),
        )
        if self.label is None:
            if not labels:
                raise ReconcileError(f"the repository {self.restic.url} holds no copy of {self.guest}")
            self.label = labels[-1]
        self.disks = {
            disk: snap for (label, disk), snap in there.items() if label == self.label and disk != DEFINITION
        }
        if not self.disks:
            raise ReconcileError(
                f"label: the repository {self.restic.url} holds no disk of {self.guest} at "
                f"{self.label!r} (it has: {', '.join(labels) or 'none'})",
                option="label",
            )
        unknown = sorted(set(self.volumes) - set(self.disks))
        if unknown:
            raise ValidationError(
                f"volumes: {', '.join(unknown)} is not a disk of {self.guest} at {self.label} "
                f"(disks: {', '.join(sorted(self.disks))})",
                option="volumes",
            )
        if self.vg not in self.lvm.vgs():
            raise ReconcileError(f"vg: volume group {self.vg} does not exist on this blade", option="vg")
        self.lvs = self.lvm.lvs(self.vg)
        state = {}
        for disk, snap in sorted(self.disks.items()):
            name = self.volumes.get(disk) or f"{self.guest}-{disk}-offsite-{self.label}"
            lvm_name(name, f"volumes.{disk}")
            lv = self.lvs.get(name)
            done = (
                lv is not None
                and tags.value(lv.tags, RESTORED) == self.label
                and tags.value(lv.tags, tags.SHA256) == snapshot_tags(snap).get("ob_sha256")
            )
            state[disk] = {"volume": f"{self.vg}/{name}", "restored": done}
        return {"label": self.label, "disks": state}

    def desired(self, current):
        return {
            "label": current["label"],
            "disks": {disk: dict(info, restored=True) for disk, info in current["disks"].items()},
        }

    def plan(self, current, desired):
        plan = Plan()
        for disk, info in current["disks"].items():
            if info["restored"]:
                continue
            name = info["volume"].split("/", 1)[1]
            lv = self.lvs.get(name)
            snap = self.disks[disk]
            found = snapshot_tags(snap)
            if not _SHA256.fullmatch(found.get("ob_sha256", "")) or not found.get("ob_size", "").isdigit():
                raise ReconcileError(
                    f"the off-site snapshot {snap.get('short_id')} of {self.guest} {disk} at "
                    f"{self.label} has no ob_sha256 and ob_size tags; it was not made by offsite_copy"
                )
            if lv is not None:
                if RESTORING not in lv.tags:
                    raise ReconcileError(
                        f"{lv.full_name} exists and is not a volume an interrupted off-site restore "
                        "left; refusing to replace it",
                        volume=lv.full_name,
                    )
                plan.add(
                    f"remove {lv.full_name}, left by an interrupted off-site restore",
                    lambda lv=lv: self.lvm.run(commands.LVREMOVE.argv(positional=[lv.full_name])),
                )
            plan.add(
                f"restore {self.guest} {disk} at {self.label} (off-site snapshot {snap.get('short_id')}) "
                f"from {self.restic.url} onto new thin volume {info['volume']} in pool {self.pool} and "
                "compare its sha256 with the backup's",
                lambda disk=disk, name=name, snap=snap, found=found: self._restore(disk, name, snap, found),
            )
        return plan

    def _restore(self, disk, name, snap, found):
        full = f"{self.vg}/{name}"
        self.lvm.run(
            commands.LVCREATE.argv(
                type="thin",
                virtualsize=sizes.argv_bytes(int(found["ob_size"])),
                thinpool=self.pool,
                addtag=[tags.MARKER, RESTORING, tags.kv("ob_offsite_of", f"{self.guest}.{disk}")],
                name=name,
                positional=[self.vg],
            )
        )
        _result, digest = self.restic.run("dump", snap["id"], f"/{disk}.raw", sink=f"/dev/{full}")
        if digest != found["ob_sha256"]:
            raise ReconcileError(
                f"{full} restored from {self.restic.url} has sha256 {digest}, not the backup's "
                f"{found['ob_sha256']}; it stays tagged {RESTORING}"
            )
        self.lvm.run(
            commands.LVCHANGE.argv(
                deltag=RESTORING,
                addtag=[tags.kv(RESTORED, self.label), tags.kv(tags.SHA256, digest)],
                positional=[full],
            )
        )
        self.facts.setdefault("restored", {})[disk] = {
            "volume": full,
            "sha256": digest,
            "snapshot": snap["id"],
        }

    def result(self, current, desired, plan, applied):
        return dict(
            self.facts,
            guest=self.guest,
            label=current["label"],
            repository=self.restic.url,
            volumes={disk: info["volume"] for disk, info in current["disks"].items()},
        )
