# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_download against a real HTTP server on 127.0.0.1: a whole download, a resume with a
Range request after a broken connection, servers that ignore Range, a part that is
already whole, a checksum mismatch (deleted, never kept as complete), and input checks."""

from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._download import (
    Download,
    parse_checksum,
    parse_url,
    redact,
)
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError
from ansible_collections.openblade.kvm.tests.unit.image_server import ImageServer

CONTENT = os.urandom(3 * 1024 * 1024 + 123)  # more than one 1 MiB read, not a multiple of it
SHA256 = hashlib.sha256(CONTENT).hexdigest()
SHA512 = hashlib.sha512(CONTENT).hexdigest()


@pytest.fixture
def server():
    with ImageServer(CONTENT).running() as running:
        yield running


def download(tmp_path, url, checksum=f"sha512:{SHA512}"):
    return Download(url, parse_checksum(checksum), str(tmp_path / "cache"), "debian12-1", ".qcow2",
                    lock_dir=str(tmp_path / "lock"))


def test_a_whole_download_is_verified_then_renamed(tmp_path, server):
    job = download(tmp_path, server.url)
    assert job.path == str(tmp_path / "cache" / f"debian12-1-sha512-{SHA512[:16]}.qcow2")
    assert not job.cached() and job.describe() == (
        f"download {server.url} to {job.path}, and verify its sha512")
    assert job.fetch() == {"sha512": SHA512, "sha256": SHA256}
    assert job.cached() and not os.path.exists(job.part)
    with open(job.path, "rb") as handle:
        assert handle.read() == CONTENT
    assert server.requests == [("/image", None)]
    assert job.facts() == {"url": server.url, "path": job.path, "received": len(CONTENT),
                           "resumed_from": None}
    # Cached: a second fetch asks the server nothing.
    assert download(tmp_path, server.url).fetch() is None
    assert len(server.requests) == 1


def test_an_interrupted_download_resumes_with_a_range_request(tmp_path, server):
    server.cut_after = 1024 * 1024 + 7
    job = download(tmp_path, server.url)
    with pytest.raises(ReconcileError) as broken:
        job.fetch()
    assert str(broken.value) == (
        f"url: {server.url} closed the connection after {1024 * 1024 + 7} of {len(CONTENT)} bytes; "
        f"the {1024 * 1024 + 7} bytes received are kept in {job.part} and the next run resumes")
    assert os.path.getsize(job.part) == 1024 * 1024 + 7 and not job.cached()

    again = download(tmp_path, server.url)
    assert again.describe().endswith(
        f"resuming after the {1024 * 1024 + 7} bytes an interrupted download left, and verify its sha512")
    assert again.fetch()["sha512"] == SHA512
    assert server.requests == [("/image", None), ("/image", f"bytes={1024 * 1024 + 7}-")]
    assert (again.received, again.resumed_from) == (len(CONTENT) - 1024 * 1024 - 7, 1024 * 1024 + 7)
    with open(again.path, "rb") as handle:
        assert handle.read() == CONTENT


def test_a_server_that_ignores_range_restarts_the_file(tmp_path):
    with ImageServer(CONTENT, ranges=False).running() as server:
        job = download(tmp_path, server.url)
        os.makedirs(os.path.dirname(job.part))
        with open(job.part, "wb") as handle:
            handle.write(b"x" * 5000)  # would corrupt the file if the 200 answer were appended
        assert job.fetch()["sha512"] == SHA512
        assert server.requests == [("/image", "bytes=5000-")]
        assert job.resumed_from is None


def test_a_part_that_is_already_whole_is_verified(tmp_path, server):
    job = download(tmp_path, server.url)
    os.makedirs(os.path.dirname(job.part))
    with open(job.part, "wb") as handle:
        handle.write(CONTENT)
    assert job.fetch()["sha256"] == SHA256  # the server answered 416: nothing after our bytes
    assert server.requests == [("/image", f"bytes={len(CONTENT)}-")]


def test_a_stale_part_that_fails_the_check_is_fetched_again_from_the_start(tmp_path, server):
    job = download(tmp_path, server.url)
    os.makedirs(os.path.dirname(job.part))
    with open(job.part, "wb") as handle:
        handle.write(b"from an older file on the mirror")
    assert job.fetch()["sha512"] == SHA512
    assert server.requests == [("/image", "bytes=32-"), ("/image", None)]


def test_a_checksum_mismatch_deletes_the_download(tmp_path, server):
    wrong = "ab" * 32
    job = download(tmp_path, server.url, checksum=f"sha256:{wrong}")
    with pytest.raises(ReconcileError) as caught:
        job.fetch()
    assert str(caught.value) == (
        f"checksum: {server.url} has sha256 {SHA256} ({len(CONTENT)} bytes), not the expected {wrong}; "
        "the download was deleted and nothing was imported")
    assert caught.value.details["option"] == "checksum"
    assert not os.path.exists(job.part) and not job.cached()


def test_http_errors_and_unreachable_servers_are_named(tmp_path, server):
    with pytest.raises(ReconcileError, match=r"url: http://127\.0\.0\.1:\d+/missing answered HTTP 404"):
        download(tmp_path, server.url.replace("/image", "/missing")).fetch()
    closed = ImageServer(b"")
    url = closed.url
    closed.httpd.server_close()  # nothing listens on that port any more
    with pytest.raises(ReconcileError, match="cannot be reached: .*refused"):
        download(tmp_path, url).fetch()


def test_passwords_never_reach_messages(tmp_path):
    url = "https://ops:s3cret@mirror.example.org:8443/debian.qcow2"
    assert redact(url) == "https://ops:********@mirror.example.org:8443/debian.qcow2"
    assert "s3cret" not in download(tmp_path, url).describe()


@pytest.mark.parametrize("value, algorithm, digest", [
    (f"sha256:{SHA256.upper()}", "sha256", SHA256),
    (SHA256, "sha256", SHA256),
    (f" SHA512:{SHA512} ", "sha512", SHA512),
    (SHA512, "sha512", SHA512),
    ("sha384:" + "c" * 96, "sha384", "c" * 96),
])
def test_checksums_like_get_url(value, algorithm, digest):
    parsed = parse_checksum(value)
    assert (parsed.algorithm, parsed.digest) == (algorithm, digest)


@pytest.mark.parametrize("value", ["md5:" + "a" * 32, "sha256:" + "a" * 63, "sha512:" + "g" * 128,
                                   "a" * 40, "", 42, "sha256:https://example.org/SHA256SUMS"])
def test_bad_checksums_are_refused(value):
    with pytest.raises(ReconcileError, match=r"checksum: .* is not a supported checksum \(allowed: "
                                             r"sha256:HEX \(64 hex digits\)"):
        parse_checksum(value)


def test_urls():
    assert parse_url("https://mirror.example.org/a.qcow2") == ("https", "https://mirror.example.org/a.qcow2")
    assert parse_url("file:///srv/images/a%20b.qcow2") == ("file", "/srv/images/a b.qcow2")
    assert parse_url("FILE://localhost/srv/a.raw") == ("file", "/srv/a.raw")
    for value, rule in (("ftp://mirror/a.qcow2", "is not a supported URL (allowed schemes: http, https, "
                                                 "file)"),
                        ("/srv/a.qcow2", "is not a supported URL"),
                        ("file://otherhost/srv/a.raw", "is not a local file URL (allowed: file:///ABSOLUTE/PATH)"),
                        ("file:relative.raw", "is not a local file URL"),
                        ("http:///a.qcow2", "names no host")):
        with pytest.raises(ReconcileError) as caught:
            parse_url(value)
        assert str(caught.value).startswith(f"url: {value!r} {rule}")


def test_bad_download_options(tmp_path):
    checksum = parse_checksum(SHA256)
    with pytest.raises(ReconcileError, match="cache_dir: 'cache' is not an absolute path on the host"):
        Download("http://127.0.0.1/a", checksum, "cache", "x")
    with pytest.raises(ReconcileError, match="timeout: 0 is not a positive number of seconds"):
        Download("http://127.0.0.1/a", checksum, str(tmp_path), "x", timeout=0)
