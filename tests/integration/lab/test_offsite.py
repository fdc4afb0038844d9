"""Off-site copies of backups between three real blades: blade1 runs the guest, blade2 keeps its
backup points (over a backup partition, VLAN 195, 10.85.0.x) and copies them into an encrypted
restic repository on blade3, the off-site host, over a partition of their own (VLAN 196,
10.86.0.x).  blade3 has only sshd and a directory: no restic runs there.

A canary password goes through every run at -vvvv --diff and must show nowhere: not in
Ansible's output, not in any process's argv or environment on blade2 while restic runs, not
in blade2's logs, not in the repository's files (they are encrypted), and no password file
is left behind.  It removes everything it made.
"""

# ruff: noqa: E501 - the actions' texts read best one line each

from __future__ import annotations

import base64
import json
import os
import secrets
import sys

import pytest

# --import-mode=importlib puts no test directory on sys.path: the shared lab helper lives here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402 - tests/integration, put on sys.path by conftest.py
from blade_pair import Pair, blocks_digest, link, lv_digest, unlink  # noqa: E402

VG = "obo_vg"
BACKUP, OFFSITE = (195, "10.85.0"), (196, "10.86.0")
GUEST = "obo-g1"
UUID = "7d6a3f5e-1c2b-5d4e-9f00-0b1adeb00014"
REPO = "/srv/obo-restic"
MIB = 2**20
CANARY = "obtcanary" + secrets.token_hex(8)  # also the repository's password
# Samples every process's argv and environment on the blade until told to stop; the pattern
# is read from a file, so the sampler's own argv holds no canary.  Detached from the SSH
# session's stdin too, or the session (and the test) waits for it.
SAMPLER = """cat >/tmp/obo-sampler <<'EOS'
while [ ! -e /tmp/obo-stop ]; do
  hits=$(cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null | grep -a -c -f /tmp/obo-pattern)
  restic=$(cat /proc/[0-9]*/environ 2>/dev/null | grep -a -c RESTIC_PASSWORD_FILE)
  echo "$hits $restic"
done >/tmp/obo-seen
EOS
nohup sh /tmp/obo-sampler </dev/null >/dev/null 2>&1 &"""


@pytest.fixture(scope="module")
def trio(blades):
    if len(blades) < 3:
        pytest.skip("needs three blades")
    src, dest, offsite = blades[:3]
    pair = Pair(src, dest, VG, {BACKUP[0]: BACKUP[1]}, "obo")
    pair.setup()
    host = link(dest, offsite, *OFFSITE)
    offsite.run(f"rm -rf {REPO} && mkdir -p {REPO}")
    pair.make_guest(GUEST, UUID, size="64M", data_mib=8, data_at_mib=4, cluster="obo")
    yield pair, offsite, f"sftp:root@{host}:{REPO}"
    pair.cleanup()
    unlink(dest, offsite, OFFSITE[0])
    offsite.run(f"rm -rf {REPO}", check=False)
    dest.run(f"rm -rf /var/lib/openblade/backups/{GUEST} /tmp/obo-*", check=False)


def verbose(blade, module, args, check=False):
    """The module's result and everything Ansible printed at -vvvv --diff."""
    argv = [
        os.path.join(os.path.dirname(sys.executable), "ansible"),
        blade.name,
        "-i",
        harness.LAB_INVENTORY,
        "-m",
        f"openblade.kvm.{module}",
        "-a",
        json.dumps(args),
        "-vvvv",
        "--diff",
    ] + (["--check"] if check else [])
    proc, lines = harness._run_ansible(argv, 1800)
    assert len(lines) == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(lines[0]), proc.stdout + proc.stderr


