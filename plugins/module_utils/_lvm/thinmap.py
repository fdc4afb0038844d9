# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which blocks a thin volume holds, read from its pool's metadata while the pool is live.

The kernel rewrites a live pool's metadata all the time, so the thin-provisioning-tools
read only a *metadata snapshot*: a frozen copy of the mapping trees that the kernel keeps
until it is released.  A pool has at most one, and a leftover one makes the next
``reserve_metadata_snap`` fail with EBUSY (and pins the metadata blocks it references),
so:

- :func:`metadata_snapshot` takes the VG's lock (the one every LVM resource of this
  collection takes), releases a stale snapshot a killed run left behind (nobody else of
  ours can hold it while we hold the lock), reserves one, and always releases it;
- :meth:`ThinMap.mapped` (``thin_dump --dev-id``) and :meth:`ThinMap.changed`
  (``thin_delta``) read it, in the pool's data blocks, and return byte ranges.

Ranges are ``(offset, length)`` in bytes, sorted, adjacent ones merged.  Reserving
commits the pool's metadata first, so every block written before the call is in the map.
"""

from __future__ import annotations

import contextlib
import io
import xml.etree.ElementTree as ET

from ansible_collections.openblade.kvm.plugins.module_utils._lock import resource_lock
from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.base import LOCK_KIND
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.report import Lvm, dm_name
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError

SECTOR = 512
# The thin_delta range kinds that mean "the bytes differ"; "same" is left out.
CHANGED = ("different", "left_only", "right_only")
_HELD_FIELD = 6  # dmsetup status of a thin-pool: start len thin-pool trans meta data HELD ...


class ThinMapError(ReconcileError):
    """The pool's metadata could not be read (or says something we do not understand)."""


def pool_device(vg, pool):
    """The kernel's thin-pool target (messages and status go there, not to the public LV)."""
    return dm_name(vg, pool) + "-tpool"


def metadata_device(vg, pool):
    return "/dev/mapper/" + dm_name(vg, pool + "_tmeta")


def held_metadata_snap(runner, vg, pool):
    """The metadata block of the pool's reserved snapshot, or None when none is held."""
    device = pool_device(vg, pool)
    words = runner.run(commands.DMSETUP_STATUS.argv(positional=[device])).stdout.split()
    if len(words) <= _HELD_FIELD or words[2] != "thin-pool":
        raise ThinMapError(f"thin pool {vg}/{pool} ({device}) reports no usable status: "
                           f"{' '.join(words) or 'nothing'} (failed or read-only pool?)")
    held = words[_HELD_FIELD]
    return None if held == "-" else held


def release_stale(runner, vg, pool):
    """Release the pool's metadata snapshot if one is held; True when there was one.

    Call it only under the VG's lock (:func:`metadata_snapshot` does): then no run of this
    collection is reading it, and a held snapshot is a killed run's leftover.
    """
    if held_metadata_snap(runner, vg, pool) is None:
        return False
    _message(runner, vg, pool, "release_metadata_snap")
    return True


def _message(runner, vg, pool, message):
    runner.run(commands.DMSETUP_MESSAGE.argv(positional=[pool_device(vg, pool), "0", message]))


@contextlib.contextmanager
def metadata_snapshot(runner, vg, pool, lock_dir=None, timeout=60, thin_ids=None):
    """Hold the VG's lock and a metadata snapshot of ``vg/pool``; yield a :class:`ThinMap`.

    The snapshot is released however the block ends, before the lock.  The ``stale``
    attribute of the yielded map says whether an earlier run had left one behind.
    ``thin_ids``: what ``Lvm.thin_ids(vg)`` returned earlier (thin ids never change), to
    save that ``lvs`` while the caller waits.
    """
    kwargs = {"lock_dir": lock_dir} if lock_dir else {}
    with resource_lock(LOCK_KIND, vg, timeout=timeout, **kwargs):
        stale = release_stale(runner, vg, pool)
        _message(runner, vg, pool, "reserve_metadata_snap")
        try:
            yield ThinMap(runner, vg, pool, stale, thin_ids)
        finally:
            _message(runner, vg, pool, "release_metadata_snap")


