# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup target blade, reached over SSH (:class:`~._libvirt.remote.SshRunner`):
its backup points, the point being written, and the guest definitions.

A guest's definitions live in ``<backup_dir>/<guest>/<label>/`` (domain.xml, the seed
ISOs, ledger.json, manifest.json, and ``<disk>.blocks``: the block manifest of each disk's
point, see :mod:`.stream`).  They are written into ``<label>.partial`` and
renamed into place, so a directory without the suffix is always complete.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shlex

from ansible_collections.openblade.kvm.plugins.module_utils._backup import names
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import DEFAULT_URI, Hypervisor
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.remote import SshRunner, ssh_base
from ansible_collections.openblade.kvm.plugins.module_utils._lock import DEFAULT_LOCK_DIR
from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands, sizes, tags
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.golden import is_complete_golden
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.report import Lvm
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner

# One SSH connection for the whole run: a run makes a few dozen calls to the other blade,
# and each new connection costs a key exchange (seconds on a loaded blade).  The master
# ends by itself shortly after the run's last call.
_MULTIPLEX = [
    "-o",
    "ControlMaster=auto",
    "-o",
    f"ControlPath={DEFAULT_LOCK_DIR}/ssh-%C",
    "-o",
    "ControlPersist=20",
]

# What ssh prints when it could not use its multiplex master and exits 255 before the command
# starts: the master was ending (ControlPersist) as we asked it for a session, or the master
# this ssh just started died before it connected (OpenSSH's control_persist_detach: fatal).
_MUX_FAILURES = (
    "mux_client_request_session: read from master failed",
    "Failed to connect to new control master",
)

WRITER = r"""
import base64,json,os,shutil,sys
final=sys.argv[1];partial=final+'.partial'
os.makedirs(partial,0o700,exist_ok=True)  # the disks' block manifests are in it already
for name,data in json.load(sys.stdin).items():
    with open(os.path.join(partial,name),'wb') as f:
        f.write(base64.b64decode(data));f.flush();os.fsync(f.fileno())
shutil.rmtree(final,ignore_errors=True);os.rename(partial,final)
fd=os.open(os.path.dirname(final),os.O_RDONLY);os.fsync(fd)
"""


def listing_argv(directory):
    """``directory``'s entries and theirs, one ``<type> <relative path>`` per line (type ``d``
    or ``f``), or nothing when it does not exist."""
    quoted = shlex.quote(directory)
    return ["sh", "-c", f"find {quoted} -mindepth 1 -maxdepth 2 -printf '%y %P\\n' 2>/dev/null; true"]


def ssh_prefix(host, user, port, identity):
    argv = ssh_base(host, user, port, identity)
    return argv[:1] + _MULTIPLEX + argv[1:]


@contextlib.contextmanager
def point_active(runner, full_name):
    """The backup point ``full_name`` (read-only, skipped at activation) active for a read
    through ``runner``, and inactive again afterwards, also on failure."""
    runner.run(["lvchange", "--activate", "y", "--ignoreactivationskip", full_name])
    try:
        yield
    finally:
        runner.run(commands.LVCHANGE.argv(activate="n", positional=[full_name]))


class BackupSsh(SshRunner):
    """An :class:`SshRunner` over one multiplexed connection."""

    def __init__(self, local, host, user="root", port=None, identity=None):
        super().__init__(local, host, user, port, identity)
        self.prefix = ssh_prefix(host, user, port, identity)

    def _execute(self, argv, data):
        result = super()._execute(argv, data)
        if result.rc == 255 and any(failure in result.stderr for failure in _MUX_FAILURES):
            # The command never started, so running it again through a new master is safe.
            result = super()._execute(argv, data)
        return result


