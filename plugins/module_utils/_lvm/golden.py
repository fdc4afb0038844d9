# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Golden images: an image file on the host, imported once into a thin LV per version.

The LV is ``<name>-<version>``.  It is created with an ``ob_importing`` tag that is
swapped for ``ob_sha256=...`` only after qemu-img finished, so an interrupted import is
recognised (and redone) on the next run instead of being cloned half-written.  A version
is never overwritten: a different checksum for an existing version is an error, and a
new version is a new LV next to the old ones.

The image comes from a file on the host (``src``, or a ``file://`` URL) or from an
http(s) URL with a checksum; ``_download`` fetches that into a cache first, and only
when the version is not imported yet (the LV's checksum tags say so without the file).
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.openblade.kvm.plugins.module_utils._download import (
    DEFAULT_CACHE_DIR,
    Checksum,
    Download,
    file_digests,
    parse_checksum,
    parse_url,
)
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


def lv_name(name, version):
    return f"{name}-{version}"


def digest_tag(algorithm):
    """The LV tag key that records the image's digest of ``algorithm`` (ob_sha256 always)."""
    return tags.SHA256 if algorithm == "sha256" else f"ob_{algorithm}"


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
        self.format = one_of(params["format"], "format", FORMATS)
        self.checksum = parse_checksum(params.get("checksum"))
        self.keep_download = params.get("keep_download", False)
        self.download = None
        self.fetched = None
        self.src = self._source_path(params)
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

    def _source_path(self, params):
        """The image file on the host: ``src``, a file:// URL's path, or the download's cache file."""
        src, url = params.get("src"), params.get("url")
        if (src is None) == (url is None):
            raise ValidationError("src, url: give exactly one of them (the image file on the host, "
                                  "or the URL to download it from)", option="url")
        if url is None:
            if not isinstance(src, str) or not os.path.isabs(src):
                raise ValidationError(f"src: {src!r} is not an absolute path on the host", option="src")
            return src
        scheme, target = parse_url(url)
        if scheme == "file":
            return target
        if self.checksum is None:
            raise ValidationError(f"checksum: required with an {scheme} url ({url!r}): a download is "
                                  "verified before it is imported (give sha256:HEX or sha512:HEX)",
                                  option="checksum")
        self.download = Download(url, self.checksum, params.get("cache_dir") or DEFAULT_CACHE_DIR,
                                 self.lv_name, suffix=f".{self.format}",
                                 timeout=params.get("timeout", 10),
                                 validate_certs=params.get("validate_certs", True),
                                 use_proxy=params.get("use_proxy", True), lock_dir=self.lock_dir)
        return self.download.path

    @property
    def full(self):
        return f"{self.vg}/{self.lv_name}"

    # --- observe ---------------------------------------------------------------------------

    def observe(self):
        self.observe_vg()
        self.lv = self.lvs.get(self.lv_name)
        if self.lv is not None and tags.IMPORTING in self.lv.tags:
            self.observe_users([self.lv_name])  # an interrupted import, removed before the next one
        self.source = None
        done = self.lv is not None and tags.IMPORTING not in self.lv.tags
        # A download that is not cached yet is inspected once it is (see _plan_download).
        self.inspects = ((not done or self.recorded() is None)
                         and (self.download is None or self.download.cached()))
        self.source_read = self._read_source() if self.inspects else None
        if self.lv is None:
            return None
        return self._state(tags.value(self.lv.tags, tags.SHA256), tags.IMPORTING not in self.lv.tags,
                           self.lv.read_only, self.recorded())

    def _state(self, sha256, complete, read_only, digest):
        state = {"lv": self.lv_name, "sha256": sha256, "complete": complete, "read_only": read_only}
        if self.checksum is not None and self.checksum.algorithm != "sha256":
            state[self.checksum.algorithm] = digest
        if sha256 is None:
            del state["sha256"]  # not known before the download
        return state

    def recorded(self):
        """The existing LV's digest in the checksum's algorithm (None: not recorded, or no checksum)."""
        if self.lv is None or self.checksum is None:
            return None
        return tags.value(self.lv.tags, digest_tag(self.checksum.algorithm))

    def identity(self):
        """The checksum that names this image: the one given, else the source's sha256."""
        return self.checksum or Checksum("sha256", self.source["sha256"])

    def _inspect_source(self, digests=None):
        """Virtual size and checksums of ``src``; refuses what we must not import.

        ``digests`` are the ones a download just verified, so the file is not read twice.
        """
        return self._checked_source(self._read_source(digests))

    def _read_source(self, digests=None):
        """What ``src`` is (None: not a file): qemu-img's report, its first bytes, its digests;
        the digests only of a file that the checks would not refuse anyway."""
        if not os.path.isfile(self.src):
            return None
        argv = commands.QEMU_IMG_INFO.argv(format=self.format, positional=[self.src])
        info = self.lvm.runner.json(argv)
        head = None
        if self.format == "raw":
            with open(self.src, "rb") as handle:
                head = handle.read(4)
        if digests is None and not info.get("backing-filename") and head != QCOW2_MAGIC:
            algorithm = self.checksum.algorithm if self.checksum else "sha256"
            digests = file_digests(self.src, {"sha256", algorithm})
        return {"argv": argv, "info": info, "head": head, "digests": digests}

    def _checked_source(self, read):
        if read is None:
            raise ReconcileError(f"src: {self.src} does not exist on the host (or is not a file)",
                                 option="src")
        info = read["info"]
        if info.get("backing-filename"):
            raise ReconcileError(f"src: {self.src} has a backing file ({info['backing-filename']}); "
                                 "golden images must be self-contained (flatten it with "
                                 "qemu-img convert first)", option="src")
        if read["head"] == QCOW2_MAGIC:
            raise ReconcileError(f"format: {self.src} starts with a qcow2 header but format is "
                                 "raw; importing it raw would copy the qcow2 container "
                                 "(set format: qcow2)", option="format")
        try:
            virtual = int(info["virtual-size"])
        except (KeyError, TypeError, ValueError):
            raise CommandError(read["argv"], 0, json.dumps(info),
                               problem="printed no virtual-size") from None
        algorithm = self.checksum.algorithm if self.checksum else "sha256"
        digests = read["digests"]
        if self.checksum is not None and digests[algorithm] != self.checksum.digest:
            raise ReconcileError(f"checksum: {self.src} has {algorithm} {digests[algorithm]}, not the "
                                 f"expected {self.checksum.digest}; refusing to import it",
                                 option="checksum")
        return {"virtual_size": virtual, "sha256": digests["sha256"], "digests": digests}

    def wanted_sha256(self):
        if self.checksum is not None and self.checksum.algorithm == "sha256":
            return self.checksum.digest
        return self.source["sha256"] if self.source else None

    def desired(self, current):
        if self.inspects:  # refuses a source that must not be imported, from what observe read
            self.source = self._checked_source(self.source_read)
        return self._state(self.wanted_sha256(), True, self.read_only,
                           self.checksum.digest if self.checksum else None)

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
        if self.recorded() is not None:
            self._same_image(self.checksum.algorithm, self.recorded(), self.checksum.digest)
        elif self.source is None:
            # Imported before with sha256 only, and the sha512 (say) asked for is not cached:
            # only the download can tell whether it is the same image.
            self._plan_download(plan)
            plan.add(f"record the {self.checksum.short()} of the download on {self.full}, once its "
                     "sha256 matches the imported one", self._record_later)
            self._plan_cleanup(plan)
        else:
            self._same_image("sha256", tags.value(lv.tags, tags.SHA256), self.source["sha256"])
            if self.checksum is not None:
                plan.add(f"record the {self.checksum.short()} of the image on {self.full}",
                         self.run(self._addtag_argv(self.checksum)))
        if lv.read_only != self.read_only:
            mode = "r" if self.read_only else "rw"
            plan.add(f"make golden image {self.full} {'read-only' if self.read_only else 'writable'}",
                     self.run(commands.LVCHANGE.argv(permission=mode, positional=[self.full])))

    def _same_image(self, algorithm, have, want):
        if have != want:
            raise ReconcileError(
                f"{self.full} (image {self.name} version {self.version}) was imported from {algorithm} "
                f"{have}, but the source is {want}; an imported version is never replaced: give the "
                "new image a new version (the old one stays until you remove it)",
                **{f"imported_{algorithm}": have, f"source_{algorithm}": want})

    def _addtag_argv(self, checksum):
        return commands.LVCHANGE.argv(addtag=tags.kv(digest_tag(checksum.algorithm), checksum.digest),
                                      positional=[self.full])

    def _record_later(self):
        self.source = self._inspect_source(self.fetched)
        self._same_image("sha256", tags.value(self.lv.tags, tags.SHA256), self.source["sha256"])
        self.lvm.run(self._addtag_argv(self.checksum))

    def _plan_download(self, plan):
        plan.add(self.download.describe(), self._fetch)

    def _fetch(self):
        self.fetched = self.download.fetch()

    def _plan_cleanup(self, plan):
        if self.download is not None and not self.keep_download:
            plan.add(f"remove the downloaded copy {self.download.path}", self._remove_download)

    def _remove_download(self):
        try:
            os.unlink(self.download.path)
        except FileNotFoundError:
            pass

    def _create_argv(self, virtual):
        """(bytes, lvcreate argv) for an image of ``virtual`` bytes; refuses a too-small size."""
        wanted = virtual
        if self.size is not None:
            if self.size.nbytes < virtual:
                raise ReconcileError(
                    f"size: {sizes.human(self.size.nbytes)} is smaller than the image's virtual "
                    f"size of {sizes.human(virtual)}", option="size")
            wanted = self.size.nbytes
        wanted = sizes.round_up(wanted, self.extent)
        return wanted, commands.LVCREATE.argv(
            type="thin", virtualsize=sizes.argv_bytes(wanted), thinpool=self.pool,
            addtag=[tags.MARKER, tags.GOLDEN, tags.IMPORTING, tags.kv(tags.IMAGE, self.name),
                    tags.kv(tags.VERSION, self.version)],
            name=self.lv_name, positional=[self.vg])

    def _create_later(self):
        """After the download: inspect the image, then create its LV (sized from it)."""
        self.source = self._inspect_source(self.fetched)
        self.lvm.run(self._create_argv(self.source["virtual_size"])[1])

    def _plan_import(self, plan):
        missing = self.missing_pool(self.pool)
        what = f"in thin pool {self.pool} for image {self.name} version {self.version}"
        if self.source is None:
            self._plan_download(plan)
            size = (f"of {sizes.human(sizes.round_up(self.size.nbytes, self.extent))}" if self.size
                    else "of the image's virtual size")
            description = f"create thin volume {self.full} {size} {what}"
            if missing is None:
                plan.add(description, self._create_later)
            else:
                self.add_or_fail_missing(plan, description, None, missing)
        else:
            wanted, create = self._create_argv(self.source["virtual_size"])
            self.add_or_fail_missing(plan, f"create thin volume {self.full} of {sizes.human(wanted)} {what}",
                                     create, missing)
        plan.add(f"import {self.src} ({self.format}) into {self.full}, writing only allocated blocks",
                 lambda: self.lvm.run(commands.qemu_img_convert(
                     self.src, self.format, f"/dev/{self.vg}/{self.lv_name}")))
        plan.add(f"mark {self.full} as golden image {self.name} version {self.version} "
                 f"({self.identity().short()}{', read-only' if self.read_only else ''})",
                 lambda: self.lvm.run(self._finish_argv()))
        self._plan_cleanup(plan)

    def _finish_argv(self):
        recorded = [tags.kv(tags.SHA256, self.wanted_sha256())]
        if self.checksum is not None and self.checksum.algorithm != "sha256":
            recorded.append(tags.kv(digest_tag(self.checksum.algorithm), self.checksum.digest))
        return commands.LVCHANGE.argv(deltag=tags.IMPORTING, addtag=recorded,
                                      permission="r" if self.read_only else None, positional=[self.full])

    # --- result ----------------------------------------------------------------------------

    def result(self, current, desired, plan, applied):
        if applied and plan:
            self.refresh()
            self.lv = self.lvs.get(self.lv_name)
        lv = self.lv
        sha256 = tags.value(lv.tags, tags.SHA256) if lv else None
        image = {"name": self.name, "version": self.version, "lv": self.lv_name, "vg": self.vg,
                 "path": f"/dev/{self.vg}/{self.lv_name}", "sha256": sha256 or self.wanted_sha256(),
                 "size": lv.size if lv else None, "read_only": lv.read_only if lv else None,
                 "versions": self._versions()}
        if self.checksum is not None:
            image["checksum"] = str(self.checksum)
        facts = {"image": image}
        if self.download is not None:
            facts["download"] = self.download.facts()
        return facts

    def _versions(self):
        """Every complete imported version of this image in the VG, oldest name first."""
        return sorted(tags.value(lv.tags, tags.VERSION) for lv in self.lvs.values()
                      if is_complete_golden(lv) and tags.value(lv.tags, tags.IMAGE) == self.name)