def test_points_copied_off_site_checked_and_restored_and_the_password_shows_nowhere(trio):
    pair, offsite, repository = trio
    src, dest = pair.src, pair.dest
    canary = CANARY
    target = {"target": pair.address(dest, BACKUP[0])}
    first = src.module("guest_backup", dict(target, name=GUEST, label="b1"))
    assert not first.get("failed"), first
    # 1.5 %: 1 MiB of the 64 MiB disk.
    src.run(f"dd if=/dev/urandom of=/dev/{VG}/{GUEST} bs=1M seek=40 count=1 oflag=direct status=none")
    second = src.module("guest_backup", dict(target, name=GUEST, label="b2"))
    assert not second.get("failed"), second

    common = {"guest": GUEST, "repository": repository, "password": canary}
    dest.run(
        f"rm -f /tmp/obo-stop /tmp/obo-seen; echo {base64.b64encode(canary.encode()).decode()} | base64 -d "
        f">/tmp/obo-pattern\n{SAMPLER}"
    )
    outputs = []
    predicted, out = verbose(dest, "offsite_copy", common, check=True)
    outputs.append(out)
    copied, out = verbose(dest, "offsite_copy", common)
    outputs.append(out)
    dest.run("touch /tmp/obo-stop; sleep 2")
    assert not predicted.get("failed") and not copied.get("failed"), (predicted.get("msg"), copied.get("msg"))
    assert (
        (predicted["changed"], predicted["actions"])
        == (copied["changed"], copied["actions"])
        == (
            True,
            [
                f"initialize the encrypted restic repository {repository}",
                f"copy backup point {VG}/bk-{GUEST}-vda-b1 ({GUEST} vda at b1) to {repository} and compare the sha256 of "
                "what was read with the point's",
                f"copy the definition of {GUEST} point b1 (/var/lib/openblade/backups/{GUEST}/b1) to {repository}",
                f"copy backup point {VG}/bk-{GUEST}-vda-b2 ({GUEST} vda at b2) to {repository} and compare the sha256 of "
                "what was read with the point's",
                f"copy the definition of {GUEST} point b2 (/var/lib/openblade/backups/{GUEST}/b2) to {repository}",
            ],
        )
    )
    assert copied["copies"] == ["b1/definition", "b1/vda", "b2/definition", "b2/vda"]
    pushed = copied["pushed"]
    # Each point is read whole; the second adds about the MiB that changed, deduplicated.
    assert pushed["b1/vda"]["bytes_read"] == pushed["b2/vda"]["bytes_read"] == 64 * MIB
    assert pushed["b1/vda"]["bytes_added"] >= 8 * MIB and pushed["b2/vda"]["bytes_added"] < 3 * MIB, pushed

    for check in (True, False):
        again, out = verbose(dest, "offsite_copy", common, check=check)
        outputs.append(out)
        assert (again["changed"], again["actions"], again["copies"]) == (False, [], copied["copies"]), again

    checked, out = verbose(dest, "offsite_check", dict(common, read_data_subset="100%"))
    outputs.append(out)
    assert (checked.get("checked"), checked.get("changed")) == (True, False), checked
    assert "no errors were found" in checked["output"]

    restore = dict(common, label="b1", vg=VG, pool="pool")
    planned, out = verbose(dest, "offsite_restore", restore, check=True)
    outputs.append(out)
    restored, out = verbose(dest, "offsite_restore", restore)
    outputs.append(out)
    assert not restored.get("failed"), restored.get("msg")
    assert planned["actions"] == restored["actions"] and len(restored["actions"]) == 1
    volume = f"{GUEST}-vda-offsite-b1"
    digest = lv_digest(dest, f"{VG}/bk-{GUEST}-vda-b1")
    assert restored["restored"]["vda"]["sha256"] == digest == first["disks"]["vda"]["sha256"]
    assert blocks_digest(dest, f"/dev/{VG}/{volume}") == digest
    again, out = verbose(dest, "offsite_restore", restore)
    outputs.append(out)
    assert (again["changed"], again["actions"]) == (False, [])

    bad, out = verbose(dest, "offsite_copy", dict(common, repository="sftp:root@10.86.0.3:relative"))
    outputs.append(out)
    assert bad.get("failed") and bad["msg"].startswith(
        "repository: 'sftp:root@10.86.0.3:relative' is not an SFTP"
    )

    hits = {f"ansible output {i}": out.count(canary) for i, out in enumerate(outputs)}
    samples = [line.split() for line in dest.run("cat /tmp/obo-seen").stdout.splitlines()]
    # (canary hits, processes with RESTIC_PASSWORD_FILE) per sample: some caught restic running.
    assert sum(int(restic) for _hits, restic in samples) > 0, f"no sample caught restic: {len(samples)} samples"
    hits["argv and environment samples"] = sum(int(found) for found, _restic in samples)
    hits["blade2 journal"] = int(
        dest.run(f"journalctl -q --since=-1h | grep -c {canary[:9]}''{canary[9:]} || true").stdout
    )
    hits["blade2 /var/log"] = int(
        dest.run(
            f"grep -rac {canary[:9]}''{canary[9:]} /var/log | awk -F: '{{s+=$NF}} END {{print s+0}}'"
        ).stdout
    )
    hits["repository files"] = int(
        offsite.run(
            f"grep -rac {canary[:9]}''{canary[9:]} {REPO} | awk -F: '{{s+=$NF}} END {{print s+0}}'"
        ).stdout
    )
    assert hits == dict.fromkeys(hits, 0), f"canary shown: {hits}"
    assert dest.run("ls -d /run/openblade-restic-* 2>/dev/null", check=False).stdout == ""
    assert int(offsite.run(f"find {REPO}/snapshots -type f | wc -l").stdout) == 4


