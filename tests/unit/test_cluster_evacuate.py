# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drained blades, evacuation and planned moves in the cluster plan (issue 13)."""

from __future__ import annotations

import pytest

from ansible_collections.openblade.kvm.plugins.filter.cluster_plan import cluster_plan
from ansible_collections.openblade.kvm.plugins.plugin_utils.cluster import plan
from ansible_collections.openblade.kvm.plugins.plugin_utils.placement import PlacementError, place_guests

BLADES = {name: {"cores": 2, "memory_mib": 4096, "pool_gib": 100} for name in ("b1", "b2", "b3")}
PARTITIONS = [{"name": "office", "vlan": 101, "subnet": "10.0.1.0/24"}]
IMAGES = [{"name": "deb", "version": "1", "src": "/x", "format": "raw", "size": "1g"}]
POOLS = [{"vg": "vg", "pvs": ["/dev/vdb"]}]
GUESTS = [
    {"name": "web1", "image": "deb", "memory": 512, "partitions": ["office"], "anti_affinity": "web"},
    {"name": "web2", "image": "deb", "memory": 512, "partitions": ["office"], "anti_affinity": "web"},
    {"name": "db1", "image": "deb", "memory": 1024, "vcpus": 2},
    {"name": "app1", "image": "deb", "memory": 256, "state": "stopped"},
]
# Where they run now (app1 was put on b1 by hand: two guests to evacuate there).
WHERE = {"web1": "b2", "web2": "b3", "db1": "b1", "app1": "b1"}


def domains(where, states=None):
    found = {blade: [] for blade in BLADES}
    for name, blade in where.items():
        found[blade].append({"name": name, "managed": True, "cluster": "c1",
                             "state": (states or {}).get(name, "running")})
    return found


def make(guests=None, where=None, **kwargs):
    kwargs.setdefault("memory_reserve_mib", 1024)
    return plan("c1", GUESTS if guests is None else guests, BLADES, PARTITIONS, IMAGES, POOLS,
                domains_by_blade=domains(WHERE if where is None else where, {"app1": "stopped"}), **kwargs)


def test_guests_stay_where_they_run_when_nothing_is_drained():
    result = make(migrate="all")
    assert result["placement"] == WHERE and result["moves"] == [] and result["drained"] == []


def test_evacuating_a_blade_moves_its_guests_by_the_placement_rule():
    result = make(drain="b1", migrate="drained")
    assert result["moves"] == [
        {"guest": "app1", "source": "b1", "destination": "b3", "mode": "cold", "anti_affinity_guests": []},
        {"guest": "db1", "source": "b1", "destination": "b2", "mode": "live", "anti_affinity_guests": []},
    ]
    assert result["placement"] == {"app1": "b3", "db1": "b2", "web1": "b2", "web2": "b3"}
    assert result["drained"] == ["b1"] and result["ledger"]["drained"] == ["b1"]
    assert "| db1 | b1 | b2 | live |" in result["table"]
    assert "| db1 | b2 (moves live from b1) |" in result["table"]
    assert "drained (no new guest goes there): b1" in result["table"]


def test_moving_guests_are_left_out_of_this_runs_disks_and_domains():
    result = make(drain="b1", migrate="drained")
    assert sorted(g["name"] for g in result["guests_list"]) == ["web1", "web2"]
    assert all(c["owner"] in ("web1", "web2") for blade in result["clones"].values() for c in blade)


def test_anti_affinity_holds_when_the_blade_of_one_of_a_pair_is_drained():
    # web1 may go neither to b3 (web2 is there) nor back to b2 (drained): b1.
    result = make(drain="b2", migrate="drained")
    assert [(m["guest"], m["destination"]) for m in result["moves"]] == [("web1", "b1")]
    # The move itself checks the group again on b1 (guest_migrate's anti_affinity_guests).
    assert result["moves"][0]["anti_affinity_guests"] == ["web2"]


def test_a_drain_that_leaves_no_room_fails_with_the_capacity_table_and_the_drained_blades():
    with pytest.raises(ValueError) as error:
        make(drain="b1", migrate="drained", memory_reserve_mib=3000)
    message = str(error.value)
    assert "do not fit" in message and "drained blades (they receive no guest): b1" in message