class ThinMap:
    """Readers of one reserved metadata snapshot (see :func:`metadata_snapshot`)."""

    def __init__(self, runner, vg, pool, stale=False, thin_ids=None):
        self.runner = runner
        self.vg = vg
        self.pool = pool
        self.stale = stale
        self._ids = thin_ids

    def thin_id(self, name):
        """The pool's id of thin volume ``name`` (refused when it is in another pool)."""
        if self._ids is None:
            self._ids = Lvm(self.runner).thin_ids(self.vg)
        found = self._ids.get(name)
        if found is None:
            raise ThinMapError(f"{self.vg}/{name} is not a thin volume")
        if found[0] != self.pool:
            raise ThinMapError(f"{self.vg}/{name} is in thin pool {found[0]}, not {self.pool}")
        return found[1], found[2]

    def _read(self, argv):
        return self.runner.run(argv + [metadata_device(self.vg, self.pool)]).stdout

    def mapped(self, name):
        """Byte ranges thin volume ``name`` has provisioned (everything else reads as zeros)."""
        thin_id, size = self.thin_id(name)
        text = self._read(commands.THIN_DUMP.argv(dev_id=thin_id))
        return clip(parse_dump(text, thin_id), size)

    def changed(self, old, new):
        """Byte ranges where thin volumes ``old`` and ``new`` differ: provisioned in only one
        of them, or mapped to different data blocks (written since ``old`` was snapshotted)."""
        left = self.thin_id(old)[0]
        right, size = self.thin_id(new)
        text = self._read(commands.THIN_DELTA.argv(snap1=left, snap2=right))
        return clip(coalesce(span for kind, span in parse_delta(text) if kind in CHANGED), size)


def volume_ranges(runner, vg, pool, name, since=None, lock_dir=None):
    """(:meth:`ThinMap.mapped` of ``name``, :meth:`ThinMap.changed` from ``since`` to ``name``
    or None without ``since``), both read from one metadata snapshot of its own: one
    reserve and one release, which cost a metadata commit each."""
    with metadata_snapshot(runner, vg, pool, lock_dir) as snap:
        return snap.mapped(name), (snap.changed(since, name) if since else None)


# --- parsing: thin_dump and thin_delta XML, in data blocks, to bytes -------------------------


def _elements(text):
    """(tag, attributes) of each element as it is read; big dumps are never held as a tree."""
    try:
        for _event, node in ET.iterparse(io.StringIO(text), events=("start",)):
            yield node.tag, node.attrib
    except ET.ParseError as exc:
        raise ThinMapError(f"the thin pool tools printed XML we cannot read: {exc}") from None


def _block_bytes(attrib):
    try:
        return int(attrib["data_block_size"]) * SECTOR
    except (KeyError, ValueError):
        raise ThinMapError("the thin pool metadata has no data_block_size in its superblock") from None


def parse_dump(text, thin_id):
    """Byte ranges of device ``thin_id`` in ``thin_dump`` XML."""
    block, found, seen, ranges = None, False, False, []
    for tag, attrib in _elements(text):
        if tag == "superblock":
            block = _block_bytes(attrib)
        elif tag == "device":
            found = int(attrib["dev_id"]) == thin_id
            seen = seen or found
        elif found and tag == "range_mapping":
            ranges.append((int(attrib["origin_begin"]) * block, int(attrib["length"]) * block))
        elif found and tag == "single_mapping":
            ranges.append((int(attrib["origin_block"]) * block, block))
    if block is None:
        raise ThinMapError("thin_dump printed no superblock")
    if not seen:
        raise ThinMapError(f"thin id {thin_id} is not in the pool's metadata snapshot")
    return coalesce(ranges)


def parse_delta(text):
    """[(kind, (offset, length))] in bytes from ``thin_delta`` XML, kinds as it prints them."""
    block, found = None, []
    for tag, attrib in _elements(text):
        if tag == "superblock":
            block = _block_bytes(attrib)
        elif tag in CHANGED + ("same",):
            found.append((tag, (int(attrib["begin"]) * block, int(attrib["length"]) * block)))
    if block is None:
        raise ThinMapError("thin_delta printed no superblock")
    return found


def coalesce(ranges):
    """Sorted ``(offset, length)`` ranges with touching or overlapping ones merged."""
    merged = []
    for start, length in sorted(ranges):
        if merged and start <= merged[-1][0] + merged[-1][1]:
            last_start, last_length = merged[-1]
            merged[-1] = (last_start, max(last_length, start + length - last_start))
        else:
            merged.append((start, length))
    return merged


def clip(ranges, size):
    """Ranges cut at ``size`` (the last chunk may reach past the volume's end)."""
    return [(start, min(length, size - start)) for start, length in ranges if start < size]


def unmapped(ranges, size):
    """The complement of ``ranges`` within ``[0, size)``: what reads as zeros."""
    holes, position = [], 0
    for start, length in ranges:
        if start > position:
            holes.append((position, start - position))
        position = max(position, start + length)
    if position < size:
        holes.append((position, size - position))
    return holes
