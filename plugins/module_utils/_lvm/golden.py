# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Golden images: an image file on the host, imported once into a thin LV per version.

The LV is ``<name>-<version>``.  It is created with an ``ob_importing`` tag that is
swapped for ``ob_sha256=...`` only after qemu-img finished, so an interrupted import is
recognised (and redone) on the next run instead of being cloned half-written.  A version
is never overwritten: a different checksum for an existing version is an error, and a
new version is a new LV next to the old ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands, sizes, tags
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.base import LvmResource
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    Plan,
    ReconcileError,
)
from ansible_collections.openblade.kvm.plugins.module_utils._runner import CommandError
from ansible_collections.openblade.kvm.plugins.module_utils._validate import (
    ValidationError,
    lvm_name,
    one_of,
)

FORMATS = ("raw", "qcow2")
QCOW2_MAGIC = b"QFI\xfb"
_VERSION = re.compile(r"[A-Za-z0-9+_.]([A-Za-z0-9+_.-]*)")
_SHA256 = re.compile(r"(?:sha256:)?([0-9a-fA-F]{64})")


def lv_name(name, version):
    return f"{name}-{version}"


def file_sha256(path, chunk=1024 * 1024):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def is_golden(lv):
    return tags.MARKER in lv.tags and tags.GOLDEN in lv.tags


def is_complete_golden(lv):
    return is_golden(lv) and tags.IMPORTING not in lv.tags


