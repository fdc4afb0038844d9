"""The lab itself: blades boot the way the rest of the suite relies on."""

from __future__ import annotations

import itertools

import pytest

# Addresses for this test exist only on the lab's isolated trunk segment.
TEST_VLAN = 3999
TEST_NET = "10.255.199"


def test_management_has_no_default_route(blades):
    # With slirp restrict=on nothing lies beyond mgmt0; a default route would be a lie.
    for blade in blades:
        assert blade.run("ip -j route show default").stdout.strip() in ("", "[]"), blade


def test_each_blade_has_its_own_machine_id_and_hostname(blades):
    ids = {blade.run("cat /etc/machine-id").stdout.strip() for blade in blades}
    names = {blade.run("hostname").stdout.strip() for blade in blades}
    assert len(ids) == len(blades)
    assert names == {blade.name for blade in blades}


def test_data_disk_is_present_and_unused(blades):
    for blade in blades:
        lsblk = blade.run("lsblk -dno NAME,SERIAL,SIZE /dev/vdb").stdout.split()
        assert lsblk[:2] == ["vdb", "bladedata"], lsblk


def test_tagged_frames_cross_the_trunk(blades):
    if len(blades) < 2:
        pytest.fail("this test needs two blades: lab/lab up --blades 2")
    vlan_if = f"trunk0.{TEST_VLAN}"
    try:
        for n, blade in enumerate(blades, start=1):
            blade.run(f"ip link set trunk0 up && ip link add link trunk0 name {vlan_if} type vlan "
                      f"id {TEST_VLAN} && ip addr add {TEST_NET}.{n}/24 dev {vlan_if} && "
                      f"ip link set {vlan_if} up")
        for (_a, blade_a), (b, _blade_b) in itertools.permutations(enumerate(blades, start=1), 2):
            ping = blade_a.run(f"ping -c 2 -W 3 -I {vlan_if} {TEST_NET}.{b}", check=False)
            assert ping.returncode == 0, f"{blade_a} cannot reach blade {b} on VLAN {TEST_VLAN}"
        # A frame on another VLAN ID must not arrive: the tag is carried, not stripped.
        blades[0].run(f"ip link add link trunk0 name trunk0.3998 type vlan id 3998 && "
                      f"ip addr add {TEST_NET}.101/24 dev trunk0.3998 && ip link set trunk0.3998 up "
                      f"&& ip addr flush dev {vlan_if}")
        ping = blades[0].run(f"ping -c 2 -W 2 -I trunk0.3998 {TEST_NET}.2", check=False)
        assert ping.returncode != 0, "a frame tagged 3998 reached an interface on VLAN 3999"
    finally:
        for blade in blades:
            blade.run(f"ip link del {vlan_if}; ip link del trunk0.3998; ip link set trunk0 down",
                      check=False)


def test_modules_run_on_blades_through_ansible(blades):
    # The harness the storage and network suites use: a real module over SSH.
    result = blades[0].module("hypervisor_info", {})
    assert result["changed"] is False
    facts = result["hypervisor"]
    assert facts["libvirt_version"].startswith("9.")
    assert facts["can_run_guests"] is True
    assert facts["cpu_count"] >= 1
