# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image files from where users get them: an http(s) URL and the checksum it must have.

A download goes to ``<cache>/<file>.part`` first.  An interrupted one keeps its bytes
there, and the next run asks only for the rest (an HTTP ``Range`` request).  The part
becomes ``<file>`` only once its checksum matches, so nothing ever uses a partial or
wrong file; a mismatching one is deleted.  The cache file name carries the checksum,
so a part is only ever resumed into the same content, whichever mirror serves it.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlsplit

from ansible.module_utils.urls import open_url

from ansible_collections.openblade.kvm.plugins.module_utils._files import replace_atomic
from ansible_collections.openblade.kvm.plugins.module_utils._lock import resource_lock
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError
from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError

SCHEMES = ("http", "https", "file")
ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}  # hex digits of each digest
DEFAULT_CACHE_DIR = "/var/lib/openblade/images"
CHUNK = 1024 * 1024
LOCK_KIND = "download"
_HEX = re.compile(r"[0-9a-fA-F]+")
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class Checksum:
    """An expected digest: ``algorithm`` (a hashlib name) and lowercase hex ``digest``."""

    def __init__(self, algorithm, digest):
        self.algorithm = algorithm
        self.digest = digest

    def __str__(self):
        return f"{self.algorithm}:{self.digest}"

    def short(self):
        return f"{self.algorithm} {self.digest[:12]}..."


def parse_checksum(value, option="checksum"):
    """``ALGORITHM:HEX`` (sha256, sha384, sha512) or bare HEX, whose length says which."""
    if value is None:
        return None
    rule = ("allowed: sha256:HEX (64 hex digits), sha384:HEX (96) or sha512:HEX (128); "
            "bare hex digits of one of those lengths")
    text = value.strip() if isinstance(value, str) else ""
    algorithm, _sep, digest = text.rpartition(":")
    algorithm = algorithm.lower()
    if not algorithm:
        algorithm = next((name for name, length in ALGORITHMS.items() if length == len(digest)), "")
    if algorithm not in ALGORITHMS or len(digest) != ALGORITHMS[algorithm] or not _HEX.fullmatch(digest):
        raise ValidationError(f"{option}: {value!r} is not a supported checksum ({rule})", option=option)
    return Checksum(algorithm, digest.lower())


def parse_url(value, option="url"):
    """(scheme, target): the URL for http(s), the absolute local path for file://."""
    parts = urlsplit(value) if isinstance(value, str) else None
    scheme = parts.scheme.lower() if parts else ""
    if scheme not in SCHEMES:
        raise ValidationError(f"{option}: {value!r} is not a supported URL (allowed schemes: "
                              f"{', '.join(SCHEMES)})", option=option)
    if scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not os.path.isabs(path):
            raise ValidationError(f"{option}: {value!r} is not a local file URL (allowed: "
                                  "file:///ABSOLUTE/PATH)", option=option)
        return scheme, path
    if not parts.hostname:
        raise ValidationError(f"{option}: {value!r} names no host", option=option)
    return scheme, value


def file_digests(path, algorithms, chunk=CHUNK):
    """Hex digests of ``path`` for each hashlib name in ``algorithms``, in one read."""
    hashes = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            for digest in hashes.values():
                digest.update(block)
    return {name: digest.hexdigest() for name, digest in hashes.items()}


