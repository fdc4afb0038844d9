# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reaching the destination blade of a migration from the source blade.

A migration runs on the source blade (that is where the guest is).  It needs the
destination for three things: libvirt (``qemu+ssh://``, the control connection), LVM
(the guest's thin volumes are created there first) and a few files (the seed ISO).
All three go over the same SSH identity that libvirt's ``qemu+ssh`` transport uses, so
a blade pair that can migrate needs nothing else set up.

:class:`SshRunner` is a :class:`~._runner.Runner` whose commands run on the
destination: the ``_lvm`` readers work through it unchanged.  The remote side runs a
shell, so every word is quoted with :func:`shlex.quote`; argv lists stay argv lists.
"""

from __future__ import annotations

import shlex
import subprocess
import urllib.parse

from ansible_collections.openblade.kvm.plugins.module_utils._runner import (
    CommandError,
    CommandResult,
    Runner,
)

# One SSH connection per destination, shared by the dozen or so commands of a move: a key
# exchange costs seconds on a busy blade.  The socket lives in /run, which only root can
# write; the master exits 30 s after its last command.
CONTROL_PATH = "/run/openblade-kvm-ssh-%C"


def ssh_base(host, user="root", port=None, identity=None, connect_timeout=20):
    """The ssh argv prefix for ``host``: batch mode (never a password prompt), a keepalive
    so a destination that vanishes ends the command instead of hanging it, and a shared
    connection."""
    argv = [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={connect_timeout}",
        "-o",
        "ServerAliveInterval=5",
        "-o",
        "ServerAliveCountMax=3",
        "-o",
        "ControlMaster=auto",
        "-o",
        f"ControlPath={CONTROL_PATH}",
        "-o",
        "ControlPersist=30",
    ]
    if port:
        argv += ["-p", str(port)]
    if identity:
        argv += ["-i", identity]
    argv += ["-l", user, host, "--"]
    return argv


def libvirt_uri(host, user="root", port=None, identity=None):
    """``qemu+ssh://user@host[:port]/system?keyfile=...``: libvirt's control connection
    to the destination, over the same SSH identity as :class:`SshRunner`."""
    netloc = f"{user}@{host}" + (f":{port}" if port else "")
    query = {"no_tty": "1"}
    if identity:
        query["keyfile"] = identity
    return urllib.parse.urlunsplit(("qemu+ssh", netloc, "/system", urllib.parse.urlencode(query), ""))


class SshRunner(Runner):
    """Runs argv lists on ``host`` through ``ssh``, with the local runner underneath
    (so the unit tier's fake runner sees the whole ssh argv)."""

    def __init__(self, local, host, user="root", port=None, identity=None):
        super().__init__(local.module)
        self.local = local
        self.host = host
        self.prefix = ssh_base(host, user, port, identity)

    def wrap(self, argv):
        return self.prefix + [shlex.join(str(word) for word in argv)]

    def _execute(self, argv, data):
        return self.local._execute(self.wrap(argv), data)

    def exists(self, binary):
        return self.run(["sh", "-c", f"command -v {shlex.quote(binary)}"], check=False).rc == 0

    def start(self, argv):
        """Start ``argv`` there now, to be given its input later (:meth:`Started.finish`):
        the connection and the command are up before the moment that counts."""
        wrapped = self.wrap(argv)
        pipe = subprocess.PIPE
        proc = subprocess.Popen(wrapped, stdin=pipe, stdout=pipe, stderr=pipe)
        return Started(proc, wrapped)


class Started:
    """A command running on the destination that waits for its standard input."""

    def __init__(self, proc, argv):
        self.proc = proc
        self.argv = argv

    def finish(self, data=b"", timeout=600):
        """Send ``data``, close its input, wait for it; a CommandResult (CommandError on rc != 0)."""
        try:
            out, err = self.proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        out, err = (text.decode("utf-8", "replace") for text in (out, err))
        result = CommandResult(self.proc.returncode, out, err)
        if result.rc != 0:
            raise CommandError(self.argv, result.rc, result.stdout, result.stderr)
        return result
