"""guest_backup and guest_restore between two real blades: blade1 runs the guest, blade2
keeps the backups, over a backup partition (VLAN 191 on trunk0, 10.81.0.x).

The guest is the tiny kernel + busybox initramfs guest (see blade_pair.py), running and
writing its count into the first 16 bytes of its 256 MiB thin disk; the test writes the
known data into the same disk from the blade.  Addresses exist only on the lab's isolated
trunk segment.  It removes everything it made.
"""

from __future__ import annotations

import json
import os
import sys
import threading

import pytest

# --import-mode=importlib puts no test directory on sys.path: the shared lab helper lives here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blade_pair import Pair, blocks_digest, lv_digest, sha256  # noqa: E402

VG = "obb_vg"
VLAN = 191
GUEST = "obb-g1"
UUID = "7d6a3f5e-1c2b-5d4e-9f00-0b1adeb00001"
MIB = 2**20
CHUNK = 64 * 1024  # the lab pool's chunk size


@pytest.fixture(scope="module")
def pair(blades):
    if len(blades) < 2:
        pytest.skip("needs two blades")
    pair = Pair(blades[0], blades[1], VG, {VLAN: "10.81.0"}, "obb")
    pair.setup()
    pair.make_guest(GUEST, UUID, size="256M", data_mib=64, data_at_mib=16, start=True, cluster="obb")
    yield pair
    pair.cleanup()
    blades[1].run(f"rm -rf /var/lib/openblade/backups/{GUEST}", check=False)
    blades[0].run("rm -f /var/lib/openblade/ipam/obb.json", check=False)


def args(pair, label, **extra):
    return dict({"name": GUEST, "label": label, "target": pair.address(pair.dest, VLAN)}, **extra)


def restore_args(pair, label, **extra):
    return dict({"name": GUEST, "label": label, "source": pair.address(pair.dest, VLAN)}, **extra)


def snapshot_digest(blade, name):
    return lv_digest(blade, f"{VG}/{name}")


def lv_tags(blade):
    """{lv name: [tags]} of the VG."""
    out = blade.run(f"lvs --reportformat json -o lv_name,lv_tags {VG}").stdout
    return {
        row["lv_name"]: row["lv_tags"].split(",") if row["lv_tags"] else []
        for row in json.loads(out)["report"][0]["lv"]
    }


def held_metadata_snapshot(blade):
    return blade.run(f"dmsetup status {VG}-pool-tpool").stdout.split()[6]


def test_full_then_incremental_backup_and_restores_match_the_snapshots(pair):
    src, dest = pair.src, pair.dest
    src.run(
        'mkdir -p /var/lib/openblade/ipam && echo \'{"partitions": {"backup": {"obb-g1": "10.81.0.50"}, '
        '"office": {"other": "10.1.0.5"}}}\' >/var/lib/openblade/ipam/obb.json'
    )
    predicted, full = src.apply("guest_backup", args(pair, "b1"))
    assert 64 * MIB <= predicted["disks"]["vda"]["estimated_bytes"] <= 64 * MIB + CHUNK
    first = full["disks"]["vda"]
    assert (first["mode"], first["base"]) == ("the allocated ranges (no base)", None)
    # The 64 MiB the test wrote, plus the chunk the guest writes its count into (once it runs);
    # read here in whole MiB blocks (16-79, and 0); there, every block of the new point.
    assert 64 * MIB <= first["bytes_sent"] <= 64 * MIB + CHUNK
    assert first["bytes_read"] == (64 * MIB if first["bytes_sent"] == 64 * MIB else 65 * MIB)
    assert (first["bytes_read_target"], first["verified"]) == (256 * MIB, "every block")
    assert (
        full["consistency"] == "crash-consistent" and "no connected QEMU guest agent" in full["warnings"][0]
    )
    assert snapshot_digest(src, f"{GUEST}-bk-b1") == first["sha256"]
    assert "ob_backup_base" in lv_tags(src)[f"{GUEST}-bk-b1"]
    assert "ob_backup_point" in lv_tags(dest)[f"bk-{GUEST}-vda-b1"]
    assert full["definition"]["ledger"] == {"backup": "10.81.0.50"}
    kept = f"/var/lib/openblade/backups/{GUEST}/b1"
    assert sorted(dest.run(f"ls {kept}").stdout.split()) == [
        "domain.xml",
        "ledger.json",
        "manifest.json",
        f"{GUEST}-cidata.iso",
        "vda.blocks",
    ]
    assert sha256(dest, f"{kept}/vda.blocks") == first["sha256"]
    assert UUID in dest.run(f"cat {kept}/domain.xml").stdout
    assert sha256(dest, f"{kept}/{GUEST}-cidata.iso") == sha256(
        src, f"/var/lib/libvirt/boot/{GUEST}-cidata.iso"
    )
    again = src.module("guest_backup", args(pair, "b1"))
    assert (again["changed"], again["actions"], again["backups"]) == (False, [], ["b1"])

    # 1 % more: 3 MiB of the 256 MiB disk; and 1 MiB of the first backup's data discarded.
    src.run(f"dd if=/dev/urandom of=/dev/{VG}/{GUEST} bs=1M seek=200 count=3 oflag=direct status=none")
    src.run(f"blkdiscard -f -o {16 * MIB} -l {MIB} /dev/{VG}/{GUEST}")
    planned = src.module("guest_backup", args(pair, "b2"), check=True)
    assert 3 * MIB <= planned["disks"]["vda"]["estimated_bytes"] <= 3 * MIB + CHUNK
    incremental = src.module("guest_backup", args(pair, "b2"))
    assert incremental["actions"] == planned["actions"]
    second = incremental["disks"]["vda"]
    assert second["base"] == "b1" and second["mode"] == "the ranges changed since backup b1"
    # Sent: the 3 MiB and the guest's count chunk, not the discarded MiB (a discard frame).
    # Read, here and there: only the MiB blocks those touch (200-202, 16, and 0), not the disk.
    assert 3 * MIB <= second["bytes_sent"] <= 3 * MIB + CHUNK and second["bytes_discarded"] == MIB
    blocks = 4 if second["bytes_sent"] == 3 * MIB else 5
    assert second["bytes_read"] == second["bytes_read_target"] == blocks * MIB
    assert second["verified"] == "changed blocks"
    assert incremental["bytes_read"] <= 0.03 * 256 * MIB and incremental["bytes_sent"] <= 0.03 * 256 * MIB
    tags = lv_tags(src)
    assert f"{GUEST}-bk-b1" not in tags and "ob_backup_base" in tags[f"{GUEST}-bk-b2"]
    assert snapshot_digest(src, f"{GUEST}-bk-b2") == second["sha256"] != first["sha256"]
    assert incremental["backups"] == ["b1", "b2"]

    # Both restored onto new volumes, each equal to its snapshot.
    for label, digest in (("b1", first["sha256"]), ("b2", second["sha256"])):
        _predicted, restored = src.apply("guest_restore", restore_args(pair, label))
        assert restored["disks"]["vda"]["sha256"] == digest
        assert blocks_digest(src, f"/dev/{VG}/{GUEST}-restored-{label}") == digest
    again = src.module("guest_restore", restore_args(pair, "b1"))
    assert (again["changed"], again["actions"]) == (False, [])
    refused = src.module("guest_restore", restore_args(pair, "b1", overwrite_disks=True))
    assert refused.get("failed") and "is running; its disks are overwritten only" in refused["msg"], refused


