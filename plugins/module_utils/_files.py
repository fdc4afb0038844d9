# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files the collection owns on a host, written so that no reader ever sees half of one."""

from __future__ import annotations

import grp
import os
import pwd
import tempfile

from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError


def read_text(path):
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def sha256(runner, path):
    """sha256 of the file or device ``path``, read by ``runner`` (here or on another blade)."""
    return runner.run(["sha256sum", path]).stdout.split()[0]


def write_atomic(path, content, mode=0o644, what="file", owner=None, group=None):
    """Write ``content`` beside ``path`` and rename it into place (systemd, networkd, LVM
    and dmeventd may read our files at any moment).  Missing directories are created
    (0755).  An OSError becomes a :class:`ReconcileError` naming ``what`` and the path,
    and the temporary file is gone."""
    directory = os.path.dirname(path)
    tmp = None
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".openblade-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(content if isinstance(content, bytes) else content.encode())
        replace_atomic(tmp, path, mode=mode, owner=owner, group=group, what=what)
        tmp = None  # renamed: it is ``path`` now
    except OSError as exc:
        raise _failure(what, path, exc) from None
    finally:
        if tmp is not None and os.path.lexists(tmp):
            os.unlink(tmp)


def replace_atomic(staged, path, *, mode=None, owner=None, group=None, what="file", durable=False):
    """Rename the finished file ``staged`` (written by another program: an ISO, a download)
    over ``path`` in one step, so no reader ever sees it half-written.

    ``mode``, ``owner`` and ``group`` (a name or an id) are set on ``staged`` before the
    rename: the file is never, not even briefly, more open than it should be.  With
    ``durable``, file and directory are flushed to disk, so the rename survives a crash.
    ``staged`` stays with the caller that made it when this fails (a verified download is
    worth keeping); the error is a :class:`ReconcileError` naming ``what`` and ``path``.
    """
    try:
        set_access(staged, mode, owner, group)
        if durable:
            _fsync(staged, os.O_RDONLY)
        os.replace(staged, path)
        if durable:
            _fsync(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    except (OSError, KeyError) as exc:
        raise _failure(what, path, exc) from None


def set_access(path, mode=None, owner=None, group=None):
    """chown (owner and group: a name or an id; None keeps it) and chmod ``path``."""
    if owner is not None or group is not None:
        os.chown(path, _id(owner, pwd.getpwnam, "pw_uid"), _id(group, grp.getgrnam, "gr_gid"))
    if mode is not None:
        os.chmod(path, mode)


def _id(name, lookup, attribute):
    """A uid or gid from a name or a number; -1 (keep it) for None."""
    if name is None:
        return -1
    if isinstance(name, int):
        return name
    try:
        return getattr(lookup(name), attribute)
    except KeyError:
        raise KeyError(f"no such user or group: {name!r}") from None


def _fsync(path, flags):
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _failure(what, path, exc):
    reason = exc.args[0] if isinstance(exc, KeyError) else exc
    return ReconcileError(f"cannot write {what} {path}: {reason}", path=path)
