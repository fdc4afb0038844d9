# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan play's check of the whole inventory (filter cluster_check): every rule of
the later plays, each refusal one line naming field, value and rule, all of them at once."""

from __future__ import annotations

import copy

import pytest
import yaml

from ansible_collections.openblade.kvm.plugins.filter.cluster_check import FilterModule, cluster_check
from ansible_collections.openblade.kvm.plugins.filter.network_layout import network_layout
from ansible_collections.openblade.kvm.plugins.plugin_utils import inventory

CAPACITY = {"cores": 4, "memory_mib": 8192, "pool_gib": 100}
BLADE = {
    "blade_capacity": CAPACITY,
    "network_trunk": ["eno1", "eno2"],
    "network_partitions": [
        {"name": "shared", "vlan": 100, "subnet": "10.0.0.0/24", "shared": True},
        {"name": "office", "vlan": 101, "subnet": "10.0.1.0/24", "gateway": "10.0.1.1", "mtu": 9000},
    ],
    "storage_pools": [
        {
            "vg": "vg_guests",
            "pvs": ["/dev/vdb"],
            "size": "90%VG",
            "autoextend_threshold": 80,
            "max_overcommit": 2,
        }
    ],
    "storage_golden_images": [
        {"name": "deb", "version": "1", "src": "/img/deb.qcow2", "format": "qcow2", "size": "10g"}
    ],
}
GUESTS = [
    {"name": "web1", "image": "deb", "memory": 2048, "partitions": ["office", "shared"]},
    {"name": "db1", "image": "deb", "vcpus": 2, "disk_size": "40g", "partitions": ["office"]},
]
VLAN_RULE = (
    "(allowed: integers 1-4094; the kernel also accepts 0, but 0 is the 802.1p priority tag, "
    "not a VLAN, and 4095 is reserved)"
)


def check(guests=None, blades=None, cluster="c1", **changes):
    """The problems of the inventory with ``changes`` (variable -> value) on every blade."""
    blade = dict(copy.deepcopy(BLADE), **changes)
    blades = blades or {"b1": blade, "b2": copy.deepcopy(blade)}
    first = next(iter(blades.values()))
    return cluster_check(
        GUESTS if guests is None else guests,
        cluster,
        blades,
        first.get("network_partitions", []),
        first.get("storage_golden_images", []),
        first.get("storage_pools", []),
    )


def partitions(index, **entry):
    changed = copy.deepcopy(BLADE["network_partitions"])
    changed[index].update(entry)
    return changed


def test_the_filter_is_registered_and_a_good_inventory_has_no_problems():
    assert FilterModule().filters()["cluster_check"] is cluster_check
    assert check() == []


@pytest.mark.parametrize(
    "changes, problem",
    [
        (
            {"network_partitions": partitions(1, vlan=0)},
            f"network_partitions[1].vlan: 0 is not a valid VLAN ID {VLAN_RULE}",
        ),
        (
            {"network_partitions": partitions(1, vlan=4095)},
            f"network_partitions[1].vlan: 4095 is not a valid VLAN ID {VLAN_RULE}",
        ),
        (
            {"network_partitions": partitions(0, subnet="10.0.1.128/25")},
            "network_partitions: overlapping networks: shared 10.0.1.128/25 and office 10.0.1.0/24 "
            "(each network must be disjoint from the others)",
        ),
        (
            {"network_partitions": partitions(1, vlan=100)},
            "network_partitions: VLAN ID 100 is used by both 'shared' and 'office' "
            "(each partition needs its own)",
        ),
        (
            {"network_partitions": partitions(1, name="shared")},
            "network_partitions: name 'shared' is used by both 'shared' and 'shared' "
            "(each partition needs its own)",
        ),
        (
            {"network_partitions": partitions(1, mtu=40)},
            "network_partitions[1].mtu: 40 is not a valid MTU (allowed: integers 68-65535)",
        ),
        (
            {"network_partitions": partitions(1, name="a-very-long-name")},
            "network_partitions[1].name (as bridge name 'br-' + name): 'br-a-very-long-name' is not a "
            "valid interface name (at most 15 characters (kernel IFNAMSIZ))",
        ),
        (
            {"network_partitions": partitions(1, name="off ice")},
            "network_partitions[1].name: 'off ice' is not a valid partition name",
        ),
        (
            {"network_partitions": partitions(1, subnet="10.0.1.1/24")},
            "network_partitions[1].subnet: '10.0.1.1/24' has host bits set",
        ),
        (
            {"network_partitions": partitions(1, gateway="10.9.9.9")},
            "network_partitions[1].gateway: '10.9.9.9' is not in the partition's subnet 10.0.1.0/24",
        ),
        (
            {"network_partitions": partitions(1, vlan="zero")},
            "network_partitions[1]: argument 'vlan' is of type str and we were unable to convert to int",
        ),
        ({"network_partitions": partitions(1, colour="red")}, "network_partitions[1]: unknown key colour."),
        ({"network_trunk": []}, "network_trunk: needs at least one NIC"),
        ({"network_trunk": ["eno1", "eno1"]}, "network_trunk: ['eno1', 'eno1'] lists a NIC more than once"),
        ({"network_trunk_mtu": 1500}, "network_trunk_mtu: 1500 is below the largest partition MTU 9000"),
        (
            {"network_bond_mode": "round-robin"},
            "value of network_bond_mode must be one of: active-backup, 802.3ad, got: round-robin",
        ),
    ],
)
def test_partitions_are_checked(changes, problem):
    problems = check(guests=[], **changes)  # no guest, so a renamed partition is not missed
    assert len(problems) == 1 and problems[0].startswith(problem), problems


POOL = BLADE["storage_pools"][0]
IMAGE = BLADE["storage_golden_images"][0]


@pytest.mark.parametrize(
    "pool, problem",
    [
        ({"pvs": []}, "storage_pools[0].pvs: at least one device is required"),
        ({"pvs": ["vdb"]}, "storage_pools[0].pvs: 'vdb' is not a device path"),
        ({"vg": "vg guests"}, "storage_pools[0].vg: 'vg guests' is not a valid LVM VG name"),
        ({"pool": "snapshot1"}, "storage_pools[0].pool: 'snapshot1' is not a valid LVM LV name"),
        (
            {"size": "90%PVS"},
            "storage_pools[0].size: '90%PVS' is not a supported percentage (allowed here: N%VG, N%FREE)",
        ),
        (
            {"autoextend_threshold": 20},
            "storage_pools[0].autoextend_threshold: 20 is not a valid autoextend threshold",
        ),
        ({"chunk_size": "100k"}, "storage_pools[0].chunk_size: '100k' is out of range"),
        ({"max_overcommit": 0}, "storage_pools[0].max_overcommit: 0.0 is not a valid ratio"),
        (
            {"max_overcommit": "lots"},
            "storage_pools[0]: argument 'max_overcommit' is of type str and we were unable "
            "to convert to float",
        ),
        ({"vg": "drop"}, "storage_pools[0]: missing required arguments: vg"),
    ],
)
def test_pools_are_checked(pool, problem):
    pool = {key: value for key, value in dict(POOL, **pool).items() if value != "drop"}
    problems = check(storage_pools=[pool])
    assert len(problems) == 1 and problems[0].startswith(problem), problems


@pytest.mark.parametrize(
    "image, problem",
    [
        (
            {"format": "vmdk"},
            "storage_golden_images[0]: value of format must be one of: raw, qcow2, got: vmdk",
        ),
        (
            {"src": "img/deb.qcow2"},
            "storage_golden_images[0].src: 'img/deb.qcow2' is not an absolute path on the host",
        ),
        ({"version": "-1"}, "storage_golden_images[0].version: '-1' is not a valid image version"),
        ({"checksum": "md5:abc"}, "storage_golden_images[0].checksum: 'md5:abc' is not a supported checksum"),
        (
            {"name": "snapshot-deb"},
            "storage_golden_images[0].name: 'snapshot-deb' is not a valid LVM LV name",
        ),
        ({"size": "big"}, "storage_golden_images[0].size: 'big' is not a size"),
    ],
)
def test_golden_images_are_checked(image, problem):
    problems = check(guests=[], storage_golden_images=[dict(IMAGE, **image)])
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_an_image_needs_a_volume_group():
    problems = check(storage_pools=[])
    assert problems == [
        "storage_golden_images[0].vg: None is not a volume group (set it, or list a pool in "
        "storage_pools: images go to the first pool by default)"
    ]


@pytest.mark.parametrize(
    "guest, problem",
    [
        (
            {"name": "g" * 70},
            f"cluster_guests[0].name (the guest's hostname): '{'g' * 70}' cannot be a hostname (a DNS "
            "label has at most 63 characters, this has 70)",
        ),
        (
            {"name": "Web1"},
            "cluster_guests[0].name (the guest's hostname): 'Web1' cannot be a hostname (a DNS label "
            "allows a-z 0-9 and '-' only; found 'W')",
        ),
        ({"name": "web_1"}, "cluster_guests[0].name (the guest's hostname): 'web_1' cannot be a hostname"),
        (
            {"name": "-web"},
            "cluster_guests[0].name (the guest's hostname): '-web' cannot be a hostname (a DNS label "
            "must not start or end with '-')",
        ),
        ({"name": "web/1"}, "cluster_guests[0].name: 'web/1' is not a valid libvirt domain name"),
        ({"name": None}, "cluster_guests[0].name: None is not a valid libvirt domain name"),
        ({"image": "nope"}, "cluster_guests[0] (web1).image: 'nope' is not a golden image"),
        ({"partitions": ["hr"]}, "cluster_guests[0] (web1).partitions: 'hr' is not in network_partitions"),
        (
            {"blade": "b9"},
            "cluster_guests[0] (web1).blade: 'b9' is not a blade of this inventory (blades: b1, b2)",
        ),
        ({"colour": "red"}, "cluster_guests[0]: unknown key(s) colour"),
        ({"domain": {"memory": 1}}, "cluster_guests[0] (web1).domain: memory come from the cluster plan"),
        (
            {"vcpus": 0},
            "cluster_guests[0] (web1).vcpus: 0 is not a valid number of vCPUs (allowed: integers from 1)",
        ),
        ({"memory": -5}, "cluster_guests[0] (web1).memory: -5 is not a valid number of MiB"),
        ({"disk_size": "lots"}, "cluster_guests[0] (web1).disk_size: 'lots' is not a size"),
    ],
)
def test_guests_are_checked(guest, problem):
    problems = check(guests=[dict(GUESTS[0], **guest)])
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_guests_without_any_disk_size_and_listed_twice():
    images = [dict(IMAGE, size=None)]
    assert check(guests=[{"name": "x", "image": "deb"}], storage_golden_images=images) == [
        "cluster_guests[0] (x): no disk size; set its disk_size, or the size of golden image deb "
        "(placement counts it against the thin pool)"
    ]
    assert check(guests=[GUESTS[0], GUESTS[0]]) == [
        "cluster_guests[1].name: 'web1' is listed twice (guest names are unique)"
    ]


def test_the_cluster_name_names_a_file():
    assert check(cluster="a/b")[0].startswith("cluster_name: 'a/b' is not a valid libvirt domain name")


def test_every_problem_is_reported_at_once():
    problems = check(
        guests=[dict(GUESTS[0], name="g" * 70), dict(GUESTS[1], image="nope")],
        network_partitions=partitions(0, vlan=0),
        storage_pools=[dict(POOL, autoextend_threshold=20)],
        storage_golden_images=[dict(IMAGE, src="rel")],
    )
    assert [problem.split(":", maxsplit=1)[0] for problem in problems] == [
        "cluster_guests[0].name (the guest's hostname)",
        "cluster_guests[1] (db1).image",
        "network_partitions[0].vlan",
        "storage_pools[0].autoextend_threshold",
        "storage_golden_images[0].src",
    ]


def test_a_problem_of_some_blades_names_them():
    blades = {
        "b1": copy.deepcopy(BLADE),
        "b2": dict(copy.deepcopy(BLADE), network_partitions=partitions(0, vlan=0)),
        "b3": copy.deepcopy(BLADE),
    }
    assert check(blades=blades) == [f"b2: network_partitions[0].vlan: 0 is not a valid VLAN ID {VLAN_RULE}"]


def test_role_defaults_fill_in_what_a_blade_does_not_set():
    # The network role's bond name and bridge prefix apply, as they will in its play.
    blade = dict(copy.deepcopy(BLADE), network_bridge_prefix="bridge-to-")
    problems = check(blades={"b1": blade})
    assert problems[0].startswith(
        "network_partitions[0].name (as bridge name 'bridge-to-' + name): "
        "'bridge-to-shared' is not a valid interface name"
    ), problems
    assert check(blades={"b1": {"blade_capacity": CAPACITY}}, guests=[]) == [
        "network_trunk: needs at least one NIC"
    ]


def test_the_checked_variables_are_the_roles_own():
    # The rules come from the roles' argument specs: a new option there is checked here too.
    for role, prefix in inventory.CHECKED.items():
        with open(f"{inventory.ROLES}/{role}/meta/argument_specs.yml") as handle:
            options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
        assert set(inventory.role_spec(role)) == set(options) - set(inventory.PLANNED)
        assert all(name.startswith(prefix) for name in options)


def test_the_network_roles_own_check_returns_its_problem_as_data():
    # The network role on its own (outside site.yml) fails with the message alone too.
    trunk = BLADE["network_trunk"]
    assert network_layout(partitions(0, vlan=0), trunk, errors="return") == {
        "errors": [f"network_partitions[0].vlan: 0 is not a valid VLAN ID {VLAN_RULE}"]
    }
    assert network_layout(partitions(0, subnet="10.0.1.128/25"), trunk, errors="return")["errors"] == [
        "network_partitions: overlapping networks: shared 10.0.1.128/25 and office 10.0.1.0/24 "
        "(each network must be disjoint from the others)"
    ]
    assert "errors" not in network_layout(BLADE["network_partitions"], trunk, errors="return")


def test_a_type_error_does_not_hide_the_other_items_problems():
    # One pool with a bad type, another breaking a module rule; an image breaking its rule.
    pools = [dict(POOL, max_overcommit="lots"), dict(POOL, vg="vg2", autoextend_threshold=20)]
    problems = check(
        guests=[],
        storage_pools=pools,
        storage_golden_images=[dict(IMAGE, src="rel")],
        network_partitions=partitions(0, vlan="zero") + [{"name": "x", "vlan": 0, "subnet": "10.9.0.0/24"}],
    )
    assert [problem.split(":", maxsplit=1)[0] for problem in problems] == [
        "network_partitions[0]",
        "network_partitions[2].vlan",
        "storage_pools[0]",
        "storage_pools[1].autoextend_threshold",
        "storage_golden_images[0].src",
    ]
