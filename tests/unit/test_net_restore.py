# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore script the module and the rollback timer run: it must work on its own
(stdlib only), restore exactly the saved files, and run once."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys

from ansible_collections.openblade.kvm.plugins.module_utils._net.transaction import RESTORE_SCRIPT
from ansible_collections.openblade.kvm.tests.unit.net_host import write_stubs


def backup(tmp_path, state=None):
    etc = tmp_path / "etc"
    (etc / "05-openblade-eno1.network.d").mkdir(parents=True)
    (etc / "10-mgmt.network").write_text("changed by the failed run\n")
    (etc / "05-openblade-br0.netdev").write_text("created by the failed run\n")
    (etc / "05-openblade-eno1.network.d/openblade-bridge-br0.conf").write_text("created\n")
    saved = tmp_path / "backup"
    (saved / "files").mkdir(parents=True)
    (saved / "files/0").write_text("[Match]\nName=mgmt0\n")
    manifest = {
        "files": [{"path": str(etc / "10-mgmt.network"), "saved": "files/0"},
                  {"path": str(etc / "05-openblade-br0.netdev"), "saved": None},
                  {"path": str(etc / "05-openblade-eno1.network.d/openblade-bridge-br0.conf"), "saved": None},
                  {"path": str(etc / "05-openblade-gone.netdev"), "saved": None}],
        "commands": [{"argv": ["ip", "link", "delete", "dev", "br0"], "may_fail": True},
                     {"argv": ["networkctl", "reload"], "may_fail": False},
                     {"argv": ["networkctl", "reconfigure", "mgmt0"], "may_fail": True}],
        "lock_file": str(tmp_path / "network.lock"),
    }
    (saved / "manifest.json").write_text(json.dumps(manifest))
    (saved / "restore.py").write_text(RESTORE_SCRIPT)
    if state:
        (saved / "state").write_text(state + "\n")
    return etc, saved


def restore(tmp_path, saved, *flags):
    log = write_stubs(tmp_path / "bin")
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    # -I: isolated, as the timer runs it, with nothing from this test's environment.
    proc = subprocess.run([sys.executable, "-I", str(saved / "restore.py"), str(saved), *flags],
                          capture_output=True, text=True, env=env, check=False)
    return proc, log


def test_restore_puts_the_saved_files_back_and_reapplies(tmp_path):
    etc, saved = backup(tmp_path)
    proc, log = restore(tmp_path, saved)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in etc.iterdir()) == ["10-mgmt.network"]  # the emptied .d is gone too
    assert (etc / "10-mgmt.network").read_text() == "[Match]\nName=mgmt0\n"
    assert log.read_text().splitlines() == ["ip link delete dev br0", "networkctl reload",
                                            "networkctl reconfigure mgmt0"]
    assert (saved / "state").read_text() == "rolled back\n"
    assert "rolling back: timer" in (saved / "rollback.log").read_text()

    # Once only: the module and the timer may both get here.
    log.unlink()
    proc, log = restore(tmp_path, saved)
    assert proc.returncode == 0 and not log.exists()
    assert "nothing to do: the change was already rolled back" in (saved / "rollback.log").read_text()


def test_a_committed_change_is_left_alone(tmp_path):
    etc, saved = backup(tmp_path, state="committed")
    proc, log = restore(tmp_path, saved)
    assert proc.returncode == 0 and not log.exists()
    assert (etc / "05-openblade-br0.netdev").exists()


def test_the_module_runs_it_while_holding_the_lock(tmp_path):
    etc, saved = backup(tmp_path)
    with open(tmp_path / "network.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc, log = restore(tmp_path, saved, "--locked")  # would wait a minute without --locked
    assert proc.returncode == 0, proc.stderr
    assert "rolling back: requested by the module" in (saved / "rollback.log").read_text()


def test_a_failing_command_is_reported(tmp_path):
    etc, saved = backup(tmp_path)
    write_stubs(tmp_path / "bin")
    (tmp_path / "bin/networkctl").write_text("#!/bin/sh\necho 'Failed to reload' >&2\nexit 1\n")
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    proc = subprocess.run([sys.executable, str(saved / "restore.py"), str(saved)], env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    log = (saved / "rollback.log").read_text()
    assert "$ networkctl reload -> rc 1 Failed to reload" in log
    assert "rolled back with 1 failed command(s)" in log


def newer_backup(tmp_path, generation, state):
    """Another change's backup next to ``backup``'s, with its generation and state."""
    other = tmp_path / f"newer-{generation}"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"files": [], "commands": [], "generation": generation}))
    if state:
        (other / "state").write_text(state + "\n")
    return other


def with_generation(saved, generation):
    manifest = json.loads((saved / "manifest.json").read_text())
    (saved / "manifest.json").write_text(json.dumps(dict(manifest, generation=generation)))


def test_the_timer_never_restores_over_a_later_committed_change(tmp_path):
    etc, saved = backup(tmp_path)
    with_generation(saved, 3)
    later = newer_backup(tmp_path, 4, "committed")
    proc, log = restore(tmp_path, saved)
    assert proc.returncode == 0 and not log.exists()
    assert (etc / "05-openblade-br0.netdev").read_text() == "created by the failed run\n"
    assert (saved / "state").read_text() == "superseded\n"
    log = (saved / "rollback.log").read_text()
    assert f"not restoring: {later} began after this change and committed" in log


def test_the_timer_waits_for_a_later_pending_change_and_follows_a_rolled_back_one(tmp_path):
    etc, saved = backup(tmp_path)
    with_generation(saved, 3)
    later = newer_backup(tmp_path, 4, None)
    proc, log = restore(tmp_path, saved)
    assert proc.returncode == 0 and not log.exists()
    assert not (saved / "state").exists()  # still pending: the next change restores both, newest first
    assert "is not finished; it must be restored first" in (saved / "rollback.log").read_text()
    (later / "state").write_text("rolled back\n")
    proc, log = restore(tmp_path, saved)
    assert proc.returncode == 0
    assert (saved / "state").read_text() == "rolled back\n"
    assert not (etc / "05-openblade-br0.netdev").exists()


def test_pending_changes_are_the_uncommitted_ones_after_the_last_commit_newest_first(tmp_path):
    from ansible_collections.openblade.kvm.plugins.module_utils._net.transaction import pending_changes

    def made(name, generation, state=None):
        directory = tmp_path / name
        directory.mkdir()
        (directory / "manifest.json").write_text(json.dumps(
            {"files": [{"path": f"/etc/{name}", "saved": None}], "generation": generation}))
        if state:
            (directory / "state").write_text(state + "\n")

    made("a", 1)                 # killed, then superseded by the commit of c
    made("b", 2, "rolled back")
    made("c", 3, "committed")
    made("d", 4)                 # killed
    made("e", 5)                 # killed too, after d
    (tmp_path / "f").mkdir()     # killed before its manifest: nothing changed yet
    pending = pending_changes(str(tmp_path))
    assert [change.backup_dir for change in pending] == [str(tmp_path / "e"), str(tmp_path / "d")]
    assert str(pending[0]).startswith(f"{tmp_path / 'e'} (began e; 1 file(s): /etc/e)")
    assert pending_changes(str(tmp_path / "missing")) == []
