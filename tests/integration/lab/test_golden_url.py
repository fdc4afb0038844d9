"""Golden images from a URL on a real blade: the blade serves a qcow2 image it made to
itself over HTTP on 127.0.0.1 (nothing leaves the lab), and golden_image downloads it.

The first download is cut off by the server after 1 MiB; the next run resumes it with a
Range request (seen in the server's log), verifies it and imports it; a re-run downloads
nothing; a wrong checksum is refused and leaves nothing behind.  The storage role takes
the same url + checksum.

Runs after test_storage.py on the lab's last blade, on the same data disk, and leaves
/dev/vdb blank as that suite does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path

import harness
import pytest

# The same data disk, guard and clean-up as the storage suite (pytest imports test files by
# path, so make the sibling importable by name).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_storage import CLEANUP, GUARD, POOL, VG  # noqa: E402

WORK = "/var/tmp/obt-url"
CACHE = "/var/lib/openblade/images"
PORT = 18931
URL = f"http://127.0.0.1:{PORT}/image"
CUT = 1024 * 1024
SERVER = Path(__file__).resolve().parents[2] / "unit" / "image_server.py"

# 16 MiB raw with 2 MiB of random data at 4 MiB (the rest holes), and its qcow2 twin: the
# file served (about 2 MiB, so the 1 MiB cut is midway).
MAKE_IMAGE = (f"rm -rf {WORK} && mkdir -p {WORK} && cd {WORK} && truncate -s 16M url.raw && "
              "head -c 2M /dev/urandom | dd of=url.raw bs=1M seek=4 conv=notrunc status=none && "
              "qemu-img convert -f raw -O qcow2 url.raw url.qcow2 && "
              "sha256sum url.raw | cut -d' ' -f1 && sha512sum url.qcow2 | cut -d' ' -f1 && "
              "stat -c %s url.qcow2")
FORGET = f"rm -f {CACHE}/url-*; rm -rf {WORK}; "


@pytest.fixture(scope="module")
def blade(blades):
    return blades[-1]


@pytest.fixture(scope="module")
def lab(blade):
    raw_sha256, sha512, size = blade.run(GUARD + CLEANUP + FORGET + MAKE_IMAGE).stdout.split()
    script = base64.b64encode(SERVER.read_bytes()).decode()
    blade.run(f"echo {script} | base64 -d > {WORK}/serve.py")
    _check, pool = blade.apply("lvm_thinpool", POOL)
    assert pool["changed"]
    yield {"raw_sha256": raw_sha256, "sha512": sha512, "size": int(size),
           "args": dict(vg=VG, pool="thinpool", name="url", version="1", url=URL, format="qcow2",
                        checksum=f"sha512:{sha512}")}
    on_blade(blade, STOP)
    left = json.loads(blade.run(GUARD + CLEANUP + FORGET + "wipefs --no-act --json /dev/vdb").stdout
                      or '{"signatures": []}')
    assert left["signatures"] == [], f"/dev/vdb is not blank after the suite: {left}"


# The server's PID goes to a file on the blade, so that a start whose ssh session broke
# (rc 255 on a loaded host, after the command may have run) still gets killed by its PID.
STOP = (f"if [ -f {WORK}/server.pid ]; then p=$(cat {WORK}/server.pid); kill $p 2>/dev/null; "
        f"while kill -0 $p 2>/dev/null; do sleep 0.1; done; rm -f {WORK}/server.pid; fi; ")


def on_blade(blade, command):
    for _attempt in range(3):  # rc 255: ssh itself failed; every command here may run twice
        proc = blade.run(command, check=False)
        if proc.returncode != 255:
            return proc
    return proc


@pytest.fixture
def server(blade):
    """The image server on the blade, on loopback; started per test, killed by its PID."""

    def start(cut_first=None):
        cut = f" --cut-first {cut_first}" if cut_first else ""
        proc = on_blade(blade, STOP + f"cd {WORK} && rm -f requests.log && (setsid python3 serve.py "
                        f"url.qcow2 --port {PORT} --log requests.log{cut} >server.out 2>&1 & echo $! > "
                        f"server.pid); for i in $(seq 50); do (echo > /dev/tcp/127.0.0.1/{PORT}) 2>/dev/null "
                        "&& exit 0; sleep 0.2; done; exit 1")
        assert proc.returncode == 0, f"the image server did not start: {proc.stdout} {proc.stderr}"

    yield start
    on_blade(blade, STOP)


def requests(blade):
    out = blade.run(f"cat {WORK}/requests.log 2>/dev/null", check=False).stdout
    return [json.loads(line) for line in out.splitlines()]


def cached(lab):
    return f"{CACHE}/url-1-sha512-{lab['sha512'][:16]}.qcow2"


def import_actions(lab, resume=""):
    path = cached(lab)
    return [f"download {URL} to {path}{resume}, and verify its sha512",
            "create thin volume obt_vg/url-1 of the image's virtual size in thin pool thinpool for "
            "image url version 1",
            f"import {path} (qcow2) into obt_vg/url-1, writing only allocated blocks",
            f"mark obt_vg/url-1 as golden image url version 1 (sha512 {lab['sha512'][:12]}..., read-only)",
            f"remove the downloaded copy {path}"]


def test_an_interrupted_download_is_kept_and_nothing_imported(blade, lab, server):
    server(cut_first=CUT)
    predicted, result = blade.apply("golden_image", lab["args"], expect_failure=True)
    assert predicted["actions"] == import_actions(lab)
    assert predicted["download"]["received"] == 0
    assert result["failed_action"] == import_actions(lab)[0] and result["actions_done"] == []
    assert result["msg"] == (f"url: {URL} closed the connection after {CUT} of {lab['size']} bytes; the "
                             f"{CUT} bytes received are kept in {cached(lab)}.part and the next run resumes")
    out = blade.run(f"stat -c %s {cached(lab)}.part; lvs --noheadings -o lv_name {VG}").stdout.split()
    assert out == [str(CUT), "thinpool"]  # the part is kept, no LV was created
    assert requests(blade) == [{"path": "/image", "range": None}]


def test_the_next_run_resumes_verifies_and_imports(blade, lab, server):
    server()
    predicted, result = blade.apply("golden_image", lab["args"], diff=True)
    assert result["actions"] == import_actions(
        lab, f", resuming after the {CUT} bytes an interrupted download left")
    assert predicted["download"]["received"] == 0
    # One request, for the rest only: the first 1 MiB was not fetched again.
    assert requests(blade) == [{"path": "/image", "range": f"bytes={CUT}-"}]
    assert (result["download"]["resumed_from"], result["download"]["received"]) == (CUT, lab["size"] - CUT)
    out = blade.run(f"sha256sum /dev/{VG}/url-1; lvs --noheadings -o lv_attr,lv_tags {VG}/url-1; "
                    f"ls -A {CACHE}").stdout.split()
    assert out[0] == lab["raw_sha256"]  # byte for byte the image the blade made
    attr, lv_tags = out[2], set(out[3].split(","))
    assert attr[1] == "r"
    assert {"ob_golden", "ob_image=url", "ob_version=1", f"ob_sha512={lab['sha512']}"} <= lv_tags
    assert not [name for name in out[4:] if name.startswith("url-")]  # the copy was removed
    assert result["image"]["sha256"] == next(t for t in lv_tags if t.startswith("ob_sha256="))[10:]


def test_a_rerun_downloads_nothing(blade, lab, server):
    server()
    predicted, result = blade.apply("golden_image", lab["args"])
    assert (result["changed"], result["actions"]) == (False, [])
    assert predicted["download"]["received"] == result["download"]["received"] == 0
    assert requests(blade) == []


def test_a_wrong_checksum_is_refused_and_nothing_is_kept(blade, lab, server):
    server()
    wrong = hashlib.sha512(b"not the image").hexdigest()
    args = dict(lab["args"], version="2", checksum=f"sha512:{wrong}")
    _predicted, result = blade.apply("golden_image", args, expect_failure=True)
    assert result["msg"] == (f"checksum: {URL} has sha512 {lab['sha512']} ({lab['size']} bytes), not the "
                             f"expected {wrong}; the download was deleted and nothing was imported")
    assert result["actions_done"] == []
    assert requests(blade) == [{"path": "/image", "range": None}]
    out = blade.run(f"lvs --noheadings -o lv_name {VG}; ls -A {CACHE}").stdout.split()
    assert "url-2" not in out and not [name for name in out if name.startswith("url-2")]


def imports(results):
    """The item of each run of the role's golden_image loop."""
    items = [result["results"] for result in results if result["_action"] == "openblade.kvm.golden_image"]
    assert all(len(loop) == 1 for loop in items), items
    return [loop[0] for loop in items]


def test_the_storage_role_takes_a_url(blade, lab, server, tmp_path):
    server()
    image = dict(name="url", version="3", url=URL, checksum=f"sha512:{lab['sha512']}", format="qcow2",
                 vg=VG, pool="thinpool")
    # Only this image (not the lab inventory's pools and clones), twice: the second run is a no-op.
    role = {"role": "openblade.kvm.storage", "storage_golden_images": [image], "storage_pools": [],
            "storage_clones": []}
    play = {"hosts": blade.name, "gather_facts": False, "roles": [role]}
    playbook = tmp_path / "role.yml"
    playbook.write_text(json.dumps([play, play]))
    first, again = imports(harness.ansible_playbook(str(playbook), blade.name))
    assert first["changed"] and first["image"]["lv"] == "url-3"
    assert first["download"]["received"] == lab["size"]
    assert (again["changed"], again["download"]["received"]) == (False, 0)
    assert len(requests(blade)) == 1
    assert blade.run(f"sha256sum /dev/{VG}/url-3").stdout.split()[0] == lab["raw_sha256"]
