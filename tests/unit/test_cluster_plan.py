# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster plan: placement, address ledger and what each blade gets."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.openblade.kvm.plugins.filter.cluster_plan import cluster_plan
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.identity import derive_mac
from ansible_collections.openblade.kvm.plugins.plugin_utils import ipam
from ansible_collections.openblade.kvm.plugins.plugin_utils.cluster import placement_capacities, plan

BLADES = {name: {"cores": 4, "memory_mib": 8192, "pool_gib": 100, "max_overcommit": 2}
          for name in ("b1", "b2", "b3")}
PARTITIONS = [
    {"name": "shared", "vlan": 100, "subnet": "10.0.0.0/24", "shared": True},
    {"name": "office", "vlan": 101, "subnet": "10.0.1.0/24", "gateway": "10.0.1.1",
     "host_address": "10.0.1.12/24"},
]
IMAGES = [{"name": "deb", "version": "1", "src": "/x", "format": "raw", "size": "10g"},
          {"name": "deb", "version": "2", "src": "/y", "format": "raw", "size": "10g"}]
POOLS = [{"vg": "vg_guests", "pvs": ["/dev/vdb"], "max_overcommit": 2}]
GUESTS = [
    {"name": "web1", "image": "deb", "memory": 2048, "partitions": ["office", "shared"],
     "anti_affinity": "web"},
    {"name": "web2", "image": "deb", "memory": 2048, "partitions": ["office", "shared"],
     "anti_affinity": "web"},
    {"name": "db1", "image": "deb", "memory": 4096, "vcpus": 2, "disk_size": "40g", "partitions": ["office"]},
]


def make(guests=None, **kwargs):
    kwargs.setdefault("memory_reserve_mib", 2048)
    return plan("c1", GUESTS if guests is None else guests, BLADES, PARTITIONS, IMAGES, POOLS, **kwargs)


def test_same_inventory_same_plan():
    first, again = make(), make()
    assert first == again
    assert make(guests=list(reversed(GUESTS)))["placement"] == first["placement"]
    assert make(guests=list(reversed(GUESTS)))["ledger"] == first["ledger"]


def test_anti_affinity_pair_on_different_blades():
    placement = make()["placement"]
    assert placement["web1"] != placement["web2"]


def test_addresses_skip_the_offset_the_gateway_and_the_host_address():
    ledger = make(address_offset=10)["ledger"]
    # 10.0.1.11 is the first candidate; .12 is the host's: db1, web1, web2 in name order.
    assert ledger["partitions"]["office"] == {"db1": "10.0.1.11", "web1": "10.0.1.13", "web2": "10.0.1.14"}
    assert ledger["partitions"]["shared"] == {"web1": "10.0.0.11", "web2": "10.0.0.12"}


def test_a_removed_guests_address_is_never_given_to_a_new_guest():
    ledger = make()["ledger"]
    without_web1 = [g for g in GUESTS if g["name"] != "web1"] + [
        {"name": "app1", "image": "deb", "partitions": ["office"]}]
    after = make(guests=without_web1, ledgers={"b1": ledger})["ledger"]
    assert after["partitions"]["office"]["web1"] == "10.0.1.13"  # still reserved
    assert after["partitions"]["office"]["app1"] == "10.0.1.15"
    # And web1 gets its own address back when it returns.
    back = make(ledgers={"b1": after})["ledger"]
    assert back["partitions"]["office"]["web1"] == "10.0.1.13"


def test_existing_addresses_win_over_name_order():
    ledger = {"cluster": "c1", "partitions": {"office": {"web2": "10.0.1.11"}}}
    result = make(ledgers={"b2": ledger})["ledger"]["partitions"]["office"]
    assert result == {"db1": "10.0.1.13", "web1": "10.0.1.14", "web2": "10.0.1.11"}


