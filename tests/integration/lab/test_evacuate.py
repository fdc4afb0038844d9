"""Evacuate a blade of an inventories/lab-style cluster on 3 blades (issue 13).

The cluster: `inventories/lab`'s shape cut down to 4 tiny boot-stub guests on one
partition (its own cluster name, VG and VLAN), one of them stopped, and an anti-affinity
pair. Placement puts two guests on one blade, one of the pair among them; that blade is
evacuated, live and cold at once (cluster_migrate_parallel 2).

Moves go between the blades over two VLANs on trunk0, which the cluster's network
(trunk1) leaves alone: 191 is the control network (SSH and libvirt's connection,
10.81.0.N), 192 the migration partition (memory and disks, 10.82.0.N). Every blade's root
trusts the others' key.

Asserted: `--check --diff` shows the moves and changes nothing; the real run makes the
moves check mode predicted; anti-affinity holds; the blade is empty and marked drained in
every copy of the ledger; the re-run and `site.yml` report 0 changed, and nothing moves
back; return-to-service drops the mark, and its re-run changes nothing. Then planned moves
in site.yml: a changed pin is refused without `cluster_migrate_planned`; with it,
`--check --diff` shows the move and changes nothing, the real run makes it, and the re-run
reports 0 changed.

Needs all 3 blades, with a blank /dev/vdb (run it after the lanes of `make lab-tests`, or
before the Molecule cluster scenario). It tears its cluster down and leaves /dev/vdb blank.
"""

from __future__ import annotations

import json
import os
import shlex
import sys

import harness
import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_inventory_checks import BASE, PREPARE, SITE, TEARDOWN, write_inventory  # noqa: E402

EVACUATE = os.path.join(harness.REPO, "playbooks", "evacuate.yml")
RETURN = os.path.join(harness.REPO, "playbooks", "return-to-service.yml")
CLUSTER = "obe"
VG = "obe_vg"
LEDGER = f"/var/lib/openblade/ipam/{CLUSTER}.json"
CONTROL, MIGRATION = (191, "10.81.0"), (192, "10.82.0")
MOVE = "openblade.kvm.cluster : Move the guest to its destination blade"

# test_inventory_checks' one-guest cluster, grown to 4 guests on the cluster's own VG,
# VLAN and trunk NIC.
VARIABLES = dict(
    BASE,
    cluster_name=CLUSTER,
    # What a 2 GiB lab blade has (OPENBLADE_LAB_MEMORY=2048), less what the blade keeps.
    blade_capacity={"cores": 2, "memory_mib": 2048, "pool_gib": 18},
    cluster_migrate_parallel=2,
    cluster_migrate_options={"verify_timeout": 180},
    network_trunk=["trunk1"],
    network_partitions=[{"name": "office", "vlan": 111, "subnet": "10.77.11.0/24"}],
    storage_pools=[dict(BASE["storage_pools"][0], vg=VG)],
    cluster_guests=[
        {"name": "db1", "image": "lab-base", "memory": 48, "partitions": ["office"]},
        {"name": "app1", "image": "lab-base", "memory": 32, "partitions": ["office"], "state": "stopped"},
        {"name": "web1", "image": "lab-base", "memory": 32, "partitions": ["office"], "anti_affinity": "web"},
        {"name": "web2", "image": "lab-base", "memory": 32, "partitions": ["office"], "anti_affinity": "web"},
    ],
)


def setup_script(index):
    """Per blade: the control and migration VLANs on trunk0, a root key, known hosts."""
    lines = ["set -e", "ip link set trunk0 up"]
    for vlan, net in (CONTROL, MIGRATION):
        link = f"trunk0.{vlan}"
        lines.append(f"ip link show {link} >/dev/null 2>&1 || {{ ip link add link trunk0 name {link} "
                     f"type vlan id {vlan} && ip addr add {net}.{index}/24 dev {link} && "
                     f"ip link set {link} up; }}")
    lines += ["mkdir -p /root/.ssh",
              "[ -f /root/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519",
              f"printf 'Host {CONTROL[1]}.* {MIGRATION[1]}.*\\n  StrictHostKeyChecking accept-new\\n' "
              ">/root/.ssh/config",
              "cat /root/.ssh/id_ed25519.pub"]
    return "\n".join(lines)


