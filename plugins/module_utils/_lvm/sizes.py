# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sizes: absolute (validated by _validate.size_bytes) or a percentage like LVM's
``-l 80%VG``, and the rounding that makes re-runs compare equal.

LVM rounds every LV up to whole extents, so a requested size is compared with the
current one only after the same rounding.  A percentage is resolved once, when the
volume is created: ``%FREE`` shrinks as soon as the volume exists, so comparing it again
would grow or shrink the volume on every run (community.general lvol's classic bug).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.openblade.kvm.plugins.module_utils._validate import (
    ValidationError,
    size_bytes,
)

# LVM's default extent size, assumed when the VG does not exist yet (check mode of a
# play that creates it in an earlier task).
DEFAULT_EXTENT = 4 * 1024 ** 2

_PERCENT = re.compile(r"\s*([0-9]+)\s*%\s*([A-Za-z]+)\s*")


@dataclass(frozen=True)
class Size:
    """A requested size: ``nbytes``, or ``percent`` of ``base`` ('VG', 'FREE', ...)."""

    nbytes: int | None = None
    percent: int | None = None
    base: str | None = None

    @property
    def relative(self):
        return self.percent is not None

    def __str__(self):
        return f"{self.percent}%{self.base}" if self.relative else human(self.nbytes)


def parse(value, option, bases=()):
    """A :class:`Size` from ``value``; percentages are allowed of the given ``bases``."""
    if value is None:
        return None
    match = _PERCENT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return Size(nbytes=size_bytes(value, option))
    percent, base = int(match.group(1)), match.group(2).upper()
    allowed = ", ".join(f"N%{b}" for b in bases)
    if base not in bases:
        rule = f"allowed here: {allowed}" if bases else "only absolute sizes are allowed here"
        raise ValidationError(f"{option}: {value!r} is not a supported percentage ({rule})",
                              option=option)
    if not 1 <= percent <= 100:
        raise ValidationError(f"{option}: {value!r} is not a valid percentage (allowed: "
                              f"whole numbers 1-100, as in {allowed})", option=option)
    return Size(percent=percent, base=base)


def round_up(nbytes, extent):
    """``nbytes`` rounded up to whole extents, as lvcreate and lvextend do."""
    return -(-nbytes // extent) * extent


def percent_of(percent, total, extent):
    """``percent`` of ``total`` bytes in whole extents, rounded down (as LVM's -l)."""
    return max(extent, total * percent // 100 // extent * extent)


def human(nbytes):
    """1073741824 -> '1 GiB', 1610612736 -> '1.5 GiB' (powers of 1024, as LVM prints)."""
    if nbytes is None:
        return "unknown"
    for unit, power in (("PiB", 5), ("TiB", 4), ("GiB", 3), ("MiB", 2), ("KiB", 1)):
        if nbytes >= 1024 ** power:
            text = f"{nbytes / 1024 ** power:.2f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
    return f"{nbytes} B"


def argv_bytes(nbytes):
    """Sizes on LVM command lines: exact bytes, never a rounded unit."""
    return f"{nbytes}b"
