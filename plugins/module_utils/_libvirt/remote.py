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
import urllib.parse

from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


def ssh_base(host, user="root", port=None, identity=None, connect_timeout=20):
    """The ssh argv prefix for ``host``: batch mode (never a password prompt), and a
    keepalive so a destination that vanishes ends the command instead of hanging it."""
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