def test_ledgers_that_disagree_fail():
    one = {"cluster": "c1", "partitions": {"office": {"web1": "10.0.1.20"}}}
    two = {"cluster": "c1", "partitions": {"office": {"web1": "10.0.1.21"}}}
    with pytest.raises(ValueError, match="ledgers disagree: web1 on partition office"):
        make(ledgers={"b1": one, "b2": two})
    three = {"cluster": "c1", "partitions": {"office": {"web2": "10.0.1.20"}}}
    with pytest.raises(ValueError, match="10.0.1.20 on partition office belongs to web1"):
        make(ledgers={"b1": one, "b3": three})
    with pytest.raises(ValueError, match="belongs to cluster 'other'"):
        make(ledgers={"b1": {"cluster": "other", "partitions": {}}})


def test_a_full_subnet_fails_naming_the_guest():
    small = [dict(PARTITIONS[0], subnet="10.0.0.0/29")]
    guests = [{"name": f"g{i}", "image": "deb", "memory": 128, "partitions": ["shared"]} for i in range(7)]
    with pytest.raises(ValueError, match="no free address left for g"):
        plan("c1", guests, BLADES, small, IMAGES, POOLS, address_offset=0)


def test_guest_options_clone_and_seed():
    result = make()
    blade = result["placement"]["web1"]
    web1 = next(g for g in result["guests_list"] if g["name"] == "web1")
    assert web1["host"] == blade
    assert web1["disks"] == [{"path": "/dev/vg_guests/web1-root", "boot_order": 1}]
    assert web1["nics"] == [{"partition": "office"}, {"partition": "shared"}]
    assert web1["cloud_init"]["user_data"]["hostname"] == "web1"
    ethernets = web1["cloud_init"]["network_config"]["ethernets"]
    assert ethernets["eth0"]["match"]["macaddress"] == derive_mac("c1", "web1", 0)
    assert ethernets["eth0"]["addresses"] == ["10.0.1.13/24"]
    assert ethernets["eth0"]["routes"] == [{"to": "default", "via": "10.0.1.1"}]
    assert "routes" not in ethernets["eth1"]
    # The last listed version of the image, sized as asked (or as the image).
    clones = {c["name"]: c for c in result["clones"][result["placement"]["db1"]]}
    assert clones["db1-root"] == {"vg": "vg_guests", "name": "db1-root", "origin": "deb-2", "owner": "db1",
                                  "size": str(40 * 1024 ** 3)}
    assert sum(len(c) for c in result["clones"].values()) == 3


def test_user_data_merges_cluster_then_guest():
    guests = [dict(GUESTS[0], user_data={"packages": ["nginx"]})]
    cluster_data = {"packages": ["curl"], "ssh_authorized_keys": ["k"]}
    web1 = make(guests=guests, user_data=cluster_data)["guests_list"][0]
    assert web1["cloud_init"]["user_data"] == {"hostname": "web1", "preserve_hostname": False,
                                               "packages": ["nginx"], "ssh_authorized_keys": ["k"]}


def test_existing_guests_stay_where_they_are():
    fresh = make()["placement"]
    elsewhere = next(b for b in sorted(BLADES) if b != fresh["db1"])
    domains = {elsewhere: [{"name": "db1", "managed": True, "cluster": "c1"},
                           {"name": "handmade", "managed": False, "cluster": None},
                           {"name": "web9", "managed": True, "cluster": "other"}]}
    assert make(domains_by_blade=domains)["placement"]["db1"] == elsewhere


def test_a_pinned_guest_defined_elsewhere_is_not_moved():
    domains = {"b2": [{"name": "db1", "managed": True, "cluster": "c1"}]}
    guests = [dict(GUESTS[2], blade="b1")]
    with pytest.raises(ValueError, match="db1 is defined on b2 but the inventory pins it to b1"):
        make(guests=guests, domains_by_blade=domains)


@pytest.mark.parametrize("guest, message", [
    ({"name": "x", "image": "nope"}, r"cluster_guests\[0\] \(x\).image: 'nope' is not a golden image"),
    ({"name": "x", "image": "deb", "partitions": ["hr"]}, r"'hr' is not in network_partitions"),
    ({"name": "x", "image": "deb", "blade": "b9"}, r"'b9' is not a blade"),
    ({"name": "x", "image": "deb", "colour": 1}, r"unknown key\(s\) colour"),
    ({"name": "x", "image": "deb", "domain": {"nics": []}}, r"domain: nics come from the cluster plan"),
    ({"name": "x", "image": "deb", "disk_size": "lots"}, r"disk_size.*is not a size"),
    ({"name": "bad name", "image": "deb"}, r"cluster_guests\[0\].name"),
])
def test_bad_guests_fail_with_a_clear_message(guest, message):
    with pytest.raises(ValueError, match=message):
        make(guests=[guest])