def redact(url):
    """The URL without a password, for messages and results."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:********@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


class Download:
    """One file fetched from ``url`` into ``cache_dir`` and checked against ``checksum``."""

    def __init__(self, url, checksum, cache_dir, stem, suffix="", timeout=10, validate_certs=True,
                 use_proxy=True, lock_dir=None):
        if not isinstance(cache_dir, str) or not os.path.isabs(cache_dir):
            raise ValidationError(f"cache_dir: {cache_dir!r} is not an absolute path on the host",
                                  option="cache_dir")
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
            raise ValidationError(f"timeout: {timeout!r} is not a positive number of seconds",
                                  option="timeout")
        self.url = url
        self.checksum = checksum
        self.cache_dir = cache_dir
        self.path = os.path.join(cache_dir, f"{stem}-{checksum.algorithm}-{checksum.digest[:16]}{suffix}")
        self.part = self.path + ".part"
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.use_proxy = use_proxy
        self.lock_dir = lock_dir
        self.received = 0
        self.resumed_from = None

    def cached(self):
        """A complete, verified copy is in the cache (only verified parts are renamed)."""
        return os.path.isfile(self.path)

    def partial(self):
        try:
            return os.path.getsize(self.part)
        except OSError:
            return 0

    def describe(self):
        offset = self.partial()
        resume = f", resuming after the {offset} bytes an interrupted download left" if offset else ""
        return f"download {redact(self.url)} to {self.path}{resume}, and verify its {self.checksum.algorithm}"

    def facts(self):
        return {"url": redact(self.url), "path": self.path, "received": self.received,
                "resumed_from": self.resumed_from}

    def fetch(self):
        """Download (or finish downloading) and verify; the verified digests by algorithm."""
        kwargs = {"lock_dir": self.lock_dir} if self.lock_dir else {}
        # Two imports of the same file on one host (two volume groups) share one download.
        with resource_lock(LOCK_KIND, self.path, timeout=600, **kwargs):
            if self.cached():
                return None
            try:
                os.makedirs(self.cache_dir, mode=0o750, exist_ok=True)
            except OSError as exc:
                raise ReconcileError(f"cache_dir: cannot create {self.cache_dir}: {exc}",
                                     option="cache_dir") from None
            resumed = self.partial() > 0
            self._transfer()
            try:
                digests = self.verify()
            except ReconcileError:
                if not resumed:
                    raise
                # The part may predate a change on the server: one clean try from the start.
                self._transfer()
                digests = self.verify()
            # The verified part stays for the next run if the rename fails.
            replace_atomic(self.part, self.path, what="downloaded image", durable=True)
            return digests

    def verify(self):
        """Check the part against the checksum; a wrong one is deleted, never kept."""
        wanted = self.checksum
        digests = file_digests(self.part, {wanted.algorithm, "sha256"})
        if digests[wanted.algorithm] != wanted.digest:
            size = self.partial()
            os.unlink(self.part)
            raise ReconcileError(
                f"checksum: {redact(self.url)} has {wanted.algorithm} {digests[wanted.algorithm]} "
                f"({size} bytes), not the expected {wanted.digest}; the download was deleted and "
                "nothing was imported", option="checksum", url=redact(self.url))
        return digests

    def _transfer(self):
        offset = self.partial()
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            # decompress=False: a Content-Encoding must not change the bytes we hash and count.
            response = open_url(self.url, headers=headers, timeout=self.timeout,
                                validate_certs=self.validate_certs, use_proxy=self.use_proxy,
                                http_agent="openblade.kvm golden_image", decompress=False)
        except HTTPError as exc:
            if exc.code == 416 and offset:
                return  # nothing after our bytes: the part is whole, the checksum decides
            raise self._failed(f"answered HTTP {exc.code} {exc.reason}", offset) from None
        except (URLError, OSError, http.client.HTTPException) as exc:  # a timeout is an OSError
            raise self._failed(f"cannot be reached: {getattr(exc, 'reason', exc)}", offset) from None
        with response:
            offset = self._start(response, offset)
            self.resumed_from = offset or None
            expected = response.headers.get("Content-Length")
            with open(self.part, "ab" if offset else "wb") as out:
                try:
                    for block in iter(lambda: response.read(CHUNK), b""):
                        out.write(block)
                        self.received += len(block)
                except (OSError, http.client.HTTPException) as exc:
                    raise self._failed(f"broke off: {exc}", offset + self.received) from None
                out.flush()
                os.fsync(out.fileno())
        if expected is not None and expected.isdigit() and self.received < int(expected):
            raise self._failed(f"closed the connection after {self.received} of {expected} bytes",
                               offset + self.received)

    def _start(self, response, offset):
        """Where this response's body goes in the part: ``offset``, or 0 for a whole file."""
        status = response.getcode()
        if not offset or status == 200:
            return 0  # a server that ignores Range sends everything: start over
        found = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
        if status != 206 or found is None or int(found.group(1)) != offset:
            raise self._failed(f"answered a request for the bytes from {offset} on with HTTP {status} "
                               f"and Content-Range {response.headers.get('Content-Range')!r}", offset)
        return offset

    def _failed(self, problem, kept):
        keep = (f"; the {kept} bytes received are kept in {self.part} and the next run resumes"
                if kept else "")
        return ReconcileError(f"url: {redact(self.url)} {problem}{keep}", option="url",
                              url=redact(self.url), part=self.part, received=self.received)