class Target:
    def __init__(self, remote, vg, pool, backup_dir, guest, uuid):
        self.remote = remote
        self.lvm = Lvm(remote)
        self.vg = vg
        self.pool = pool
        self.backup_dir = backup_dir
        self.guest = guest
        self.uuid = uuid
        self.lvs = {}
        self.files = set()
        self.vg_exists = False

    @property
    def host(self):
        return self.remote.host

    def observe(self):
        found = self.lvm.lvs_by_vg()
        self.lvs = found.get(self.vg, {})
        self.vg_exists = self.vg in found or self.vg in self.lvm.vgs()  # vgs only for a VG without LVs

    def points(self, volume):
        """{label: LV} of the verified points of ``volume``."""
        return {
            names.label_of(lv): lv
            for lv in self.lvs.values()
            if names.ours(lv, volume, self.uuid, names.POINT)
        }

    def incomplete(self, volume):
        return [lv for lv in self.lvs.values() if names.ours(lv, volume, self.uuid, names.INCOMPLETE)]

    def golden(self, source_golden):
        """The target's copy of the source's golden image: same name, same image checksum."""
        lv = self.lvs.get(source_golden.name)
        if lv is None or not is_complete_golden(lv) or not is_complete_golden(source_golden):
            return None
        same = tags.value(lv.tags, tags.SHA256) == tags.value(source_golden.tags, tags.SHA256)
        return lv if same and lv.size == source_golden.size else None

    def run(self, argv):
        return self.lvm.run(argv)

    def remove(self, name):
        self.run(commands.LVREMOVE.argv(positional=[f"{self.vg}/{name}"]))

    def create_point(self, name, size, point_tags, origin=None):
        """The point being written: a writable snapshot of ``origin`` (a point or the
        golden image), or a new thin volume; grown to ``size``, and active (lvcreate
        activates it: the snapshot is made without the activation skip flag)."""
        if origin is None:
            argv = commands.LVCREATE.argv(
                type="thin",
                virtualsize=sizes.argv_bytes(size),
                thinpool=self.pool,
                addtag=point_tags,
                name=name,
                positional=[self.vg],
            )
        else:
            argv = commands.LVCREATE.argv(
                snapshot=True,
                permission="rw",
                activationskip="n",
                addtag=point_tags,
                name=name,
                positional=[f"{self.vg}/{origin.name}"],
            )
        self.run(argv)
        if origin is not None and origin.size < size:
            self.run(commands.LVEXTEND.argv(size=sizes.argv_bytes(size), positional=[f"{self.vg}/{name}"]))
        return f"/dev/{self.vg}/{name}"

    def finish_point(self, name, digest):
        """The point put away, then one metadata commit makes it read-only and good.
        Deactivated first, its permission changes without a device-mapper reload (measured
        on a lab blade: 0.65 s for both commands against 1.4-2.5 s the other way round)."""
        full = f"{self.vg}/{name}"
        self.run(commands.LVCHANGE.argv(activate="n", positional=[full]))
        self.run(
            commands.LVCHANGE.argv(
                permission="r",
                activationskip="y",
                deltag=names.INCOMPLETE,
                addtag=[names.POINT, tags.kv(tags.SHA256, digest)],
                positional=[full],
            )
        )

    def blocks_path(self, label, disk, partial=False):
        """The block manifest of point ``label`` of ``disk`` (written by the receiver into the
        ``.partial`` directory, which becomes the definition directory)."""
        return os.path.join(self.definition_dir(label) + (".partial" if partial else ""), f"{disk}.blocks")

    def has_file(self, path):
        """Whether ``path``, in this guest's directory, is a file, as :meth:`definitions` found."""
        return path in self.files

    # --- definitions --------------------------------------------------------------------------

    def definition_dir(self, label):
        return os.path.join(self.backup_dir, self.guest, label)

    def definitions(self):
        """Labels with a complete definition directory, and stale ``.partial`` ones; the
        files in them (the block manifests) are listed by the same call, for :meth:`has_file`."""
        directory = os.path.join(self.backup_dir, self.guest)
        entries = []
        for line in self.remote.run(listing_argv(directory)).stdout.splitlines():
            kind, _sep, path = line.partition(" ")
            if kind == "f" and "/" in path:
                self.files.add(os.path.join(directory, path))
            elif kind == "d" and path and "/" not in path:
                entries.append(path)
        entries.sort()  # find lists in directory order
        return (
            [entry for entry in entries if not entry.endswith(".partial")],
            [entry for entry in entries if entry.endswith(".partial")],
        )

    def write_definition(self, label, files):
        """``files``: {name: bytes or str}, written and fsynced in a .partial directory that is
        then renamed into place, in one call."""
        encoded = {
            name: base64.b64encode(content.encode() if isinstance(content, str) else content).decode()
            for name, content in files.items()
        }
        self.remote.run(["python3", "-c", WRITER, self.definition_dir(label)], data=json.dumps(encoded))

    def remove_definition(self, entry):
        self.remote.run(["rm", "-rf", os.path.join(self.backup_dir, self.guest, entry)])

    def read_manifest(self, label):
        text = self.remote.run(["cat", os.path.join(self.definition_dir(label), "manifest.json")]).stdout
        return json.loads(text)


def remote_spec():
    """The argument spec of the options documented in doc fragment openblade.kvm.backup."""
    return {
        "ssh_user": {"type": "str", "default": "root"},
        "ssh_port": {"type": "int"},
        "ssh_identity": {"type": "path"},
        "backup_dir": {"type": "path", "default": "/var/lib/openblade/backups"},
        "uri": {"type": "str", "default": DEFAULT_URI},
    }


def connect(module, host_option):
    """(this blade's runner, the other blade's runner, this blade's libvirt) for a module."""
    params = module.params
    runner = Runner(module)
    other = BackupSsh(
        runner, params[host_option], params["ssh_user"], params["ssh_port"], params["ssh_identity"]
    )
    return runner, other, Hypervisor(params["uri"])