def test_guests_that_do_not_fit_fail_with_the_capacity_table():
    big = [{"name": f"big{i}", "image": "deb", "memory": 6000} for i in range(4)]
    with pytest.raises(AnsibleFilterError, match=r"(?s)do not fit.*\| b1 \|.*not placed: big"):
        cluster_plan(big, "c1", BLADES, PARTITIONS, IMAGES, POOLS)


def test_a_plan_that_cannot_be_made_can_be_returned_as_data():
    # The cluster role fails with the message itself, without the templating wrapper.
    big = [{"name": f"big{i}", "image": "deb", "memory": 6000} for i in range(4)]
    result = cluster_plan(big, "c1", BLADES, PARTITIONS, IMAGES, POOLS, errors="return")
    assert list(result) == ["errors"] and len(result["errors"]) == 1
    assert "do not fit" in result["errors"][0] and not result["errors"][0].startswith("openblade.kvm")


def test_without_netaddr_the_filter_says_what_it_needs(monkeypatch):
    monkeypatch.setattr(ipam, "HAS_NETADDR", False)
    with pytest.raises(AnsibleFilterError, match=r"needs netaddr on the controller \(pip install netaddr\)"):
        cluster_plan(GUESTS, "c1", BLADES, PARTITIONS, IMAGES, POOLS)


def test_no_disk_size_anywhere_is_refused():
    images = [dict(IMAGES[0], size=None)]
    with pytest.raises(ValueError, match="no disk size"):
        plan("c1", [{"name": "x", "image": "deb"}], BLADES, PARTITIONS, images, POOLS)


def test_interface_has_the_subnet_prefix():
    ledger = {"partitions": {"office": {"web1": "10.0.1.13"}}}
    assert ipam.interface(ledger, {p["name"]: p for p in PARTITIONS}, "office", "web1") == "10.0.1.13/24"


@pytest.mark.parametrize("capacity, own_pools, expected", [
    ({"max_overcommit": 3}, [{"vg": "v", "max_overcommit": 5}], 3),  # the blade's own limit wins
    ({"max_overcommit": None}, [{"vg": "v", "max_overcommit": 5}], 5),  # unset, as an argument spec leaves it
    ({}, [{"vg": "v", "max_overcommit": 5}], 5),  # else the blade's own first pool
    ({}, None, 2),  # else the cluster's first pool (POOLS)
    ({}, [{"vg": "v"}], 1.0),  # a pool without a limit: no overcommit
])
def test_placement_capacity_takes_max_overcommit_from_the_blade_then_its_pool(capacity, own_pools, expected):
    blades = {"b1": dict({"cores": 4, "memory_mib": 8192, "pool_gib": 100}, **capacity)}
    blade_pools = {"b1": own_pools} if own_pools is not None else {}
    assert placement_capacities(blades, POOLS, blade_pools)["b1"] == {
        "cores": 4, "memory_mib": 8192, "pool_gib": 100, "max_overcommit": expected}


def test_a_blade_pool_limit_decides_what_fits():
    """100 GiB pools; 150 GiB of disk fits only on the blade whose own pool allows 2x."""
    blades = {name: {"cores": 4, "memory_mib": 8192, "pool_gib": 100} for name in ("b1", "b2")}
    strict = [{"vg": "vg_guests", "pvs": ["/dev/vdb"], "max_overcommit": 1}]
    guest = [{"name": "big", "image": "deb", "memory": 512, "disk_size": "150g"}]
    result = plan("c1", guest, blades, PARTITIONS, IMAGES, strict, blade_pools={"b2": POOLS})
    assert result["placement"] == {"big": "b2"}
    with pytest.raises(ValueError, match="does not fit|do not fit"):
        plan("c1", guest, blades, PARTITIONS, IMAGES, strict)
