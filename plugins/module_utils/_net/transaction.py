# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a network change as a transaction: keep the previous files, apply, verify,
probe the management path, and restore the previous files when anything fails.

Ideas from nmstate's checkpoints: the rollback must not depend on the controller.  A
change that touches the management path can cut the very SSH session that runs this
module, so the module does apply, probe and rollback itself, on the target, and it
also arms a systemd timer *before* the change that runs the same restore script if
the module never gets to finish (killed, or stuck).  The script restores the saved
files, deletes the devices the change created and re-applies with networkctl; it
does nothing when the backup is already marked committed or rolled back, nor when a
change that began later (a higher ``generation`` in its manifest) committed or is still
pending: a timer never restores over a newer change.  A new change first restores the
changes that were killed before they committed (``pending_changes``).

Every change keeps its backup (files, manifest, restore script, log) under
``/var/lib/openblade-kvm/network-backups``; the newest ones are kept, older ones pruned.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time

from ansible_collections.openblade.kvm.plugins.module_utils._files import write_atomic
from ansible_collections.openblade.kvm.plugins.module_utils._lock import lock_path, resource_lock
from ansible_collections.openblade.kvm.plugins.module_utils._net.observe import IP_ADDRESSES
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError

BACKUP_ROOT = "/var/lib/openblade-kvm/network-backups"
KEEP_BACKUPS = 20
LOCK_KIND, LOCK_NAME = "network", "systemd-networkd"
LOCK_TIMEOUT = 120
# The timer fires this long after rollback_timeout: time for the apply itself and for the
# module's own rollback.  If the module is alive it holds the lock and the script waits.
TIMER_GRACE = 30
# After a rollback, how long the probe gets to show the management path is back.
RECHECK_SECONDS = 20
POLL_SECONDS = 1.0

RESTORE_SCRIPT = r'''#!/usr/bin/python3
"""Restore the network files an openblade.kvm change replaced, and re-apply them.

Run as `restore.py BACKUP_DIR --locked` by the module when its change failed, or as
`restore.py BACKUP_DIR` by the rollback timer when the module never finished.
"""
import fcntl, json, os, subprocess, sys, time

LOCK_WAIT = 60


def lock(path):
    handle = open(path, "a")
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                return handle  # a stuck module must not keep the host cut off
            time.sleep(0.5)


FINISHED = ("committed", "rolled back", "superseded")


def read_state(backup):
    try:
        with open(os.path.join(backup, "state")) as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return ""


def newer_changes(backup, generation):
    """{state: backup dir} of the changes that began after ``generation`` (the newest of each)."""
    root = os.path.dirname(os.path.abspath(backup))
    found = {}
    for name in sorted(os.listdir(root)):
        other = os.path.join(root, name)
        try:
            with open(os.path.join(other, "manifest.json")) as handle:
                theirs = json.load(handle).get("generation", 0)
        except (OSError, ValueError):
            continue
        if other != os.path.abspath(backup) and theirs > generation:
            found[read_state(other)] = other
    return found


def main(argv):
    backup = argv[1]
    with open(os.path.join(backup, "manifest.json")) as handle:
        manifest = json.load(handle)
    held = None if "--locked" in argv[2:] else lock(manifest["lock_file"])
    state_file = os.path.join(backup, "state")
    state = read_state(backup)
    with open(os.path.join(backup, "rollback.log"), "a") as log:
        if state in FINISHED:
            log.write("nothing to do: the change was already %s\n" % state)
            return 0
        newer = newer_changes(backup, manifest.get("generation", 0))
        if "committed" in newer:
            # A later change read this one's files and committed its own on top of them.
            log.write("not restoring: %s began after this change and committed; its files are "
                      "the current ones\n" % newer["committed"])
            with open(state_file, "w") as handle:
                handle.write("superseded\n")
            return 0
        if "" in newer:
            log.write("not restoring: %s began after this change and is not finished; it must "
                      "be restored first (the next network change does it)\n" % newer[""])
            return 0
        log.write("rolling back: %s\n" % ("requested by the module" if held is None else "timer"))
        for entry in manifest["files"]:
            path = entry["path"]
            if entry["saved"] is None:
                if os.path.lexists(path):
                    os.unlink(path)
                    log.write("removed %s\n" % path)
                if os.path.dirname(path).endswith(".network.d"):
                    try:
                        os.rmdir(os.path.dirname(path))
                    except OSError:
                        pass
                continue
            with open(os.path.join(backup, entry["saved"])) as handle:
                content = handle.read()
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = path + ".openblade-restore"
            with open(tmp, "w") as handle:
                handle.write(content)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
            log.write("restored %s\n" % path)
        failed = 0
        for command in manifest["commands"]:
            proc = subprocess.run(command["argv"], capture_output=True, text=True,
                                  env=dict(os.environ, LC_ALL="C"))
            log.write("$ %s -> rc %d %s\n" % (" ".join(command["argv"]), proc.returncode,
                                             (proc.stderr or "").strip()))
            if proc.returncode != 0 and not command.get("may_fail"):
                failed += 1
        with open(state_file, "w") as handle:
            handle.write("rolled back\n")
        log.write("rolled back%s\n" % (" with %d failed command(s)" % failed if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
'''