CLEANUP = (f"ip link del trunk0.{CONTROL[0]} 2>/dev/null; ip link del trunk0.{MIGRATION[0]} 2>/dev/null; "
           "rm -f /root/.ssh/config; sed -i '/openblade-evacuate-test/d' /root/.ssh/authorized_keys; "
           f"vgremove -ff -y {VG} >/dev/null 2>&1; pvremove -y /dev/vdb >/dev/null 2>&1; "
           f"rm -rf {LEDGER} /var/lib/openblade/images; true")


def where(blades):
    """{guest: (blade, state)} of the cluster's guests, from virsh on every blade."""
    found = {}
    for blade in blades:
        for name in ("db1", "app1", "web1", "web2"):
            proc = blade.run(f"virsh -q domstate {name}", check=False)
            if proc.returncode == 0:
                assert name not in found, f"{name} is defined on {found[name][0]} and on {blade.name}"
                found[name] = (blade.name, proc.stdout.strip())
    return found


def changed(results):
    return sorted((r["_host"], r["_task"]) for r in results if r.get("changed"))


def ledgers(blades):
    return {blade.name: json.loads(blade.run(f"cat {LEDGER}").stdout) for blade in blades}


@pytest.fixture(scope="module")
def cluster(blades, tmp_path_factory):
    if len(blades) < 3:
        pytest.skip("needs three blades")
    for blade in blades:
        if blade.run("wipefs --no-act /dev/vdb", check=False).stdout.strip():
            pytest.fail(f"{blade}: /dev/vdb is not blank; this test builds a VG on it")
    keys = [blade.run(setup_script(blade.index)).stdout.strip().splitlines()[-1] for blade in blades]
    trusted = "\n".join(f"{key} openblade-evacuate-test" for key in keys)
    for blade in blades:
        blade.run(f"printf '%s\\n' {shlex.quote(trusted)} >>/root/.ssh/authorized_keys")
    inventory = write_inventory(tmp_path_factory.mktemp("evacuate"), blades, VARIABLES)
    os.mkdir(os.path.join(inventory, "host_vars"))
    for blade in blades:
        with open(os.path.join(inventory, "host_vars", f"{blade.name}.yml"), "w") as handle:
            yaml.safe_dump({"cluster_migration_host": f"{CONTROL[1]}.{blade.index}",
                            "cluster_migration_address": f"{MIGRATION[1]}.{blade.index}"}, handle)
    try:
        harness.ansible_playbook(PREPARE, inventory=inventory)
        harness.ansible_playbook(SITE, inventory=inventory)
        yield inventory
    finally:
        # The boot stubs ignore ACPI shutdown, so teardown stops them.
        harness.playbook_run(TEARDOWN, inventory=inventory,
                             extra_vars=[f"teardown_confirm={CLUSTER}", "teardown_force_stop=true"])
        for blade in blades:
            blade.run(CLEANUP, check=False)


