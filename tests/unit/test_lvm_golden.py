# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""golden_image: import once per version, no-op on the same checksum, never replace,
redo interrupted imports, refuse unsafe sources; check mode == real run."""

from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.golden import GoldenImage
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
    reconcile,
)
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner
from ansible_collections.openblade.kvm.tests.unit.image_server import ImageServer
from ansible_collections.openblade.kvm.tests.unit.lvm_host import (
    MIB,
    StaticDomains,
    check_then_apply,
    host,
    lv,
    pool,
    pv,
    vg,
)

CONTENT = b"QFI\xfb" + b"\0" * 60 + b"golden"
SHA = hashlib.sha256(CONTENT).hexdigest()
OTHER_SHA = "ab" * 32


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "debian12.qcow2"
    path.write_bytes(CONTENT)
    return str(path)


def info(src, virtual=60 * MIB, fmt="qcow2", **extra):
    argv = ("qemu-img", "info", "--output=json", "-f", fmt, src)
    return {argv: (0, {"virtual-size": virtual, "format": fmt, "filename": src, **extra}, "")}


def golden(name="debian12-1", sha=SHA, read_only=True, importing=False, version="1", size=60 * MIB):
    found = ["openblade.kvm", "ob_golden", "ob_image=debian12", f"ob_version={version}"]
    found.append("ob_importing" if importing else f"ob_sha256={sha}")
    return lv(name, size=size, tags=found, read_only=read_only)


def state(*volumes, extra=None):
    return host(pvs=[pv("/dev/vdb")], vgs=[vg()], lvs=[pool(), *volumes], extra=extra)


def builder(tmp_path, src, **params):
    args = dict(vg="obt_vg", pool="thinpool", name="debian12", version="1", src=src,
                format="qcow2", checksum=None, size=None, read_only=True)
    args.update(params)
    return lambda runner: GoldenImage(runner, args, lock_dir=str(tmp_path / "lock"),
                                      domains=StaticDomains())


def import_mutations(src, size=60 * MIB, read_only=True, sha=SHA):
    finish = ["lvchange", "--deltag", "ob_importing", "--addtag", f"ob_sha256={sha}"]
    if read_only:
        finish += ["--permission", "r"]
    return [
        ["lvcreate", "--yes", "--type", "thin", "--virtualsize", f"{size}b", "--thinpool",
         "thinpool", "--addtag", "openblade.kvm", "--addtag", "ob_golden", "--addtag",
         "ob_importing", "--addtag", "ob_image=debian12", "--addtag", "ob_version=1", "--name",
         "debian12-1", "obt_vg"],
        ["setpriv", "--pdeathsig", "KILL", "--", "qemu-img", "convert", "-f", "qcow2", "-O", "raw",
         "-n", "--target-is-zero", "-W", src, "/dev/obt_vg/debian12-1"],
        finish + ["obt_vg/debian12-1"],
    ]


def test_first_import(tmp_path, src):
    _check, real = check_then_apply(builder(tmp_path, src, checksum=f"sha256:{SHA.upper()}"),
                                    state(extra=info(src)), import_mutations(src))
    assert real["actions"] == [
        "create thin volume obt_vg/debian12-1 of 60 MiB in thin pool thinpool for image debian12 "
        "version 1",
        f"import {src} (qcow2) into obt_vg/debian12-1, writing only allocated blocks",
        f"mark obt_vg/debian12-1 as golden image debian12 version 1 (sha256 {SHA[:12]}..., read-only)",
    ]
    assert real["diff"]["after"] == {"lv": "debian12-1", "sha256": SHA, "complete": True,
                                     "read_only": True}
    assert real["image"]["path"] == "/dev/obt_vg/debian12-1"


def test_size_is_rounded_to_extents_and_may_be_larger(tmp_path, src):
    mutations = import_mutations(src, size=68 * MIB, read_only=False)
    _check, real = check_then_apply(builder(tmp_path, src, size="65m", read_only=False),
                                    state(extra=info(src, virtual=61 * MIB)), mutations)
    assert "of 68 MiB" in real["actions"][0]


def test_same_checksum_is_a_no_op_without_reading_the_source(tmp_path):
    # With checksum given, src is not even looked at: it may be gone (and qemu-img is not run).
    table = state(golden(), golden("debian12-0", version="0"))
    _check, real = check_then_apply(builder(tmp_path, "/gone/debian12.qcow2", checksum=SHA), table, [])
    assert real["changed"] is False
    assert real["image"]["versions"] == ["0", "1"]


def test_without_checksum_the_source_is_hashed(tmp_path, src):
    _check, real = check_then_apply(builder(tmp_path, src), state(golden(), extra=info(src)), [])
    assert real["actions"] == []
    assert real["image"]["sha256"] == SHA


def test_a_version_is_never_replaced(tmp_path, src):
    table = state(golden(sha=OTHER_SHA), extra=info(src))
    for check_mode in (True, False):
        with pytest.raises(ReconcileError, match=f"imported from sha256 {OTHER_SHA}, but the source "
                           f"is {SHA}; an imported version is never replaced"):
            reconcile(builder(tmp_path, src)(FakeRunner(table)), check_mode=check_mode)


def test_interrupted_import_is_removed_and_redone(tmp_path, src):
    mutations = [["lvremove", "--yes", "obt_vg/debian12-1"], *import_mutations(src)]
    _check, real = check_then_apply(builder(tmp_path, src, checksum=SHA),
                                    state(golden(importing=True), extra=info(src)), mutations)
    assert real["actions"][0] == "remove obt_vg/debian12-1, an import that did not finish"


def test_read_only_follows_the_parameter(tmp_path, src):
    _check, real = check_then_apply(builder(tmp_path, src, checksum=SHA), state(golden(read_only=False)),
                                    [["lvchange", "--permission", "r", "obt_vg/debian12-1"]])
    assert real["actions"] == ["make golden image obt_vg/debian12-1 read-only"]
    _check, real = check_then_apply(builder(tmp_path, src, checksum=SHA, read_only=False),
                                    state(golden()),
                                    [["lvchange", "--permission", "rw", "obt_vg/debian12-1"]])
    assert real["actions"] == ["make golden image obt_vg/debian12-1 writable"]


def refused(tmp_path, src, table, message, **params):
    for check_mode in (True, False):
        runner = FakeRunner(table)
        with pytest.raises(ReconcileError) as caught:
            reconcile(builder(tmp_path, src, **params)(runner), check_mode=check_mode)
        assert message in str(caught.value)
        assert all(call[0] in ("vgs", "lvs", "qemu-img") and "convert" not in call
                   for call in runner.calls)


def test_checksum_mismatch_is_refused_before_importing(tmp_path, src):
    refused(tmp_path, src, state(extra=info(src)),
            f"checksum: {src} has sha256 {SHA}, not the expected {OTHER_SHA}; refusing to import it",
            checksum=OTHER_SHA)


def test_image_with_a_backing_file_is_refused(tmp_path, src):
    refused(tmp_path, src, state(extra=info(src, **{"backing-filename": "/etc/shadow"})),
            "has a backing file (/etc/shadow); golden images must be self-contained")


def test_qcow2_file_declared_raw_is_refused(tmp_path, src):
    refused(tmp_path, src, state(extra=info(src, fmt="raw")),
            "starts with a qcow2 header but format is raw", format="raw")


def test_size_below_the_virtual_size_is_refused(tmp_path, src):
    refused(tmp_path, src, state(extra=info(src)),
            "size: 10 MiB is smaller than the image's virtual size of 60 MiB", size="10m")


def test_an_lv_that_is_not_ours_is_not_touched(tmp_path, src):
    refused(tmp_path, src, state(lv("debian12-1"), extra=info(src)),
            "obt_vg/debian12-1 exists and is not a golden image imported by openblade.kvm")


def test_missing_source_is_named(tmp_path):
    refused(tmp_path, "/gone/x.qcow2", state(), "src: /gone/x.qcow2 does not exist on the host")


@pytest.mark.parametrize("params, message", [
    ({"version": "1 final"}, "version: '1 final' is not a valid image version"),
    ({"version": "-1"}, "version: '-1' is not a valid image version"),
    ({"name": "debian/12"}, "name: 'debian/12' is not a valid LVM LV name"),
    ({"checksum": "md5:abc"}, "checksum: 'md5:abc' is not a supported checksum (allowed: sha256:HEX"),
    ({"src": None, "url": "http://127.0.0.1/x.qcow2"},
     "checksum: required with an http url ('http://127.0.0.1/x.qcow2'): a download is verified"),
    ({"src": None, "url": "ftp://127.0.0.1/x.qcow2", "checksum": SHA},
     "url: 'ftp://127.0.0.1/x.qcow2' is not a supported URL (allowed schemes: http, https, file)"),
    ({"url": "file:///x.qcow2"}, "src, url: give exactly one of them"),
    ({"src": None}, "src, url: give exactly one of them"),
    ({"src": None, "url": "https://127.0.0.1/x.qcow2", "checksum": SHA, "cache_dir": "images"},
     "cache_dir: 'images' is not an absolute path on the host"),
    ({"src": "images/x.qcow2"}, "src: 'images/x.qcow2' is not an absolute path on the host"),
    ({"format": "vmdk"}, "format: 'vmdk' is not a valid choice (allowed: 'raw', 'qcow2')"),
    ({"size": "50%VG"}, "size: '50%VG' is not a supported percentage (only absolute sizes"),
    ({"version": "x" * 130}, "version: 'debian12-xxx"),
])
def test_bad_input_fails_before_any_command(tmp_path, src, params, message):
    runner = FakeRunner({})
    params = {"src": src, **params}
    with pytest.raises(ReconcileError) as caught:
        builder(tmp_path, **params)(runner)
    assert message in str(caught.value)
    assert runner.calls == []


# --- url: downloaded from a real HTTP server on 127.0.0.1 -------------------------------

SHA512 = hashlib.sha512(CONTENT).hexdigest()
CACHED = f"debian12-1-sha512-{SHA512[:16]}.qcow2"


@pytest.fixture
def server():
    with ImageServer(CONTENT).running() as running:
        yield running


def from_url(tmp_path, server, **params):
    return builder(tmp_path, None, url=server.url, checksum=f"sha512:{SHA512}",
                   cache_dir=str(tmp_path / "cache"), **params)


def url_import_actions(server, cached):
    return [
        f"download {server.url} to {cached}, and verify its sha512",
        "create thin volume obt_vg/debian12-1 of the image's virtual size in thin pool thinpool for "
        "image debian12 version 1",
        f"import {cached} (qcow2) into obt_vg/debian12-1, writing only allocated blocks",
        f"mark obt_vg/debian12-1 as golden image debian12 version 1 (sha512 {SHA512[:12]}..., read-only)",
        f"remove the downloaded copy {cached}",
    ]


def test_url_is_downloaded_verified_and_imported_check_mode_downloads_nothing(tmp_path, server):
    cached = str(tmp_path / "cache" / CACHED)
    mutations = import_mutations(cached)
    mutations[-1][4:5] = [f"ob_sha256={SHA}", "--addtag", f"ob_sha512={SHA512}"]
    check, real = check_then_apply(from_url(tmp_path, server), state(extra=info(cached)), mutations)
    assert check["actions"] == url_import_actions(server, cached)
    assert check["image"]["sha256"] is None and check["download"]["received"] == 0
    assert server.requests == [("/image", None)]  # the real run's, only
    assert real["download"] == {"url": server.url, "path": cached, "received": len(CONTENT),
                                "resumed_from": None}
    assert real["image"]["checksum"] == f"sha512:{SHA512}"
    # The plan (and so the diff) is made before the download: the sha256 is not known yet.
    assert check["diff"] == real["diff"]
    assert real["diff"]["after"] == {"lv": "debian12-1", "sha512": SHA512, "complete": True,
                                     "read_only": True}
    assert real["image"]["sha256"] == SHA
    assert os.listdir(tmp_path / "cache") == []  # imported: the copy is not kept


def test_an_imported_version_is_not_downloaded_again(tmp_path, server):
    imported = golden()
    imported["lv_tags"] += f",ob_sha512={SHA512}"
    _check, real = check_then_apply(from_url(tmp_path, server), state(imported), [])
    assert (real["changed"], real["actions"], real["download"]["received"]) == (False, [], 0)
    assert server.requests == [] and not os.path.exists(tmp_path / "cache")


def test_a_version_imported_with_sha256_only_is_compared_after_a_download(tmp_path, server):
    cached = str(tmp_path / "cache" / CACHED)
    record = ["lvchange", "--addtag", f"ob_sha512={SHA512}", "obt_vg/debian12-1"]
    _check, real = check_then_apply(from_url(tmp_path, server), state(golden(), extra=info(cached)),
                                    [record])
    assert real["actions"][1:] == [
        f"record the sha512 {SHA512[:12]}... of the download on obt_vg/debian12-1, once its sha256 "
        "matches the imported one",
        f"remove the downloaded copy {cached}"]


def test_a_wrong_download_is_refused_deleted_and_not_imported(tmp_path, server):
    runner = FakeRunner(state())
    wrong = "cd" * 64
    with pytest.raises(ReconcileError) as caught:
        reconcile(builder(tmp_path, None, url=server.url, checksum=f"sha512:{wrong}",
                          cache_dir=str(tmp_path / "cache"))(runner))
    assert str(caught.value).startswith(f"checksum: {server.url} has sha512 {SHA512} ")
    assert caught.value.details["actions_done"] == []
    assert caught.value.details["failed_action"].startswith(f"download {server.url}")
    assert os.listdir(tmp_path / "cache") == []
    assert {call[0] for call in runner.calls} == {"vgs", "lvs"}  # no lvcreate, no qemu-img


def test_an_interrupted_download_is_resumed_by_the_next_run(tmp_path, server):
    cached = str(tmp_path / "cache" / CACHED)
    server.cut_after = 50
    with pytest.raises(ReconcileError, match="the 50 bytes received are kept in .* the next run resumes"):
        reconcile(from_url(tmp_path, server)(FakeRunner(state())))
    mutations = import_mutations(cached)
    mutations[-1][4:5] = [f"ob_sha256={SHA}", "--addtag", f"ob_sha512={SHA512}"]
    check, _real = check_then_apply(from_url(tmp_path, server), state(extra=info(cached)), mutations)
    assert check["actions"][0] == (f"download {server.url} to {cached}, resuming after the 50 bytes "
                                   "an interrupted download left, and verify its sha512")
    assert server.requests == [("/image", None), ("/image", "bytes=50-")]


def test_a_downloaded_image_is_inspected_before_its_lv_exists(tmp_path, server):
    cached = str(tmp_path / "cache" / CACHED)
    runner = FakeRunner(state(extra=info(cached, **{"backing-filename": "/etc/shadow"})))
    with pytest.raises(ReconcileError, match="has a backing file"):
        reconcile(from_url(tmp_path, server)(runner))
    assert "lvcreate" not in {call[0] for call in runner.calls}


def test_a_file_url_is_the_same_as_src(tmp_path, src):
    _check, real = check_then_apply(builder(tmp_path, None, url=f"file://{src}", checksum=SHA),
                                    state(extra=info(src)), import_mutations(src))
    assert real["actions"][1] == f"import {src} (qcow2) into obt_vg/debian12-1, writing only allocated blocks"
    assert "download" not in real


@pytest.mark.parametrize("extra, params, message", [
    ({}, {"checksum": OTHER_SHA}, "not the expected"),
    ({"backing-filename": "/etc/shadow"}, {}, "has a backing file"),
])
def test_observe_reads_the_source_and_desired_refuses_it(tmp_path, src, extra, params, message):
    # The refusal is a decision on what observe read, not part of the reading.
    golden_image = builder(tmp_path, src, **params)(FakeRunner(state(extra=info(src, **extra))))
    current = golden_image.observe()
    assert current is None and golden_image.source_read["info"]["filename"] == src
    with pytest.raises(ReconcileError, match=message):
        golden_image.desired(current)
