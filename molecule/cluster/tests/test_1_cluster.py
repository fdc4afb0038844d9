"""Verify the converged cluster on the three lab blades (testinfra over Ansible's SSH)."""

from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.openblade.kvm.tests.integration import harness

BLADES = ("blade1", "blade2", "blade3")
VG = "vg_guests"


@pytest.fixture(scope="module")
def expected(cluster):
    """The inventory's plan, computed on the controller as the cluster role does, from
    scratch (no existing guests) with blade1's ledger: the cluster must be where a fresh
    plan puts it."""
    return harness.plan_tool().inventory_plan(harness.LAB_INVENTORY, list(BLADES),
                                              ledgers={"blade1": cluster.ledger()})


@pytest.mark.parametrize("name", BLADES)
def test_trunk_is_a_bond_with_a_vlan_and_bridge_per_partition(cluster, name):
    bond = cluster.run(name, "cat /proc/net/bonding/bond0")
    assert "Bonding Mode: fault-tolerance (active-backup)" in bond
    assert "Slave Interface: trunk0" in bond and "Slave Interface: trunk1" in bond
    links = {link["ifname"]: link for link in json.loads(cluster.run(name, "ip -d -j link show"))}
    for partition in cluster.inventory["network_partitions"]:
        vlan = links[f"bond0.{partition['vlan']}"]
        assert vlan["linkinfo"]["info_data"]["id"] == partition["vlan"]
        assert vlan["master"] == f"br-{partition['name']}"
        assert links[f"br-{partition['name']}"]["operstate"] in ("UP", "UNKNOWN")
    nets = cluster.run(name, "virsh -q net-list --name").split()
    assert sorted(nets) == sorted(p["name"] for p in cluster.inventory["network_partitions"])


@pytest.mark.parametrize("name", BLADES)
def test_thin_pool_golden_images_and_clones(cluster, expected, name):
    lvs = {lv["lv_name"]: lv for lv in json.loads(cluster.run(
        name, f"lvs --reportformat json -o lv_name,lv_layout,pool_lv,origin,lv_tags,lv_attr {VG}"))
        ["report"][0]["lv"]}
    assert "pool" in lvs["thinpool"]["lv_layout"]
    for image in cluster.inventory["storage_golden_images"]:
        golden = lvs[f"{image['name']}-{image['version']}"]
        assert golden["pool_lv"] == "thinpool" and golden["lv_attr"][1] == "r", golden
    mine = [g for g, b in expected["placement"].items() if b == name]
    clones = sorted(lv for lv, info in lvs.items() if "ob_clone" in info["lv_tags"])
    assert clones == sorted(f"{guest}-root" for guest in mine)
    images = {g["name"]: g["image"] for g in cluster.inventory["cluster_guests"]}
    for guest in mine:
        assert lvs[f"{guest}-root"]["origin"] == f"{images[guest]}-1"
        assert f"ob_owner={guest}" in lvs[f"{guest}-root"]["lv_tags"]


def test_guests_run_where_placement_put_them(cluster, expected):
    want = expected["placement"]
    assert cluster.placement() == want
    assert sorted(set(want.values())) == list(BLADES), "placement left a blade empty"
    running = {guest: name for name in BLADES
               for guest in cluster.run(name, "virsh -q list --state-running --name").split()}
    assert running == want
    pinned = {g["name"]: g["blade"] for g in cluster.inventory["cluster_guests"] if g.get("blade")}
    assert all(want[guest] == name for guest, name in pinned.items())
    web = [want[g["name"]] for g in cluster.inventory["cluster_guests"] if g.get("anti_affinity") == "web"]
    assert len(web) == len(set(web)), f"the anti-affinity pair shares a blade: {web}"


def test_every_blade_holds_the_same_ledger_with_unique_addresses(cluster):
    copies = {name: cluster.run(name, f"cat /var/lib/openblade/ipam/{cluster.name}.json") for name in BLADES}
    assert len(set(copies.values())) == 1, copies
    for partition, entries in cluster.ledger()["partitions"].items():
        assert len(set(entries.values())) == len(entries), partition


def test_each_guest_boots_its_clone_with_a_seed_carrying_hostname_and_addresses(cluster):
    ledger = cluster.ledger()
    for name in BLADES:
        for guest, seen in cluster.guests(name).items():
            assert f"/dev/{VG}/{guest}-root" in seen["disks"], seen
            assert yaml.safe_load(seen["user_data"])["hostname"] == guest
            # Each NIC, found by the MAC libvirt gave it, holds its partition's address.
            network = yaml.safe_load(seen["network_config"])
            seeded = {e["match"]["macaddress"]: e["addresses"] for e in network["ethernets"].values()}
            assert sorted(seeded) == sorted(seen["nics"]), guest
            for mac, partition in seen["nics"].items():
                assert seeded[mac] == [f"{ledger['partitions'][partition][guest]}/24"], (guest, partition)


# Partition isolation across blades: on every blade a network namespace stands in for a
# guest of each partition, with a veth on the partition's bridge.
STANDIN = """
ip netns del ob-{p} 2>/dev/null; ip link del obv-{p} 2>/dev/null
ip netns add ob-{p}
ip link add obv-{p} type veth peer name eth0 netns ob-{p}
ip link set obv-{p} master br-{p} up
ip -n ob-{p} link set lo up; ip -n ob-{p} link set eth0 up
ip -n ob-{p} addr add {address} dev eth0
"""


@pytest.fixture(scope="module")
def standins(cluster):
    partitions = [p for p in cluster.inventory["network_partitions"] if p["name"] in ("office", "sales")]
    for index, name in enumerate(BLADES, start=1):
        script = "".join(STANDIN.format(p=p["name"], address=f"{p['subnet'][:-len('0/24')]}{200 + index}/24")
                         for p in partitions)
        # The sales stand-in also claims an office address: it must still not reach office.
        cluster.run(name, script + f"ip -n ob-sales addr add 10.77.1.{220 + index}/24 dev eth0\n")
    yield
    for name in BLADES:
        cluster.run(name, "".join(f"ip netns del ob-{p['name']}; ip link del obv-{p['name']} 2>/dev/null; "
                                  for p in partitions) + "true")


def test_a_partition_reaches_across_blades(cluster, standins):
    assert cluster.ping("blade1", "ob-office", "10.77.1.202")
    assert cluster.ping("blade3", "ob-sales", "10.77.2.202")


def test_partitions_are_isolated_across_blades(cluster, standins):
    # Same subnet, different VLAN: nothing crosses, while the office stand-ins reach
    # each other (the control above).
    assert not cluster.ping("blade1", "ob-sales", "10.77.1.202")
    assert not cluster.ping("blade2", "ob-sales", "10.77.1.203")
