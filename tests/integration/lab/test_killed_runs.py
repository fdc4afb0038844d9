"""Killed and concurrent runs on the lab's last blade (the storage lane of `make lab-tests`).

- A golden image import and an lvm_clones batch are SIGKILLed midway, by the PID of the
  module process (the holder named in its lock file); the next run converges (failed=0,
  then changed=0) with no orphan LV and no half-imported image taken as imported.
- A guests run is SIGKILLed midway (its PID from the lock of the guest it is changing); the
  re-run converges with no orphan domain or seed.
- Two conflicting lvm_clones batches (the same clones, in opposite order, one creating and
  one removing them) and two conflicting partitions runs at once: no deadlock, no
  traceback, the end state is one of the two requests, and its re-run changes nothing.

Runs after test_storage.py on the same blade and cleans up the same way (the data disk is
blank again afterwards).  Partition VLANs live on blade3's trunk0 and carry no address.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

# The storage suite's blade guard, clean-up, images and pool: this suite follows it there.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_storage import CLEANUP, GUARD, MAKE_IMAGES, POOL, VG, WORK, sums  # noqa: E402

LVM_LOCK = f"/run/lock/openblade-kvm/lvm-{VG}.lock"
# 64 MiB of random data: long enough an import (seconds under TCG) to be killed in the middle.
MAKE_BIG = (f"cd {WORK} && head -c 64M /dev/urandom > big.raw && "
            "qemu-img convert -f raw -O qcow2 big.raw big.qcow2 && sha256sum big.raw")
CLONES = [f"k{i}" for i in range(1, 7)]
NETWORK_CLEANUP = r"""
systemctl stop 'ob-kill-*' 2>/dev/null
grep -rlZ '^# Managed by openblade.kvm' /etc/systemd/network | xargs -0r rm -f
find /etc/systemd/network -name '*.network.d' -type d -empty -delete
for link in br-ka br-kb br-kc trunk0.201 trunk0.202 trunk0.203; do ip link del $link 2>/dev/null; done
networkctl reload
rm -rf /var/lib/openblade-kvm/network-backups
"""


@pytest.fixture(scope="module")
def blade(blades):
    return blades[-1]


@pytest.fixture(scope="module")
def pool(blade):
    digests = sums(blade.run(GUARD + CLEANUP + MAKE_IMAGES + " && " + MAKE_BIG).stdout)
    result = blade.module("lvm_thinpool", POOL)
    assert not result.get("failed"), result.get("msg")
    golden = dict(vg=VG, pool="thinpool", name="img", version="1", src=f"{WORK}/golden.qcow2",
                  format="qcow2")
    result = blade.module("golden_image", golden)
    assert not result.get("failed"), result.get("msg")
    yield digests
    left = json.loads(blade.run(GUARD + CLEANUP + "wipefs --no-act --json /dev/vdb").stdout
                      or '{"signatures": []}')
    assert left["signatures"] == [], f"/dev/vdb is not blank after the suite: {left}"


def kill_when(blade, unit, condition, lock):
    """On the blade, outside this SSH session: once ``condition`` holds, SIGKILL the process
    that holds ``lock`` (the module: the lock file names its PID)."""
    blade.run(f"systemd-run --unit {unit} --collect sh -c 'for i in $(seq 1 3000); do "
              f"{condition} && break; sleep 0.1; done; kill -9 $(cat {lock})'")


def lvs(blade):
    out = blade.run(f"lvs --noheadings --units b --nosuffix -o lv_name,lv_size,lv_tags {VG}").stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return {row[0]: (int(row[1]), row[2].split(",") if len(row) > 2 else []) for row in rows}


def converges(blade, module, args):
    """The re-run after a kill succeeds; the one after it changes nothing."""
    first = blade.module(module, args)
    assert not first.get("failed"), first.get("msg")
    again = blade.module(module, args)
    assert not again.get("failed") and not again["changed"], again.get("actions")
    return first


def test_a_killed_import_is_redone_and_never_taken_as_imported(blade, pool):
    big = dict(vg=VG, pool="thinpool", name="big", version="1", src=f"{WORK}/big.qcow2", format="qcow2")
    kill_when(blade, "ob-kill-import", f"[ -e /dev/{VG}/big-1 ] && pgrep -x qemu-img >/dev/null", LVM_LOCK)
    killed = blade.module("golden_image", big)
    assert killed.get("failed") or killed.get("unreachable"), killed
    time.sleep(2)
    half = lvs(blade)["big-1"]
    assert "ob_importing" in half[1], half  # killed midway: the LV says it is not complete
    # qemu-img died with the module: nothing holds the half-written LV open.
    assert blade.run("pgrep -x qemu-img", check=False).returncode == 1
    refused = blade.module("lvm_clones", dict(vg=VG, clones=[{"name": "kx", "origin": "big-1"}]))
    assert refused.get("failed")
    assert "is still being imported (or its import was interrupted)" in refused["msg"]
    first = converges(blade, "golden_image", big)
    assert first["actions"][0] == f"remove {VG}/big-1, an import that did not finish"
    seen = blade.run(f"sha256sum /dev/{VG}/big-1").stdout.split()[0]
    assert seen == pool["big.raw"]
    assert "ob_importing" not in lvs(blade)["big-1"][1]


BATCH = dict(vg=VG, clones=[{"name": f"{name}-root", "origin": "img-1", "owner": name, "size": "64m"}
                            for name in CLONES])


def test_a_killed_clones_batch_converges_without_orphans(blade, pool):
    batch = BATCH
    kill_when(blade, "ob-kill-clones", f"[ -e /dev/{VG}/k2-root ]", LVM_LOCK)
    killed = blade.module("lvm_clones", batch)
    assert killed.get("failed") or killed.get("unreachable"), killed
    made = [name for name in lvs(blade) if name.endswith("-root")]
    assert 2 <= len(made) < len(CLONES), made  # killed in the middle of the batch
    converges(blade, "lvm_clones", batch)
    volumes = lvs(blade)
    assert sorted(name for name in volumes if name.endswith("-root")) == [f"{n}-root" for n in CLONES]
    for name in CLONES:
        size, lv_tags = volumes[f"{name}-root"]
        assert size == 64 * 1024 ** 2, (name, size)
        assert {"ob_clone", f"ob_owner={name}"} <= set(lv_tags), (name, lv_tags)
    assert sorted(volumes) == sorted(["thinpool", "img-1", "big-1"] + [f"{n}-root" for n in CLONES])


SEEDS = "/var/lib/libvirt/boot"
GUESTS = {"cluster": "obk", "prune": True, "guests": [
    {"name": f"obk-{name}", "state": "stopped", "domain_type": "qemu", "machine": "pc", "memory": 64,
     "vcpus": 1, "disks": [{"path": f"/dev/{VG}/{name}-root"}],
     "cloud_init": {"user_data": {"runcmd": ["true"]}}} for name in CLONES[:4]]}
# The guests module holds a guest's lock during each of its steps: the PID is found there.
GUEST_LOCK = "/run/lock/openblade-kvm/domain-obk-k2.lock"


def guests_left(blade):
    out = blade.run(f"virsh -q list --all --name | grep '^obk-'; ls -a {SEEDS} | grep -E 'obk-'",
                    check=False).stdout.split()
    return sorted(out)


def test_a_killed_guests_run_converges_without_orphans(blade, pool):
    # Killed once it has defined its first guest: the run holds every guest's lock from
    # start to end, and the lock names the module's PID.
    blade.run("systemd-run --unit ob-kill-guests --collect sh -c 'for i in $(seq 1 30000); do "
              f"p=$(cat {GUEST_LOCK} 2>/dev/null); ls /etc/libvirt/qemu/obk-*.xml >/dev/null 2>&1 && "
              "[ -n \"$p\" ] && kill -9 $p && break; sleep 0.02; done'")
    try:
        disks = blade.module("lvm_clones", BATCH)  # made by the test above; here when run alone
        assert not disks.get("failed"), disks.get("msg")
        killed = blade.module("guests", GUESTS)
        assert killed.get("failed") or killed.get("unreachable"), killed
        defined = [name for name in guests_left(blade)
                   if name.startswith("obk-") and not name.endswith(".iso")]
        assert 1 <= len(defined) < 4, defined  # killed in the middle of the list
        converges(blade, "guests", GUESTS)
        names = [f"obk-{name}" for name in CLONES[:4]]
        # No staging directory either: the killed run's is taken over by the re-run.
        assert sorted(guests_left(blade)) == sorted(names + [f"{name}-cidata.iso" for name in names])
    finally:
        blade.run("systemctl stop ob-kill-guests 2>/dev/null; for d in $(virsh -q list --all --name | "
                  f"grep '^obk-'); do virsh undefine $d >/dev/null; done; rm -rf {SEEDS}/obk-* "
                  f"{SEEDS}/.obk-*", check=False)


def at_once(*calls):
    """Run the calls in parallel threads; their results in order."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def clean(results):
    """No traceback; both succeed, or one gave up waiting for the other's lock (a bounded
    wait that names the holder, on a slow host) before it changed anything."""
    for result in results:
        text = json.dumps(result)
        assert "Traceback (most recent call last)" not in text, text[-2000:]
    failed = [result for result in results if result.get("failed")]
    assert len(failed) <= 1, [result["msg"] for result in failed]
    for result in failed:
        assert "is locked by PID" in result["msg"] and not result["changed"], result["msg"]
    return [result for result in results if not result.get("failed")]