class Guard:
    """What must hold after a change on the management path."""

    def __init__(self, probe, address=None, links=()):
        self.probe = probe
        self.address = address    # must still be held by some link, when not None
        self.links = list(links)  # the management links the change touches (for messages)


class Transaction:
    """One network change: ``wrap`` each plan step; the first step begins, the last commits."""

    def __init__(self, runner, layout, changes, restore_commands, timeout, guard=None,
                 backup_root=BACKUP_ROOT, lock_dir=None, python=None, clock=time.monotonic,
                 sleep=time.sleep, now=time.time, connect=None):
        self.runner = runner
        self.layout = layout
        self.changes = changes  # [(path, before, after)]
        self.restore_commands = restore_commands
        self.timeout = timeout
        self.guard = guard
        self.backup_root = backup_root
        self.lock_dir = lock_dir
        self.python = python or sys.executable or "/usr/bin/python3"
        self.clock = clock
        self.sleep = sleep
        self.now = now
        self.connect = connect
        self.backup_dir = None
        self.timer_unit = None
        self._stack = None
        self._deadline = None
        self._sighup = None

    # --- the steps -----------------------------------------------------------------------

    def wrap(self, function, final=False):
        def step():
            if self._stack is None:
                self._begin()
            try:
                function()
            except Exception as exc:  # noqa: BLE001 - any failure mid-change must roll back
                self._rollback(_reason(exc), exc)
            if final:
                self._commit()
        return step

    def arm(self):
        """Arm the rollback timer (a transient systemd unit) before anything changes."""
        self.timer_unit = timer_unit(self.backup_dir)
        self.runner.run([
            "systemd-run", "--unit", self.timer_unit, "--collect",
            "--description", "openblade.kvm: restore the network files of " + self.backup_dir,
            f"--on-active={self.timeout + TIMER_GRACE}s", "--timer-property=AccuracySec=1s",
            self.python, os.path.join(self.backup_dir, "restore.py"), self.backup_dir,
        ])

    def settle(self, differences):
        """Wait until ``differences()`` is empty; the window starts here."""
        self._deadline = self.clock() + self.timeout
        while True:
            pending = differences()
            if not pending:
                return
            if self.clock() >= self._deadline:
                raise ReconcileError(
                    f"the running state did not match the configuration within {self.timeout}s: "
                    + "; ".join(pending))
            self.sleep(POLL_SECONDS)

    def probe(self):
        if not self._probe_until(self._deadline if self._deadline else self.clock() + self.timeout):
            raise ReconcileError(self._probe_failure())

    # --- begin, commit, rollback ---------------------------------------------------------

    def _begin(self):
        stack = contextlib.ExitStack()
        kwargs = {"lock_dir": self.lock_dir} if self.lock_dir else {}
        stack.enter_context(resource_lock(LOCK_KIND, LOCK_NAME, timeout=LOCK_TIMEOUT, **kwargs))
        try:
            for path, before, _after in self.changes:
                if self.layout.read(path) != before:
                    raise ReconcileError(
                        f"{path} changed after this run read it (another run or an edit); nothing "
                        "was changed, run again", path=path)
            self._save()
        except BaseException:
            stack.close()
            raise
        # A cut SSH session sends SIGHUP; the change must still be finished or undone.
        self._sighup = signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self._stack = stack

    def _save(self):
        os.makedirs(self.backup_root, mode=0o700, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.now()))
        # The time first, so names sort by age for pruning; mkdtemp keeps them unique.
        self.backup_dir = tempfile.mkdtemp(prefix=f"{stamp}-", dir=self.backup_root)
        os.makedirs(os.path.join(self.backup_dir, "files"), mode=0o700)
        entries = []
        for index, (path, before, _after) in enumerate(self.changes):
            saved = None
            if before is not None:
                saved = f"files/{index}"
                with open(os.path.join(self.backup_dir, saved), "w", encoding="utf-8") as handle:
                    handle.write(before)
            entries.append({"path": path, "saved": saved})
        kwargs = {"lock_dir": self.lock_dir} if self.lock_dir else {}
        manifest = {"files": entries, "commands": self.restore_commands,
                    "lock_file": lock_path(LOCK_KIND, LOCK_NAME, **kwargs),
                    "generation": _next_generation(self.backup_root),
                    "began": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now())),
                    "timer_unit": timer_unit(self.backup_dir)}
        with open(os.path.join(self.backup_dir, "manifest.json"), "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2)
        script = os.path.join(self.backup_dir, "restore.py")
        with open(script, "w", encoding="utf-8") as handle:
            handle.write(RESTORE_SCRIPT)
        os.chmod(script, 0o700)
        self._prune()

    def _prune(self):
        kept = sorted(os.listdir(self.backup_root))
        for name in kept[:-KEEP_BACKUPS]:
            shutil.rmtree(os.path.join(self.backup_root, name), ignore_errors=True)

    def _mark(self, state):
        with open(os.path.join(self.backup_dir, "state"), "w", encoding="utf-8") as handle:
            handle.write(state + "\n")

    def _disarm(self):
        if self.timer_unit:
            self.runner.run(["systemctl", "stop", self.timer_unit + ".timer"], check=False)

    def _end(self):
        if self._sighup is not None:
            signal.signal(signal.SIGHUP, self._sighup)
            self._sighup = None
        self._stack.close()

    def _commit(self):
        # Marked first: if we die right here, the timer sees "committed" and does nothing.
        self._mark("committed")
        self._disarm()
        self._end()

    def _rollback(self, reason, cause):
        restore = os.path.join(self.backup_dir, "restore.py")
        result = self.runner.run([self.python, restore, self.backup_dir, "--locked"], check=False)
        log = self.layout.read(os.path.join(self.backup_dir, "rollback.log")) or ""
        message = (f"{reason}. Rolled back: the previous files were restored from "
                   f"{self.backup_dir} and re-applied with networkctl")
        if result.rc != 0:
            message += f" (the restore reported problems, rc {result.rc}; see rollback_log)"
        details = dict(cause.details) if isinstance(cause, ReconcileError) else {}
        details.update(rolled_back=True, backup_dir=self.backup_dir, rollback_log=log.splitlines())
        if self.guard is not None:
            back = self._probe_until(self.clock() + RECHECK_SECONDS)
            message += (f"; after the rollback, {self.guard.probe} "
                        + ("answers again" if back else "still fails: check the host's console"))
            details["management_reachable"] = back
        self._disarm()
        self._end()
        raise ReconcileError(message, **details) from cause

    # --- probing -------------------------------------------------------------------------

    def _probe_until(self, deadline):
        while True:
            if self._probe_once():
                return True
            if self.clock() >= deadline:
                return False
            self.sleep(POLL_SECONDS)

    def _probe_once(self):
        kwargs = {"connect": self.connect} if self.connect else {}
        if not self.guard.probe.once(self.runner, **kwargs):
            return False
        if self.guard.address is None:
            return True
        # The probe can answer through another path; the management address must be back too.
        entries = self.runner.json(IP_ADDRESSES)
        return any(a.get("local") == self.guard.address for e in entries for a in e.get("addr_info", []))

    def _probe_failure(self):
        what = f"{self.guard.probe} did not succeed"
        if self.guard.address:
            what += f" (with the management address {self.guard.address} held by a link)"
        return (f"{what} within {self.timeout}s after changing the management path "
                f"({', '.join(self.guard.links)})")


def timer_unit(backup_dir):
    return "openblade-kvm-network-rollback-" + os.path.basename(backup_dir)


def _next_generation(backup_root):
    """The next transaction number; called under the network lock, so never handed out twice.

    The restore script compares these: a timer never restores over a change that began later.
    """
    path = os.path.join(backup_root, "generation")
    try:
        with open(path, encoding="utf-8") as handle:
            last = int(handle.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        last = 0
    write_atomic(path, f"{last + 1}\n", what="network change counter")
    return last + 1


class PendingChange:
    """A change whose module died before it committed or rolled back (killed, or its host
    rebooted): its backup has no final state."""

    def __init__(self, backup_dir, manifest):
        self.backup_dir = backup_dir
        self.generation = manifest.get("generation", 0)
        self.began = manifest.get("began") or os.path.basename(backup_dir).split("-")[0]
        self.files = [entry["path"] for entry in manifest.get("files", [])]
        self.timer_unit = manifest.get("timer_unit") or timer_unit(backup_dir)

    def __str__(self):
        return (f"{self.backup_dir} (began {self.began}; {len(self.files)} file(s): "
                f"{', '.join(self.files) or 'none'})")


def pending_changes(backup_root=BACKUP_ROOT):
    """Uncommitted changes newer than the last committed one, newest first.

    Called under the network lock, so their modules are gone.  Anything older than a
    committed change was superseded by it: that change read its files and built on them.
    """
    try:
        names = sorted(os.listdir(backup_root))
    except FileNotFoundError:
        return []
    found, committed = [], 0
    for name in names:
        directory = os.path.join(backup_root, name)
        try:
            with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as handle:
                manifest = json.load(handle)
        except (OSError, ValueError):
            continue  # killed before its manifest was written: nothing was changed yet
        try:
            with open(os.path.join(directory, "state"), encoding="utf-8") as handle:
                state = handle.read().strip()
        except FileNotFoundError:
            state = ""
        if state == "committed":
            committed = max(committed, manifest.get("generation", 0))
        elif not state:
            found.append(PendingChange(directory, manifest))
    pending = [change for change in found if change.generation > committed or not committed]
    return sorted(pending, key=lambda change: (change.generation, change.backup_dir), reverse=True)


def restore_pending(runner, pending, python=None):
    """Undo killed changes, newest first, with the lock held; their timers stand down."""
    python = python or sys.executable or "/usr/bin/python3"
    for change in pending:
        runner.run(["systemctl", "stop", change.timer_unit + ".timer"], check=False)
        result = runner.run([python, os.path.join(change.backup_dir, "restore.py"), change.backup_dir,
                             "--locked"], check=False)
        if result.rc != 0:
            try:
                with open(os.path.join(change.backup_dir, "rollback.log"), encoding="utf-8") as handle:
                    log = handle.read().splitlines()
            except OSError:
                log = []
            raise ReconcileError(f"restoring the uncommitted network change {change} failed (rc "
                                 f"{result.rc}); see rollback_log, fix the host, then run again",
                                 backup_dir=change.backup_dir, rollback_log=log)


def _reason(exc):
    return str(exc) or type(exc).__name__
