# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names and tags of what a backup creates.

On the guest's blade, each writable disk ``X`` gets a read-only thin snapshot
``X-bk-LABEL`` per run.  It is tagged ``ob_backup_pending`` until the target verified
its copy, then ``ob_backup_base`` (the base of the next run's ``thin_delta``).  At most
one base per disk survives a finished run; a pending one is never a base, so a run
killed at any point leaves the previous base in place.

On the target blade, each backup point is ``bk-<guest>-<disk>-LABEL``: written as a
writable thin snapshot of the previous point (or of the same golden image, or a new
volume) tagged ``ob_backup_incomplete``; once its digest equals the source snapshot's it
becomes read-only and is tagged ``ob_backup_point`` with ``ob_sha256``, in one LVM
metadata commit.  Only points count for restores and retention.  These tags differ from
lvm_snapshot's (``ob_snapshot``), so its retention never prunes a backup base.
"""

from __future__ import annotations

import re

from ansible_collections.openblade.kvm.plugins.module_utils._lvm import tags
from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError

# Source side.
BACKUP = "ob_backup"
PENDING = "ob_backup_pending"
BASE = "ob_backup_base"
OF = "ob_backup_of"  # the disk volume's name
LABEL = "ob_backup_label"
GUEST = "ob_backup_guest"  # the guest's UUID: two guests of one name never mix
# Target side.
POINT = "ob_backup_point"
INCOMPLETE = "ob_backup_incomplete"
DISK = "ob_backup_disk"  # the target (dev) of the disk in the guest, e.g. vda

_LABEL = re.compile(r"[A-Za-z0-9+_.-]+")


def check_label(label):
    """A backup label (a date, a run ID), as lvm_snapshot's; the tags, not the names, are
    what runs read back, so a '-' in a label or guest name is no ambiguity."""
    if not isinstance(label, str) or not _LABEL.fullmatch(label) or len(label) > 40:
        raise ValidationError(f"label: {label!r} is not a valid backup label (allowed: 1 to 40 of "
                              "A-Z a-z 0-9 + _ . -, e.g. '20240601T0300')", option="label")
    return label


def source_snapshot(volume, label):
    return f"{volume}-bk-{label}"


def point(guest, disk, label):
    return f"bk-{guest}-{disk}-{label}"


def source_tags(volume, label, uuid, stamp):
    return [tags.MARKER, BACKUP, PENDING, tags.kv(OF, volume), tags.kv(LABEL, label),
            tags.kv(GUEST, uuid), tags.kv(tags.CREATED, stamp)]


def point_tags(volume, disk, label, uuid, stamp):
    return [tags.MARKER, INCOMPLETE, tags.kv(OF, volume), tags.kv(DISK, disk), tags.kv(LABEL, label),
            tags.kv(GUEST, uuid), tags.kv(tags.CREATED, stamp)]


def ours(lv, volume, uuid, role):
    """Whether ``lv`` is one of our backup volumes of ``volume`` of guest ``uuid`` with ``role``."""
    return (tags.MARKER in lv.tags and role in lv.tags and tags.value(lv.tags, OF) == volume
            and tags.value(lv.tags, GUEST) == uuid)


def label_of(lv):
    return tags.value(lv.tags, LABEL)


def created(lv):
    text = tags.value(lv.tags, tags.CREATED)
    return int(text) if text and text.isdigit() else 0