def test_two_conflicting_clone_batches_at_once(blade, pool):
    names = ["c1", "c2", "c3"]
    create = dict(vg=VG, clones=[{"name": n, "origin": "img-1", "size": "64m"} for n in names])
    remove = dict(vg=VG, clones=[{"name": n, "origin": "img-1", "state": "absent"} for n in reversed(names)])
    for _round in range(2):  # both orders of arrival are likely over two rounds
        started = time.monotonic()
        results = at_once(lambda: blade.module("lvm_clones", create),
                          lambda: blade.module("lvm_clones", remove))
        took = time.monotonic() - started
        clean(results)
        left = sorted(name for name in lvs(blade) if name in names)
        assert left in ([], names), left  # one request or the other, never a mix
        winner = create if left == names else remove
        again = blade.module("lvm_clones", winner)
        assert not again["changed"], again["actions"]
        print(f"two clone batches at once: {took:.0f}s, end state {'created' if left else 'removed'}")


def partitions_args(parts):
    return {"trunk": ["trunk0"], "prune": True, "rollback_timeout": 300, "partitions": [
        {"name": name, "vlan": vlan, "subnet": f"10.79.{vlan - 200}.0/24", **extra}
        for name, vlan, extra in parts]}


def test_two_conflicting_partitions_runs_at_once(blade):
    blade.run(NETWORK_CLEANUP, check=False)
    # Both state kb's MTU: a partition without one leaves the MTU as it finds it.
    first = partitions_args([("ka", 201, {}), ("kb", 202, {"mtu": 1500})])
    second = partitions_args([("kb", 202, {"mtu": 1400}), ("kc", 203, {})])
    try:
        results = at_once(lambda: blade.module("partitions", first),
                          lambda: blade.module("partitions", second))
        clean(results)
        links = {entry["ifname"]: entry["mtu"] for entry in json.loads(blade.run("ip -j link show").stdout)}
        ours = {name: mtu for name, mtu in links.items() if name.startswith(("br-k", "trunk0.2"))}
        expected_first = {"br-ka": 1500, "br-kb": 1500, "trunk0.201": 1500, "trunk0.202": 1500}
        expected_second = {"br-kb": 1400, "br-kc": 1500, "trunk0.202": 1400, "trunk0.203": 1500}
        assert ours in (expected_first, expected_second), ours
        winner = first if ours == expected_first else second
        again = blade.module("partitions", winner)
        assert not again["changed"], again["actions"]
    finally:
        blade.run(NETWORK_CLEANUP, check=False)
