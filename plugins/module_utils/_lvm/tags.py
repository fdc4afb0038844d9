# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""LV tags: the ownership marker and the key=value facts we record on volumes.

Everything this collection creates carries ``MARKER``; pruning only ever considers
volumes that carry it.  lvm(8) allows tags of up to 1024 characters from
``A-Z a-z 0-9 _ + . - / = ! : & #``, not starting with '-'.
"""

from __future__ import annotations

import re

from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError

MARKER = "openblade.kvm"

# Role tags (no value).
GOLDEN = "ob_golden"
IMPORTING = "ob_importing"  # removed when an import completed; left behind by a crash
CLONE = "ob_clone"
SNAPSHOT = "ob_snapshot"

# Key tags (key=value).
IMAGE = "ob_image"
VERSION = "ob_version"
SHA256 = "ob_sha256"
OWNER = "ob_owner"
ORIGIN = "ob_origin"
SNAPSHOT_OF = "ob_snapshot_of"
CREATED = "ob_created"
MAX_OVERCOMMIT = "ob_max_overcommit"

TAG_MAX = 1024
_TAG = re.compile(r"[A-Za-z0-9_+./=!:&#-]+")


def check_value(value, option, key):
    """``value`` as the value of tag ``key``; fails naming ``option`` and the rule."""
    text = str(value)
    tag = f"{key}={text}"
    bad = sorted({char for char in text if not _TAG.fullmatch(char)})
    if not text or bad:
        found = "; found " + " ".join(repr(char) for char in bad) if bad else ""
        raise ValidationError(
            f"{option}: {value!r} cannot be stored in an LVM tag (allowed characters: "
            f"A-Z a-z 0-9 _ + . - / = ! : & #{found})", option=option)
    if len(tag) > TAG_MAX:
        raise ValidationError(
            f"{option}: {value!r} is too long for an LVM tag (the tag {key}=... may have at "
            f"most {TAG_MAX} characters, this one has {len(tag)})", option=option)
    return text


def kv(key, value):
    return f"{key}={value}"


def value(tags, key):
    """The value of ``key=value`` in ``tags``, or None."""
    prefix = key + "="
    for tag in tags:
        if tag.startswith(prefix):
            return tag[len(prefix):]
    return None