def test_after_the_evacuation_the_plan_moves_nothing_and_keeps_the_mark():
    moved = make(drain="b1", migrate="drained")
    after = make(where=moved["placement"], ledgers={b: moved["ledger"] for b in BLADES})
    assert after["moves"] == [] and after["placement"] == moved["placement"]
    assert after["ledger"] == moved["ledger"] and after["drained"] == ["b1"]
    # Also with planned moves: nothing goes back to b1.
    assert make(where=moved["placement"], ledgers={"b2": moved["ledger"]}, migrate="all")["moves"] == []


def test_a_drained_blade_receives_no_new_guest_until_it_returns():
    ledger = make(drain="b1", migrate="drained", where={})["ledger"]
    new = {"name": "new1", "image": "deb", "memory": 256}
    after = make(guests=GUESTS + [new], where={}, ledgers={"b1": ledger})
    assert "b1" not in after["placement"].values()
    back = make(guests=GUESTS + [new], where={}, ledgers={"b1": ledger}, undrain="b1")
    assert "b1" in back["placement"].values() and "drained" not in back["ledger"]


def test_any_copy_of_the_ledger_that_marks_a_blade_drains_it():
    marked = dict(make(where={})["ledger"], drained=["b3"])
    assert make(ledgers={"b1": marked, "b2": None})["drained"] == ["b3"]


def test_without_planned_moves_a_drained_blades_guests_stay_and_a_changed_pin_is_refused():
    result = make(drain="b1")
    assert result["moves"] == [] and result["placement"] == WHERE
    pinned = [dict(g, blade="b3") if g["name"] == "db1" else g for g in GUESTS]
    with pytest.raises(ValueError, match="db1 is defined on b1 but the inventory pins it to b3; guests are "
                                         r"not moved automatically \(migrate it first, or drop the pin\)$"):
        make(guests=pinned)


def test_planned_moves_follow_a_changed_pin():
    pinned = [dict(g, blade="b3") if g["name"] == "db1" else g for g in GUESTS]
    result = make(guests=pinned, migrate="all")
    assert result["moves"] == [{"guest": "db1", "source": "b1", "destination": "b3", "mode": "live",
                                "anti_affinity_guests": []}]
    assert result["placement"]["db1"] == "b3"


@pytest.mark.parametrize("pin, kwargs, message", [
    ("b1", {"drain": "b1", "migrate": "drained"}, "db1 is pinned to b1, which is being drained"),
    ("b2", {"drain": "b2", "migrate": "all"}, "db1 is pinned to b2, which is drained and receives no guest"),
])
def test_a_pin_to_a_drained_blade_is_refused(pin, kwargs, message):
    pinned = [dict(g, blade=pin) if g["name"] == "db1" else g for g in GUESTS]
    with pytest.raises(ValueError, match=message):
        make(guests=pinned, **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"drain": "b9"}, "drain: 'b9' is not a blade of this inventory"),
    ({"undrain": "b9"}, "undrain: 'b9' is not a blade"),
    ({"drain": "b1", "undrain": "b1"}, "cannot be drained and returned to service in the same run"),
    ({"migrate": "some"}, "migrate: 'some' is not one of none, drained, all"),
])
def test_bad_drain_options_fail_before_any_plan(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make(**kwargs)


def test_the_filter_returns_a_refusal_as_data():
    result = cluster_plan(GUESTS, "c1", BLADES, PARTITIONS, IMAGES, POOLS, drain="b9", errors="return")
    assert result == {"errors": ["drain: 'b9' is not a blade of this inventory (blades: b1, b2, b3)"]}
    # Empty strings (the role's defaults) mean no drain.
    result = cluster_plan(GUESTS, "c1", BLADES, PARTITIONS, IMAGES, POOLS, drain="", undrain="")
    assert result["drained"] == []


def test_an_undrained_cluster_keeps_its_ledger_bytes():
    assert "drained" not in make()["ledger"]


def test_place_keeps_what_a_drained_blade_holds_and_adds_nothing():
    blades = {"b1": {"cores": 4, "memory_mib": 4096}, "b2": {"cores": 4, "memory_mib": 4096}}
    guests = [{"name": "a", "vcpus": 1, "memory_mib": 512}, {"name": "b", "vcpus": 1, "memory_mib": 512}]
    placed = place_guests(guests, blades, {"a": "b1"}, memory_reserve_mib=0, drained=("b1",))
    assert placed == {"a": "b1", "b": "b2"}
    with pytest.raises(PlacementError, match="drained blades"):
        place_guests(guests, blades, memory_reserve_mib=0, drained=("b1", "b2"))
