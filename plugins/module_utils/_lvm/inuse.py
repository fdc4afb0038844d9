# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who uses a logical volume, asked before anything destructive happens to it.

- open: the kernel's open count (``lvs -o lv_device_open``): a running QEMU, a mount,
  dd, a backup job; anything.
- mounted: /proc/self/mountinfo, matched by device number.
- held: another device stacked on it (dm-crypt, kpartx partitions, multipath, md):
  /sys/dev/block/MAJ:MIN/holders.
- libvirt domains: every domain's persistent (inactive) XML and, for running ones, the
  live XML, so a disk of a defined but stopped guest counts, and so does one that was
  hot-plugged.  Disk sources are matched by path: /dev/VG/LV, /dev/mapper/VG-LV with '-'
  doubled, /dev/disk/by-id/dm-name-..., and whatever symlink resolves to the same node.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import model
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import (
    DEFAULT_URI,
    Hypervisor,
    LibvirtFailure,
    LibvirtMissing,
)
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.report import dm_name
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError


class InUse(ReconcileError):
    """A destructive action was refused because something uses the volume."""


@dataclass
class Users:
    """Everything that uses one LV.  ``running`` and ``stopped`` hold domain names."""

    lv: str
    open: bool = False
    mounts: list = field(default_factory=list)
    holders: list = field(default_factory=list)
    running: list = field(default_factory=list)
    stopped: list = field(default_factory=list)

    def active_users(self):
        """Users that hold the volume right now; nothing overrides these."""
        reasons = []
        if self.mounts:
            reasons.append("it is mounted on " + ", ".join(self.mounts))
        if self.holders:
            reasons.append("device " + ", ".join(self.holders) + " is stacked on it")
        reasons += [f"libvirt domain {name!r} (running) uses it" for name in self.running]
        if self.open and not reasons:
            reasons.append("its device is open (a process holds it)")
        return reasons

    def refuse(self, verb, force):
        """Raise :class:`InUse` unless ``verb`` may go ahead; return warnings otherwise.

        ``force`` overrides a reference from a domain that is not running (the domain
        keeps a dangling disk), never a user that holds the volume now.
        """
        busy = self.active_users()
        if busy:
            raise InUse(f"refusing to {verb} {self.lv}: {'; '.join(busy)} "
                        "(force does not override a volume in use)", users=self.as_dict())
        if not self.stopped:
            return []
        names = ", ".join(repr(name) for name in self.stopped)
        if not force:
            raise InUse(f"refusing to {verb} {self.lv}: libvirt domain {names} (defined, not "
                        "running) uses it; detach the disk or undefine the domain first, or set "
                        "force: true to leave the domain with a missing disk",
                        users=self.as_dict())
        return [f"{verb} {self.lv} although libvirt domain {names} (not running) uses it (force)"]

    def as_dict(self):
        return {"open": self.open, "mounts": self.mounts, "holders": self.holders,
                "running_domains": self.running, "stopped_domains": self.stopped}


def device_paths(vg, lv):
    """The names a domain XML may use for ``vg/lv``, plus the nodes they resolve to."""
    dm = dm_name(vg, lv)
    names = {f"/dev/{vg}/{lv}", f"/dev/mapper/{dm}", f"/dev/disk/by-id/dm-name-{dm}"}
    return names | {os.path.realpath(name) for name in names}


def _unescape(path):
    # mountinfo escapes space, tab, newline and backslash as octal (\040 ...).
    return path.encode().decode("unicode_escape") if "\\" in path else path


def mounts_of(device, proc_root="/"):
    """Mount points of the block device ``(major, minor)``."""
    if device is None:
        return []
    wanted = "{}:{}".format(*device)
    try:
        with open(os.path.join(proc_root, "proc/self/mountinfo")) as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return []
    return [_unescape(fields[4]) for fields in (line.split() for line in lines)
            if len(fields) > 4 and fields[2] == wanted]


def holders_of(device, sys_root="/"):
    """Kernel devices stacked on ``(major, minor)`` (dm-crypt, partitions, md...)."""
    if device is None:
        return []
    path = os.path.join(sys_root, "sys/dev/block", "{}:{}".format(*device), "holders")
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


class Domains:
    """libvirt domains and the disk sources each one references."""

    def __init__(self, uri=DEFAULT_URI, connect=None):
        self.uri = uri
        # A read-only connection: this check never changes anything.  libvirt itself is
        # imported only when a destructive action asks (see connection.bindings).
        self._connect = connect if connect is not None else (
            lambda: Hypervisor(uri, readonly=True))
        self._cache = None

    def disk_sources(self):
        """[(domain name, running, {source paths})] for every domain, running or not."""
        if self._cache is not None:
            return self._cache
        if model.etree is None:
            raise ReconcileError("cannot check which libvirt domains use the volume: the lxml "
                                 "Python library is missing (Debian: python3-lxml)")
        try:
            hypervisor = self._connect()
            try:
                found = []
                for dom in hypervisor.domains():
                    running = hypervisor.is_active(dom)
                    found.append((dom.name(), running, hypervisor.disk_paths(dom, running)))
            finally:
                hypervisor.close()
        except LibvirtMissing:
            raise ReconcileError("cannot check which libvirt domains use the volume: the libvirt "
                                 "Python bindings are missing (Debian: python3-libvirt)") from None
        except LibvirtFailure as exc:
            raise ReconcileError(f"cannot check which libvirt domains ({self.uri}) use the volume: "
                                 f"{exc.reason}; refusing to go on without knowing") from None
        self._cache = found
        return found

    def using(self, vg, lv):
        """(running, stopped) names of domains whose disks reference ``vg/lv``."""
        paths = device_paths(vg, lv)
        running, stopped = [], []
        for name, active, sources in self.disk_sources():
            if any(source in paths or os.path.realpath(source) in paths for source in sources):
                (running if active else stopped).append(name)
        return sorted(running), sorted(stopped)


def users_of(lv, domains, proc_root="/", sys_root="/"):
    """Every user of ``lv`` (a report.LV)."""
    running, stopped = domains.using(lv.vg, lv.name)
    return Users(lv=lv.full_name, open=lv.open, mounts=mounts_of(lv.kernel, proc_root),
                 holders=holders_of(lv.kernel, sys_root), running=running, stopped=stopped)
