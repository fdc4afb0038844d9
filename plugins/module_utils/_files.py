# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files the collection owns on a host, written so that no reader ever sees half of one."""

from __future__ import annotations

import os
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


def write_atomic(path, content, mode=0o644, what="file"):
    """Write ``content`` beside ``path`` and rename it into place (systemd, networkd, LVM
    and dmeventd may read our files at any moment).  Missing directories are created
    (0755).  An OSError becomes a :class:`ReconcileError` naming ``what`` and the path."""
    directory = os.path.dirname(path)
    tmp = None
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".openblade-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise ReconcileError(f"cannot write {what} {path}: {exc}", path=path) from None