class GoldenImage(LvmResource):
    """The ``golden_image`` module."""

    def __init__(self, runner, params, **kwargs):
        super().__init__(runner, params["vg"], **kwargs)
        self.pool = lvm_name(params["pool"], "pool")
        self.name = lvm_name(params["name"], "name")
        self.version = self._version(params["version"])
        self.lv_name = lvm_name(lv_name(self.name, self.version), "version")
        self.src = params["src"]
        if not isinstance(self.src, str) or not os.path.isabs(self.src):
            raise ValidationError(f"src: {self.src!r} is not an absolute path on the host",
                                  option="src")
        self.format = one_of(params["format"], "format", FORMATS)
        self.checksum = self._checksum(params.get("checksum"))
        self.size = sizes.parse(params.get("size"), "size")
        self.read_only = params.get("read_only", True)
        for key, value, option in ((tags.IMAGE, self.name, "name"),
                                   (tags.VERSION, self.version, "version")):
            tags.check_value(value, option, key)

    @staticmethod
    def _version(value):
        text = str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
        if text is None or not _VERSION.fullmatch(text):
            raise ValidationError(f"version: {value!r} is not a valid image version (allowed: "
                                  "A-Z a-z 0-9 + _ . and '-' not at the start, e.g. '2024.06.01' or "
                                  "'12.5-1')", option="version")
        return text

    @staticmethod
    def _checksum(value):
        if value is None:
            return None
        match = _SHA256.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise ValidationError(f"checksum: {value!r} is not a SHA-256 checksum (allowed: 64 hex "
                                  "digits, optionally prefixed with 'sha256:')", option="checksum")
        return match.group(1).lower()

    @property
    def full(self):
        return f"{self.vg}/{self.lv_name}"

    # --- observe ---------------------------------------------------------------------------

    def observe(self):
        self.observe_vg()
        self.lv = self.lvs.get(self.lv_name)
        self.source = None
        done = self.lv is not None and tags.IMPORTING not in self.lv.tags
        if not done or self.checksum is None:
            self.source = self._inspect_source()
        if self.lv is None:
            return None
        return {"lv": self.lv_name, "sha256": tags.value(self.lv.tags, tags.SHA256),
                "complete": tags.IMPORTING not in self.lv.tags, "read_only": self.lv.read_only}

    def _inspect_source(self):
        """Virtual size and checksum of ``src``; refuses what we must not import."""
        if not os.path.isfile(self.src):
            raise ReconcileError(f"src: {self.src} does not exist on the host (or is not a file)",
                                 option="src")
        argv = commands.QEMU_IMG_INFO.argv(format=self.format, positional=[self.src])
        info = self.lvm.runner.json(argv)
        if info.get("backing-filename"):
            raise ReconcileError(f"src: {self.src} has a backing file ({info['backing-filename']}); "
                                 "golden images must be self-contained (flatten it with "
                                 "qemu-img convert first)", option="src")
        if self.format == "raw":
            with open(self.src, "rb") as handle:
                if handle.read(4) == QCOW2_MAGIC:
                    raise ReconcileError(f"format: {self.src} starts with a qcow2 header but format is "
                                         "raw; importing it raw would copy the qcow2 container "
                                         "(set format: qcow2)", option="format")
        try:
            virtual = int(info["virtual-size"])
        except (KeyError, TypeError, ValueError):
            raise CommandError(argv, 0, json.dumps(info), problem="printed no virtual-size") from None
        sha256 = file_sha256(self.src)
        if self.checksum is not None and sha256 != self.checksum:
            raise ReconcileError(f"checksum: {self.src} has sha256 {sha256}, not the expected "
                                 f"{self.checksum}; refusing to import it", option="checksum")
        return {"virtual_size": virtual, "sha256": sha256}

    def wanted_sha256(self):
        return self.checksum or self.source["sha256"]

    def desired(self, current):
        return {"lv": self.lv_name, "sha256": self.wanted_sha256(), "complete": True,
                "read_only": self.read_only}

    # --- plan ------------------------------------------------------------------------------

    def plan(self, current, desired):
        plan = Plan()
        if self.vg_info is not None:
            self.thin_pool(self.pool)
        lv = self.lv
        if lv is not None and tags.IMPORTING not in lv.tags:
            self._plan_existing(plan, lv)
            return plan
        if lv is not None:
            if not is_golden(lv):
                raise ReconcileError(f"{self.full} exists and is not a golden image imported by "
                                     "openblade.kvm; refusing to touch it")
            self.users(lv).refuse("remove the interrupted import", force=False)
            plan.add(f"remove {self.full}, an import that did not finish",
                     self.run(commands.LVREMOVE.argv(positional=[self.full])))
        self._plan_import(plan)
        return plan

    def _plan_existing(self, plan, lv):
        if not is_golden(lv):
            raise ReconcileError(f"{self.full} exists and is not a golden image imported by "
                                 "openblade.kvm; refusing to touch it")
        have, want = tags.value(lv.tags, tags.SHA256), self.wanted_sha256()
        if have != want:
            raise ReconcileError(
                f"{self.full} (image {self.name} version {self.version}) was imported from sha256 "
                f"{have}, but the source is {want}; an imported version is never replaced: give the "
                "new image a new version (the old one stays until you remove it)",
                imported_sha256=have, source_sha256=want)
        if lv.read_only != self.read_only:
            mode = "r" if self.read_only else "rw"
            plan.add(f"make golden image {self.full} {'read-only' if self.read_only else 'writable'}",
                     self.run(commands.LVCHANGE.argv(permission=mode, positional=[self.full])))

    def _plan_import(self, plan):
        virtual = self.source["virtual_size"]
        wanted = virtual
        if self.size is not None:
            if self.size.nbytes < virtual:
                raise ReconcileError(
                    f"size: {sizes.human(self.size.nbytes)} is smaller than the image's virtual "
                    f"size of {sizes.human(virtual)}", option="size")
            wanted = self.size.nbytes
        wanted = sizes.round_up(wanted, self.extent)
        missing = self.missing_pool(self.pool)
        create = commands.LVCREATE.argv(
            type="thin", virtualsize=sizes.argv_bytes(wanted), thinpool=self.pool,
            addtag=[tags.MARKER, tags.GOLDEN, tags.IMPORTING, tags.kv(tags.IMAGE, self.name),
                    tags.kv(tags.VERSION, self.version)],
            name=self.lv_name, positional=[self.vg])
        self.add_or_fail_missing(plan, f"create thin volume {self.full} of {sizes.human(wanted)} in "
                                 f"thin pool {self.pool} for image {self.name} version {self.version}",
                                 create, missing)
        plan.add(f"import {self.src} ({self.format}) into {self.full}, writing only allocated blocks",
                 lambda: self.lvm.run(commands.qemu_img_convert(
                     self.src, self.format, f"/dev/{self.vg}/{self.lv_name}")))
        finish = commands.LVCHANGE.argv(
            deltag=tags.IMPORTING, addtag=tags.kv(tags.SHA256, self.wanted_sha256()),
            permission="r" if self.read_only else None, positional=[self.full])
        plan.add(f"mark {self.full} as golden image {self.name} version {self.version} "
                 f"(sha256 {self.wanted_sha256()[:12]}...{', read-only' if self.read_only else ''})",
                 self.run(finish))

    # --- result ----------------------------------------------------------------------------

    def result(self, current, desired, plan, applied):
        if applied and plan:
            self.refresh()
            self.lv = self.lvs.get(self.lv_name)
        lv = self.lv
        image = {"name": self.name, "version": self.version, "lv": self.lv_name, "vg": self.vg,
                 "path": f"/dev/{self.vg}/{self.lv_name}", "sha256": self.wanted_sha256(),
                 "size": lv.size if lv else None, "read_only": lv.read_only if lv else None,
                 "versions": self._versions()}
        return {"image": image}

    def _versions(self):
        """Every complete imported version of this image in the VG, oldest name first."""
        return sorted(tags.value(lv.tags, tags.VERSION) for lv in self.lvs.values()
                      if is_complete_golden(lv) and tags.value(lv.tags, tags.IMAGE) == self.name)
