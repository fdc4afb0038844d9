# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The placement filter: deterministic, capacity-aware, anti-affinity, sticky."""

from __future__ import annotations

import random

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.openblade.kvm.plugins.filter.place import FilterModule, place

BLADES = {
    "blade1": {"cores": 4, "memory_mib": 10240, "pool_gib": 100, "max_overcommit": 2},
    "blade2": {"cores": 4, "memory_mib": 10240, "pool_gib": 100, "max_overcommit": 2},
    "blade3": {"cores": 4, "memory_mib": 10240, "pool_gib": 100, "max_overcommit": 2},
}


def guest(name, vcpus=2, memory_mib=2048, disk_gib=20, **extra):
    return dict(name=name, vcpus=vcpus, memory_mib=memory_mib, disk_gib=disk_gib, **extra)


def test_registered_as_an_ansible_filter():
    assert FilterModule().filters()["place"] is place


def test_same_inventory_same_placement_whatever_the_order():
    guests = [guest(f"vm{i}", memory_mib=1024 * (1 + i % 3)) for i in range(9)]
    first = place(guests, BLADES, memory_reserve_mib=1024)
    shuffled = list(guests)
    random.Random(7).shuffle(shuffled)
    assert place(shuffled, BLADES, memory_reserve_mib=1024) == first
    assert set(first) == {g["name"] for g in guests}
    # Spread by free memory: 9 guests on 3 equal blades end up 3 per blade.
    assert sorted(list(first.values()).count(b) for b in BLADES) == [3, 3, 3]


def test_anti_affinity_members_land_on_different_blades():
    guests = [guest("db1", anti_affinity="db"), guest("db2", anti_affinity="db"),
              guest("db3", anti_affinity="db"), guest("web1", memory_mib=4096)]
    placement = place(guests, BLADES)
    assert len({placement["db1"], placement["db2"], placement["db3"]}) == 3


def test_anti_affinity_group_larger_than_the_cluster_fails():
    guests = [guest(f"db{i}", anti_affinity="db") for i in range(4)]
    with pytest.raises(AnsibleFilterError, match=r"(?s)do not fit.*not placed: db3.*"
                       r"db3: anti-affinity group 'db' is already on every blade with room"):
        place(guests, BLADES)


def test_existing_guests_stay_and_fixed_guests_go_where_told():
    guests = [guest("old"), guest("pinned", blade="blade3"), guest("new")]
    placement = place(guests, BLADES, existing={"old": "blade2"})
    assert placement["old"] == "blade2"
    assert placement["pinned"] == "blade3"
    assert placement["new"] == "blade1"  # the only blade with nothing on it


def test_capacity_limits_are_each_enforced():
    blades = {"b1": {"cores": 1, "memory_mib": 4096, "pool_gib": 10, "max_overcommit": 1.5}}
    assert place([guest("a", vcpus=2, memory_mib=1024, disk_gib=15)], blades,
                 cpu_ratio=2, memory_reserve_mib=1024) == {"a": "b1"}
    cases = [
        (guest("cpu", vcpus=3, memory_mib=1024, disk_gib=1), "1/2"),      # 3 vCPUs > 1 core x 2
        (guest("mem", vcpus=1, memory_mib=3500, disk_gib=1), "0/3072"),   # > 4096 - 1024
        (guest("disk", vcpus=1, memory_mib=512, disk_gib=16), "0/15"),    # > 10 GiB x 1.5
    ]
    for too_big, _shown in cases:
        with pytest.raises(AnsibleFilterError, match=f"not placed: {too_big['name']}"):
            place([too_big], blades, cpu_ratio=2, memory_reserve_mib=1024)


def test_failure_shows_demand_against_capacity_per_blade():
    guests = [guest(f"big{i}", memory_mib=6000) for i in range(4)]
    with pytest.raises(AnsibleFilterError) as failure:
        place(guests, BLADES, memory_reserve_mib=2048)
    message = str(failure.value)
    assert "| blade | vCPUs used/capacity | memory MiB used/capacity | disk GiB used/capacity |" in message
    assert "| blade1 | 2/16 | 6000/8192 | 20/200 |" in message
    assert "| (not placed: big3) | 2 | 6000 | 20 |" in message


@pytest.mark.parametrize("guests, blades, message", [
    ([guest("a", blade="blade9")], BLADES, "blade 'blade9' is not in the cluster"),
    ([guest("a"), guest("a")], BLADES, "'a' is listed twice"),
    ([{"name": "a", "vcpus": "two", "memory_mib": 1}], BLADES, "needs numeric vcpus"),
    ([guest("a")], {"b": {"cores": 2}}, "blade b: needs numeric cores and memory_mib"),
    ([guest("a")], {}, "no blades"),
    ([guest("a", memory_mib=9000, blade="blade1")], BLADES, "'a' does not fit on its blade blade1"),
])
def test_bad_input_is_named(guests, blades, message):
    with pytest.raises(AnsibleFilterError, match=message):
        place(guests, blades)