def test_evacuate_a_blade_and_return_it_to_service(blades, cluster):
    before = where(blades)
    assert sorted(before) == ["app1", "db1", "web1", "web2"], before
    # The blade that holds two guests, one of the anti-affinity pair among them.
    counts = {}
    for blade, _state in before.values():
        counts[blade] = counts.get(blade, 0) + 1
    source = next(b for b, n in counts.items() if n == 2 and b in (before["web1"][0], before["web2"][0]))
    leaving = sorted(name for name, (blade, _state) in before.items() if blade == source)
    other_web = before["web2" if before["web1"][0] == source else "web1"][0]
    run = {"inventory": cluster, "extra_vars": [f"blade={source}"]}

    predicted = harness.ansible_playbook(EVACUATE, check=True, diff=True, **run)
    assert where(blades) == before, "check mode moved a guest"
    moves = {r["_host"]: r for r in predicted if r["_task"] == MOVE}
    assert sorted(moves) == [f"openblade-move-{name}" for name in leaving]
    modes = {name: ("cold" if state == "shut off" else "live") for name, (_b, state) in before.items()}
    for name in leaving:
        assert moves[f"openblade-move-{name}"]["changed"], moves
    table = next(r for r in predicted if r["_task"].endswith("Show where the guests go"))["msg"]
    for name in leaving:
        assert any(row.startswith(f"| {name} | {source} | ") and row.endswith(f" | {modes[name]} |")
                   for row in table), table

    done = harness.ansible_playbook(EVACUATE, **run)
    moved = {r["_host"]: r for r in done if r["_task"] == MOVE}
    for host, result in moved.items():
        assert (result["changed"], result["actions"]) == (True, moves[host]["actions"]), (host, result)
        print(host, result.get("mode"), result.get("job", {}).get("seconds"), result.get("thin"))
    assert changed(done) == changed(predicted), "check mode did not predict the run"
    after = where(blades)
    assert not any(blade == source for blade, _state in after.values()), after
    assert {name: state for name, (_b, state) in after.items()} == {n: s for n, (_b, s) in before.items()}
    assert after["web1"][0] != after["web2"][0], after  # anti-affinity
    assert other_web not in (after[name][0] for name in leaving if name.startswith("web"))
    drained = next(blade for blade in blades if blade.name == source)
    assert drained.run("virsh -q list --all --name").stdout.strip() == ""
    assert all(ledger["drained"] == [source] for ledger in ledgers(blades).values())

    assert changed(harness.ansible_playbook(EVACUATE, **run)) == []
    site = harness.ansible_playbook(SITE, inventory=cluster)
    # What site.yml would change, with its actions, and whether anything moved back: asserted
    # after return-to-service, so one run shows every defect.
    site_changes = [(r["_host"], r["_task"], r.get("actions")) for r in site if r.get("changed")]
    moved_back = where(blades) != after

    back = harness.ansible_playbook(RETURN, **run)
    assert changed(back) and all("drained" not in ledger for ledger in ledgers(blades).values())
    assert changed(harness.ansible_playbook(RETURN, **run)) == [] and where(blades) == after
    assert not moved_back
    assert site_changes == []


def test_a_changed_pin_becomes_a_planned_move_only_when_asked(blades, cluster, tmp_path):
    before = where(blades)
    source = before["db1"][0]
    guests_per_blade = {blade.name: sum(b == blade.name for b, _s in before.values()) for blade in blades}
    target = min((name for name in guests_per_blade if name != source), key=guests_per_blade.get)
    pinned = tmp_path / "pinned.yml"
    guests = [dict(guest, blade=target) if guest["name"] == "db1" else guest
              for guest in VARIABLES["cluster_guests"]]
    pinned.write_text(yaml.safe_dump({"cluster_guests": guests}))
    run = {"inventory": cluster, "extra_vars": [f"@{pinned}", "cluster_migrate_planned=true"]}

    # Without the option the pin change is refused, before anything runs on a blade.
    proc, results = harness.playbook_run(SITE, inventory=cluster, extra_vars=[f"@{pinned}"], check=True)
    assert proc.returncode != 0 and changed(results) == []
    assert (f"guest db1 is defined on {source} but the inventory pins it to {target}" in proc.stdout
            and "migrate it first, or drop the pin" in proc.stdout), proc.stdout[-3000:]

    predicted = harness.ansible_playbook(SITE, check=True, diff=True, **run)
    assert where(blades) == before, "check mode moved a guest"
    moves = {r["_host"]: r for r in predicted if r["_task"] == MOVE}
    assert list(moves) == ["openblade-move-db1"] and moves["openblade-move-db1"]["changed"], moves
    table = next(r for r in predicted if r["_task"].endswith("Show where the guests go"))["msg"]
    assert f"| db1 | {source} | {target} | live |" in table, table

    done = harness.ansible_playbook(SITE, **run)
    assert changed(done) == changed(predicted), "check mode did not predict the run"
    [moved] = [r for r in done if r["_task"] == MOVE]
    assert moved["actions"] == moves["openblade-move-db1"]["actions"], moved
    after = where(blades)
    assert after == dict(before, db1=(target, before["db1"][1])), after
    assert changed(harness.ansible_playbook(SITE, **run)) == []