def test_quiesce_required_without_an_agent_fails_before_any_snapshot(pair):
    src, dest = pair.src, pair.dest
    for check in (True, False):
        result = src.module("guest_backup", args(pair, "q1", quiesce="required"), check=check)
        assert result.get("failed") and result["msg"].startswith(
            f"quiesce: required, but guest {GUEST} has no connected QEMU guest agent"
        ), result
    assert not [name for name in lv_tags(src) if "q1" in name]
    assert not [name for name in lv_tags(dest) if "q1" in name]


KILL_SENDER = f"""for i in $(seq 900); do
  p=$(ps -eo ppid=,args= | awk '/[p]ython3 -c/ && /{GUEST}-bk-k1/ {{print $1; exit}}')
  if [ -n "$p" ]; then kill -9 $p; echo $p; exit 0; fi; sleep 0.2; done; exit 1"""


def test_a_killed_backup_leaves_nothing_good_and_the_next_run_completes(pair):
    src, dest = pair.src, pair.dest
    src.run(f"dd if=/dev/urandom of=/dev/{VG}/{GUEST} bs=1M seek=96 count=160 oflag=direct status=none")
    outcome = []

    def backup():
        try:
            outcome.append(src.module("guest_backup", args(pair, "k1")))
        except AssertionError as exc:  # the task's process died: ansible may report no result
            outcome.append({"failed": True, "msg": str(exc)})

    runner = threading.Thread(target=backup)
    runner.start()
    killed = src.run(KILL_SENDER, check=False)  # the module's process, while it sends
    runner.join()
    assert killed.returncode == 0, "the backup ended before its data transfer was seen"
    assert outcome[0].get("failed"), outcome
    assert held_metadata_snapshot(src) == "-"
    tags = lv_tags(src)
    assert "ob_backup_pending" in tags[f"{GUEST}-bk-k1"] and "ob_backup_base" in tags[f"{GUEST}-bk-b2"]
    assert "ob_backup_point" not in lv_tags(dest).get(f"bk-{GUEST}-vda-k1", [])
    assert dest.run(f"test -e /var/lib/openblade/backups/{GUEST}/k1", check=False).returncode != 0

    # A dead run's metadata snapshot, as if it had been killed while it held one.
    src.run(f"dmsetup message {VG}-pool-tpool 0 reserve_metadata_snap")
    assert held_metadata_snapshot(src) != "-"
    result = src.module("guest_backup", args(pair, "k1", retention={"daily": 1}))
    assert not result.get("failed"), result
    disk = result["disks"]["vda"]
    assert disk["base"] == "b2" and disk["bytes_sent"] >= 160 * MIB
    assert held_metadata_snapshot(src) == "-"
    assert snapshot_digest(src, f"{GUEST}-bk-k1") == disk["sha256"]
    tags = lv_tags(src)
    assert "ob_backup_base" in tags[f"{GUEST}-bk-k1"] and f"{GUEST}-bk-b2" not in tags
    # Retention (one a day): b1 and b2 of today go, k1 stays.
    assert (result["pruned"], result["kept"], result["backups"]) == (["b1", "b2"], ["k1"], ["k1"])
    there = lv_tags(dest)
    assert "ob_backup_point" in there[f"bk-{GUEST}-vda-k1"]
    assert not [name for name in there if name.endswith(("-b1", "-b2"))]
    assert dest.run(f"ls /var/lib/openblade/backups/{GUEST}").stdout.split() == ["k1"]