def test_the_retention_forgets_old_points_off_site_and_what_stays_restores(trio):
    """After the test above (b1 and b2 copied): a third point, and a retention that keeps only
    the newest day's newest point, so b1 and b2 go, and b3, whose chunks deduplicate against
    theirs, must still restore whole after the prune."""
    pair, offsite, repository = trio
    src, dest = pair.src, pair.dest
    src.run(f"dd if=/dev/urandom of=/dev/{VG}/{GUEST} bs=1M seek=50 count=1 oflag=direct status=none")
    third = src.module("guest_backup", {"target": pair.address(dest, BACKUP[0]), "name": GUEST, "label": "b3"})
    assert not third.get("failed"), third
    common = {"guest": GUEST, "repository": repository, "password": CANARY, "retention": {"daily": 1}}
    planned = dest.module("offsite_copy", common, check=True)
    pruned = dest.module("offsite_copy", common)
    assert not planned.get("failed") and not pruned.get("failed"), (planned.get("msg"), pruned.get("msg"))
    assert planned["actions"] == pruned["actions"] == [
        f"copy backup point {VG}/bk-{GUEST}-vda-b3 ({GUEST} vda at b3) to {repository} and compare the sha256 of "
        "what was read with the point's",
        f"copy the definition of {GUEST} point b3 (/var/lib/openblade/backups/{GUEST}/b3) to {repository}",
        f"forget the 4 snapshot(s) of {GUEST} point(s) b1, b2 in {repository} (beyond the retention) and prune the data "
        "no other snapshot uses",
    ]
    assert (pruned["kept"], pruned["pruned"], pruned["copies"]) == (["b3"], ["b1", "b2"], ["b3/definition", "b3/vda"])
    assert int(offsite.run(f"find {REPO}/snapshots -type f | wc -l").stdout) == 2
    again = dest.module("offsite_copy", common)
    assert (again["changed"], again["actions"]) == (False, []), again
    # The backup blade still has b1 and b2: the repository's retention is its own.
    assert third["backups"] == ["b1", "b2", "b3"]

    checked = dest.module("offsite_check", {k: common[k] for k in ("guest", "repository", "password")} | {"read_data_subset": "100%"})
    assert (checked.get("checked"), checked.get("changed")) == (True, False), checked
    restore = {k: common[k] for k in ("guest", "repository", "password")} | {"vg": VG, "pool": "pool"}
    restored = dest.module("offsite_restore", restore)  # the newest point: b3
    assert not restored.get("failed"), restored.get("msg")
    digest = lv_digest(dest, f"{VG}/bk-{GUEST}-vda-b3")
    assert restored["label"] == "b3" and restored["restored"]["vda"]["sha256"] == digest == third["disks"]["vda"]["sha256"]
    assert blocks_digest(dest, f"/dev/{VG}/{GUEST}-vda-offsite-b3") == digest
