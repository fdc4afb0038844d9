# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real flocks in tmp_path, with contention from a second process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._lock import (
    LockTimeout,
    lock_path,
    resource_lock,
)
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
)

# Takes the lock, says so, and holds it until its stdin is closed.
HOLDER = """
import sys
from ansible_collections.openblade.kvm.plugins.module_utils._lock import resource_lock
with resource_lock(sys.argv[1], sys.argv[2], lock_dir=sys.argv[3]):
    print("locked", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def lock_dir(tmp_path):
    return str(tmp_path / "locks")


@pytest.fixture
def holder(lock_dir):
    """Start a second process holding lv 'vg0/web1'; close its stdin to release."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, "lv", "vg0/web1", lock_dir],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )
    assert proc.stdout.readline() == "locked\n"
    yield proc
    proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def read(path):
    with open(path) as handle:
        return handle.read()


def test_lock_writes_our_pid_and_clears_it_on_release(lock_dir):
    with resource_lock("lv", "vg0/web1", lock_dir=lock_dir) as path:
        assert os.path.dirname(path) == lock_dir  # lock_dir was created
        assert read(path) == f"{os.getpid()}\n"
        assert os.stat(path).st_mode & 0o777 == 0o600
    assert read(path) == ""
    assert os.path.exists(path)  # never unlinked, see the module docstring


def test_contention_times_out_naming_resource_file_holder_and_wait(lock_dir, holder):
    started = time.monotonic()
    with (
        pytest.raises(LockTimeout) as caught,
        resource_lock("lv", "vg0/web1", timeout=1, lock_dir=lock_dir),
    ):
        pytest.fail("took a lock another process holds")
    elapsed = time.monotonic() - started
    assert 1 <= elapsed < 3
    path = lock_path("lv", "vg0/web1", lock_dir)
    message = str(caught.value)
    assert message.startswith(f"lv 'vg0/web1' is locked by PID {holder.pid} (lock file {path})")
    assert "gave up after waiting 1." in message
    assert caught.value.details["holder_pid"] == holder.pid
    assert caught.value.details["lock_file"] == path


def test_other_resources_are_not_blocked(lock_dir, holder):
    with resource_lock("lv", "vg0/web2", timeout=0.5, lock_dir=lock_dir) as path:
        assert read(path) == f"{os.getpid()}\n"


def test_waiter_gets_the_lock_when_the_holder_releases(lock_dir, holder):
    started = time.monotonic()
    release = threading.Timer(0.5, holder.stdin.close)
    release.start()
    try:
        with resource_lock("lv", "vg0/web1", timeout=20, lock_dir=lock_dir) as path:
            waited = time.monotonic() - started
            assert read(path) == f"{os.getpid()}\n"
    finally:
        release.cancel()
    assert 0.5 <= waited < 20


def test_nested_lock_on_the_same_resource_does_not_deadlock(lock_dir):
    with resource_lock("domain", "web1", lock_dir=lock_dir) as outer:
        with resource_lock("domain", "web1", timeout=0.5, lock_dir=lock_dir) as inner:
            assert inner == outer
        assert read(outer) == f"{os.getpid()}\n"  # still ours after the inner exit
    assert read(outer) == ""


@pytest.mark.parametrize("kind, name", [
    ("lv", "../../etc/passwd"),
    ("../x", "y"),
    ("lv", "/abs/path"),
    ("lv", ".."),
    ("lv", "a\nb\x00c"),
    ("lv", "x" * 300),
])
def test_lock_path_stays_inside_the_lock_dir(kind, name):
    path = lock_path(kind, name, "/run/lock/openblade-kvm")
    assert os.path.dirname(path) == "/run/lock/openblade-kvm"
    assert os.path.basename(path) not in (".", "..")
    assert len(os.path.basename(path)) < 200


def test_lock_path_is_readable_and_unique():
    assert lock_path("domain", "web1", "/d") == "/d/domain-web1.lock"
    assert lock_path("lv", "vg0/web1", "/d") != lock_path("lv", "vg0_web1", "/d")
    assert lock_path("lv", "vg0/web1", "/d").startswith("/d/lv-vg0_web1-")


def test_lock_dir_writable_by_others_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with (
        pytest.raises(ReconcileError, match="writable by other users .*refusing to use it"),
        resource_lock("lv", "x", lock_dir=str(shared)),
    ):
        pytest.fail("used an unsafe lock directory")


def test_lock_dir_that_is_a_symlink_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with (
        pytest.raises(ReconcileError, match="is not a directory"),
        resource_lock("lv", "x", lock_dir=str(tmp_path / "link")),
    ):
        pytest.fail("followed a symlinked lock directory")


def test_lock_file_that_is_a_symlink_is_refused(lock_dir, tmp_path):
    os.makedirs(lock_dir)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.symlink(victim, lock_path("lv", "x", lock_dir))
    with (
        pytest.raises(ReconcileError, match="cannot open lock file"),
        resource_lock("lv", "x", lock_dir=lock_dir),
    ):
        pytest.fail("followed a symlinked lock file")
    assert victim.read_text() == "precious\n"
