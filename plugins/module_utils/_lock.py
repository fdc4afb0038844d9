# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-host, per-resource locks, so two runs never interleave on one resource.

``with resource_lock("lv", "vg0/web1"):`` takes an exclusive ``flock`` on a file under
``/run/lock/openblade-kvm``, polling until a bounded deadline, and fails with
:class:`LockTimeout` naming the holder's PID instead of hanging a play.

The kernel drops a flock when its holder exits, however it exits, so a crashed run
never leaves a stale lock behind.  Lock files are never deleted: unlinking a lock file
lets a waiter lock the old inode while a newcomer locks a new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import stat
import time

from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
)

DEFAULT_LOCK_DIR = "/run/lock/openblade-kvm"
_POLL_SECONDS = 0.1
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")
_MAX_STEM = 100

# Paths this process holds, so nested locks on one resource do not deadlock:
# flock treats two open() calls of the same file as two competing owners.
_held = set()


class LockTimeout(ReconcileError):
    """Another run held the resource for longer than we were willing to wait."""


def lock_path(kind, name, lock_dir=DEFAULT_LOCK_DIR):
    """The lock file of a resource: readable, inside ``lock_dir``, unique per (kind, name).

    Characters outside [A-Za-z0-9_.+-] become '_' (so no '/' and no traversal); when
    that changes the name, or it is too long, a hash of the original keeps it unique.
    """
    stem = f"{kind}-{name}"
    safe = _UNSAFE.sub("_", stem)
    if safe != stem or len(safe) > _MAX_STEM:
        digest = hashlib.sha256(stem.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        safe = f"{safe[:_MAX_STEM]}-{digest}"
    return os.path.join(lock_dir, safe + ".lock")


def _prepare_lock_dir(lock_dir):
    """Create ``lock_dir``, and refuse one that others could plant files or symlinks in.

    /run/lock is world-writable, so anyone could have created our directory first.
    """
    try:
        os.makedirs(lock_dir, mode=0o755, exist_ok=True)
    except FileExistsError:
        pass  # a symlink or a file: refused just below
    except OSError as exc:
        raise ReconcileError(f"cannot create lock directory {lock_dir}: {exc}",
                             lock_dir=lock_dir) from None
    info = os.lstat(lock_dir)
    if not stat.S_ISDIR(info.st_mode):
        problem = "is not a directory"
    elif info.st_uid != os.geteuid():
        problem = f"is owned by uid {info.st_uid}, not by us (uid {os.geteuid()})"
    elif info.st_mode & 0o022:
        problem = f"is writable by other users (mode {stat.S_IMODE(info.st_mode):o})"
    else:
        return
    raise ReconcileError(f"lock directory {lock_dir} {problem}; refusing to use it",
                         lock_dir=lock_dir)


def _holder(fd):
    content = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(content) if content.isdigit() else None


@contextlib.contextmanager
def resource_lock(kind, name, timeout=60, lock_dir=DEFAULT_LOCK_DIR):
    """Hold an exclusive lock on resource ``kind``/``name``; yield the lock file path."""
    path = lock_path(kind, name, lock_dir)
    if path in _held:
        yield path  # the outer block releases it
        return

    _prepare_lock_dir(lock_dir)
    try:
        # 0600: only the owner (root) may open it, so nobody else can hold it to block us.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ReconcileError(f"cannot open lock file {path}: {exc}", lock_file=path) from None
    try:
        _acquire(fd, kind, name, path, timeout)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _held.add(path)
        try:
            yield path
        finally:
            _held.discard(path)
            # Clear our PID first, so a later timeout never names a finished holder.
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the last descriptor releases the flock


def _acquire(fd, kind, name, path, timeout):
    started = time.monotonic()
    deadline = started + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            now = time.monotonic()
            if now >= deadline:
                break
            time.sleep(min(_POLL_SECONDS, deadline - now))
    waited = round(time.monotonic() - started, 1)
    holder = _holder(fd)
    raise LockTimeout(
        f"{kind} {name!r} is locked by {f'PID {holder}' if holder else 'another process'} "
        f"(lock file {path}); gave up after waiting {waited:.1f}s",
        lock_file=path, holder_pid=holder, waited=waited,
    )
