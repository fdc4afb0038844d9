# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two ways a guest moves, once the pre-flight passed and the target LVs exist.

Live (running guest): ``virDomainMigrateToURI3`` peer-to-peer, with ``NON_SHARED_DISK``
and only the guest's writable disks in ``migrate_disks``.  Memory (``migrate_uri``) and
the disk mirror (``disks_uri``) both go to the destination's address on the migration
partition; the destination QEMU listens only there (``listen_address``).  libvirt's own
control connection is ``qemu+ssh://``.  A watchdog thread aborts the job
(``abortJob``) when the timeout passes; libvirt then resumes the guest on the source
and destroys the half-started one on the destination.

``PAUSED``: the guest stays paused on the destination after the switch-over.  The mirror
wrote every byte there, zeros included, and a thin pool on Linux 6.1 provisions written
zeros (dm-thin has no WRITE_ZEROES, so QEMU's ``detect_zeroes=unmap`` falls back to
BLKZEROOUT, which writes).  While the guest is paused, the caller discards on the
destination every range the source volume never provisioned, then resumes it
(see ``Migration._rethin``).  Post-copy is the exception: the destination runs before the
copy ends, so it is not paused and not re-thinned.

Cold (stopped guest): each disk is read here in 64 KiB blocks and only the blocks that
are not all zero are sent and written on the destination, so the new thin volume
provisions only the chunks that hold data.  The copy is verified by digest
before anything on the source is touched.
"""

from __future__ import annotations

import hashlib
import shlex
import struct
import subprocess
import threading
import time

from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError

try:
    import libvirt
except ImportError:  # reported by the module through missing_required_lib
    libvirt = None

# The smallest thin pool chunk LVM makes (64 KiB), so every all-zero chunk is skipped
# whatever the pool's chunk size.
SPARSE_BLOCK = 64 * 1024


class MigrationFailed(ReconcileError):
    """The migration job failed or was aborted; the guest still runs on the source."""


def flags(options, live=True):
    """The libvirt flag set for our options (see the module documentation)."""
    value = (
        libvirt.VIR_MIGRATE_PEER2PEER
        | libvirt.VIR_MIGRATE_PERSIST_DEST
        | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
        | libvirt.VIR_MIGRATE_NON_SHARED_DISK
        | libvirt.VIR_MIGRATE_ABORT_ON_ERROR
        | libvirt.VIR_MIGRATE_CHANGE_PROTECTION
    )
    if live:
        value |= libvirt.VIR_MIGRATE_LIVE
    if live and not options["postcopy_without_rollback"]:
        value |= libvirt.VIR_MIGRATE_PAUSED
    if options["auto_converge"]:
        value |= libvirt.VIR_MIGRATE_AUTO_CONVERGE
    if options["postcopy_without_rollback"]:
        value |= libvirt.VIR_MIGRATE_POSTCOPY
    if options["tls"]:
        value |= libvirt.VIR_MIGRATE_TLS
    return value


def params(options, disks, dest_xml, persist_xml):
    """The typed parameters of migrateToURI3."""
    address = options["migration_address"]
    host = f"[{address}]" if ":" in address else address
    found = {
        libvirt.VIR_MIGRATE_PARAM_URI: f"tcp://{host}",
        libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS: address,
        libvirt.VIR_MIGRATE_PARAM_DISKS_URI: f"tcp://{host}",
        libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS: list(disks),
        libvirt.VIR_MIGRATE_PARAM_DEST_XML: dest_xml,
        libvirt.VIR_MIGRATE_PARAM_PERSIST_XML: persist_xml,
    }
    if options["bandwidth"]:
        found[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = options["bandwidth"]
    return found


class LiveJob:
    """One live migration with a watchdog; :meth:`run` returns the job statistics."""

    poll = 1.0

    def __init__(self, dom, dest_uri, options, disks, xmls, timeout):
        self.dom = dom
        self.dest_uri = dest_uri
        self.options = options
        self.disks = disks
        self.xmls = xmls  # (the running guest's, the persistent config's) for the destination
        self.timeout = timeout
        self.aborted = None
        self.postcopy_started = False
        self._done = threading.Event()

    def run(self):
        watchdog = threading.Thread(target=self._watch, daemon=True)
        started = time.monotonic()
        watchdog.start()
        try:
            self.dom.migrateToURI3(
                self.dest_uri, params(self.options, self.disks, *self.xmls), flags(self.options)
            )
        except libvirt.libvirtError as exc:
            self._done.set()
            watchdog.join(10)
            why = self.aborted or exc.get_error_message()
            raise MigrationFailed(
                f"live migration of {self.dom.name()} failed: {why}", aborted=bool(self.aborted)
            ) from None
        self._done.set()
        watchdog.join(10)
        return {"seconds": round(time.monotonic() - started, 1), "postcopy": self.postcopy_started}

    def _watch(self):
        """Set the downtime once the job runs, switch to post-copy when allowed, and abort
        the job when the timeout passes."""
        deadline = time.monotonic() + self.timeout
        downtime_set = False
        while not self._done.wait(self.poll):
            try:
                stats = self.dom.jobStats(0)
                running = stats.get("type", 0) not in (0,)  # VIR_DOMAIN_JOB_NONE
                if running and not downtime_set and self.options["max_downtime"]:
                    self.dom.migrateSetMaxDowntime(self.options["max_downtime"], 0)
                    downtime_set = True
                if (
                    running
                    and self.options["postcopy_without_rollback"]
                    and not self.postcopy_started
                    and stats.get("memory_iteration", 0) >= 2
                ):
                    self.dom.migrateStartPostCopy(0)
                    self.postcopy_started = True
                if time.monotonic() >= deadline and not self.postcopy_started:
                    self.aborted = f"timed out after {self.timeout}s; the job was aborted"
                    self.dom.abortJob()
                    return
            except libvirt.libvirtError:
                continue  # the job ended between two polls, or is ending: migrate3 reports it


def completed_stats(dest_dom):
    """What libvirt recorded about the finished job on the destination (time, downtime,
    bytes); empty when it kept nothing."""
    try:
        stats = dest_dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
    except libvirt.libvirtError:
        return {}
    keep = ("time_elapsed", "downtime", "memory_total", "disk_total", "data_total", "setup_time")
    return {key: stats[key] for key in keep if key in stats}


# --- writing and discarding on the destination, over SSH ------------------------------------------

# The receiving end, run by the destination's Python (an Ansible target has one) on the volumes
# named in its argv: frames of (op, volume index, offset, length), then for a write the data,
# written in place; a discard is a BLKDISCARD ioctl, which makes a thin volume unprovision the
# chunks it covers.  Zero blocks therefore neither cross the wire nor provision a chunk.  One
# argv word; no shell pipeline on either side.  It prints the bytes it discarded per volume.
RECEIVER = (
    "import fcntl,os,struct,sys\n"
    "fds=[os.open(p,os.O_WRONLY) for p in sys.argv[1:]]\n"
    "gone=[0]*len(fds)\n"
    "r=sys.stdin.buffer\n"
    "while True:\n"
    " h=r.read(18)\n"
    " if len(h)<18: break\n"
    " op,i,off,n=struct.unpack('>cBQQ',h)\n"
    " if op==b'W': os.pwrite(fds[i],r.read(n),off)\n"
    " else: fcntl.ioctl(fds[i],0x1277,struct.pack('QQ',off,n)); gone[i]+=n\n"
    "for fd in fds: os.fsync(fd)\n"
    "print(' '.join(map(str,gone)))\n"
)
_FRAME = ">cBQQ"


def receiver_argv(paths):
    return ["python3", "-c", RECEIVER, *paths]


def write_frame(index, offset, data):
    return struct.pack(_FRAME, b"W", index, offset, len(data)) + data


def discard_frame(index, offset, length):
    return struct.pack(_FRAME, b"D", index, offset, length)


def sparse_copy(source_path, ssh_prefix, target_path, size):
    """Copy ``source_path`` to ``target_path`` on the destination, sending only the
    blocks that are not all zero (the target is a new thin volume, which reads as zeros).

    Returns (sha256 of the whole source, bytes sent).
    """
    digest = hashlib.sha256()
    zero = bytes(SPARSE_BLOCK)
    sent = 0
    with subprocess.Popen(
        ssh_prefix + [shlex.join(receiver_argv([target_path]))],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as proc:
        try:
            with open(source_path, "rb") as device:
                offset = 0
                while offset < size:
                    block = device.read(min(SPARSE_BLOCK, size - offset))
                    if not block:
                        break
                    digest.update(block)
                    if block != zero[: len(block)]:
                        proc.stdin.write(write_frame(0, offset, block))
                        sent += len(block)
                    offset += len(block)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        error = proc.stderr.read().decode("utf-8", "replace").strip()
        proc.wait()
    if proc.returncode != 0:
        raise ReconcileError(
            f"copying {source_path} to the destination failed (rc {proc.returncode}): {error or 'no output'}"
        )
    return digest.hexdigest(), sent


def discard(receiver, paths, holes):
    """Discard ``holes`` ({path: [(offset, length)]}) through ``receiver``, the RECEIVER of
    ``paths`` started on the destination (``SshRunner.start``); {path: bytes discarded}."""
    frames = b"".join(
        discard_frame(index, offset, length)
        for index, path in enumerate(paths)
        for offset, length in holes.get(path, [])
    )
    result = receiver.finish(frames)
    counts = result.stdout.split()
    if len(counts) != len(paths) or not all(count.isdigit() for count in counts):
        raise ReconcileError(f"the discard on the destination printed {result.stdout.strip()!r}, "
                             f"not one byte count per volume of {paths}")
    return {path: int(count) for path, count in zip(paths, counts, strict=True)}
