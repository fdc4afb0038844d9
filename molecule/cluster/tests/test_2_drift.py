"""Drift: a guest's memory changed and a VLAN deleted by hand. The plan (--check --diff)
names exactly that, and the apply changes exactly that and restores it.

The plan runs with the repository's default strategy (Mitogen) and the apply with
Ansible's plain ``linear``: the collection must need no Mitogen, and a plan made one way
must predict an apply made the other.

Runs after test_1_cluster (file order), on the converged cluster.
"""

from __future__ import annotations

import json

import pytest

GUEST = "web1"
PARTITION = "sales"
NETWORK_TASK = ("openblade.kvm.network : Trunk, partition VLANs and bridges (one transaction, rolled back "
                "on failure)")
GUESTS_TASK = "openblade.kvm.guests : Reconcile the guests of this blade in one call"


def result(results, host, task):
    return next(r for r in results if r["_host"] == host and r["_task"] == task)


@pytest.fixture(scope="module")
def drift(cluster):
    guest_blade = cluster.placement()[GUEST]
    vlan_blade = next(b for b in cluster.blades if b != guest_blade)
    vlan = next(p["vlan"] for p in cluster.inventory["network_partitions"] if p["name"] == PARTITION)
    memory = next(g["memory"] for g in cluster.inventory["cluster_guests"] if g["name"] == GUEST)
    cluster.run(guest_blade, f"virsh setmem {GUEST} {memory // 2}M --live --config")
    cluster.run(vlan_blade, f"ip link del bond0.{vlan}")
    plan = cluster.site(check=True, diff=True)
    apply = cluster.site(strategy="linear")
    return {"guest_blade": guest_blade, "vlan_blade": vlan_blade, "vlan": vlan, "memory": memory,
            "plan": plan, "apply": apply}


def test_plan_reports_exactly_the_drift(cluster, drift):
    assert cluster.changed(drift["plan"]) == {(drift["guest_blade"], GUESTS_TASK),
                                              (drift["vlan_blade"], NETWORK_TASK)}
    guests = result(drift["plan"], drift["guest_blade"], GUESTS_TASK)
    assert guests["summary"]["updated"] == [GUEST], guests["summary"]
    assert guests["guests"][GUEST]["changes"] == [{"field": "memory", "when": "live"}]
    assert guests["diff"]["before"][GUEST]["memory"] == drift["memory"] // 2
    assert guests["diff"]["after"][GUEST]["memory"] == drift["memory"]
    # The network plan: no config file differs; at runtime only the deleted VLAN, and the
    # bridge it was the port of, which lost that port.
    network = result(drift["plan"], drift["vlan_blade"], NETWORK_TASK)
    before, after = network["diff"]["before"], network["diff"]["after"]
    assert before["files"] == after["files"]
    drifted = {name for name, fields in after["runtime"].items() if before["runtime"].get(name) != fields}
    assert drifted == {f"bond0.{drift['vlan']}", f"br-{PARTITION}"}, network["actions"]
    bridge_before, bridge_after = before["runtime"][f"br-{PARTITION}"], after["runtime"][f"br-{PARTITION}"]
    assert {key for key in bridge_after if bridge_before.get(key) != bridge_after[key]} == {"ports"}
    assert bridge_after["ports"] == [f"bond0.{drift['vlan']}"]
    assert any(f"bond0.{drift['vlan']}" in action for action in network["actions"]), network["actions"]


def test_apply_restores_it_and_changes_nothing_else(cluster, drift):
    assert cluster.changed(drift["apply"]) == cluster.changed(drift["plan"])
    info = json.loads(cluster.run(drift["vlan_blade"], f"ip -d -j link show bond0.{drift['vlan']}"))[0]
    assert info["linkinfo"]["info_data"]["id"] == drift["vlan"]
    assert info["master"] == f"br-{PARTITION}"
    dominfo = cluster.run(drift["guest_blade"], f"virsh dumpxml {GUEST}")
    assert f"<currentMemory unit='KiB'>{drift['memory'] * 1024}</currentMemory>" in dominfo
