# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The partition layout (validation shared by the role's filter and the module), the
partitions resource (check == real, idempotence, prune) and the network_layout filter."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.openblade.kvm.plugins.filter.network_layout import network_layout
from ansible_collections.openblade.kvm.plugins.module_utils._net.partitions import (
    Partitions,
    partition_layout,
    partition_specs,
)
from ansible_collections.openblade.kvm.plugins.module_utils._net.units import Layout
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import reconcile
from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError
from ansible_collections.openblade.kvm.tests.unit.net_host import FakeClock, FakeNetHost, lab_links, link

PARTS = [{"name": "shared", "vlan": 100, "subnet": "10.77.0.0/24", "shared": True},
         {"name": "sales", "vlan": 101, "subnet": "10.77.1.0/24"},
         {"name": "hr", "vlan": 102, "subnet": "10.77.2.0/24"}]


def with_change(index, **change):
    parts = [dict(part) for part in PARTS]
    parts[index].update(change)
    return parts


@pytest.mark.parametrize("trunk, parts, kwargs, message", [
    (["eno1"], with_change(1, vlan=0), {}, "partitions[1].vlan: 0 is not a valid VLAN ID"),
    (["eno1"], with_change(1, vlan=4095), {}, "partitions[1].vlan: 4095 is not a valid VLAN ID"),
    (["eno1"], with_change(2, vlan=100), {},
     "partitions: VLAN ID 100 is used by both 'shared' and 'hr' (each partition needs its own)"),
    (["eno1"], with_change(2, name="sales"), {},
     "partitions: name 'sales' is used by both 'sales' and 'sales'"),
    (["eno1"], with_change(2, subnet="10.77.1.128/25"), {},
     "overlapping networks: sales 10.77.1.0/24 and hr 10.77.1.128/25 (each network must be disjoint"),
    (["eno1"], with_change(1, subnet="10.77.1.1/24"), {},
     "partitions[1].subnet: '10.77.1.1/24' has host bits set"),
    (["eno1"], with_change(1, name="engineering-lab"), {},
     "partitions[1].name (as bridge name 'br-' + name): 'br-engineering-lab' is not a valid interface "
     "name (at most 15 characters (kernel IFNAMSIZ))"),
    (["enp129s0f10"], with_change(1, vlan=4000), {},
     "partitions[1].vlan (as VLAN interface trunk.vlan): 'enp129s0f10.4000' is not a valid interface name"),
    (["eno1"], with_change(1, name="sales dept"), {}, "partitions[1].name: 'sales dept' is not a valid "
     "partition name"),
    (["eno1"], with_change(1, host_address="10.77.2.5/24"), {},
     "partitions[1].host_address: '10.77.2.5/24' is not in the partition's subnet 10.77.1.0/24"),
    (["eno1"], with_change(1, colour="red"), {}, "partitions[1]: unknown key(s) colour"),
    (["eno1", "eno1"], PARTS, {}, "trunk: ['eno1', 'eno1'] lists a NIC more than once"),
    ([], PARTS, {}, "trunk: needs at least one NIC"),
    (["eno1"], PARTS, {"trunk_mtu": 9000}, "trunk_mtu: needs a bond (two or more trunk NICs)"),
    (["eno1", "eno2"], with_change(1, mtu=9000), {"trunk_mtu": 1500},
     "trunk_mtu: 1500 is below the largest partition MTU 9000"),
])
def test_bad_layouts_are_refused_with_the_values_and_the_rule(trunk, parts, kwargs, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        partition_layout(trunk, parts, **kwargs)
    with pytest.raises(AnsibleFilterError, match=re.escape("openblade.kvm.network_layout: " + message)):
        network_layout(parts, trunk, **kwargs)


def test_layout_of_a_bonded_trunk():
    layout = partition_layout(["eno1", "eno2"], with_change(1, mtu=9000, host_address="10.77.1.1/24"))
    assert layout["trunk"] == "bond0"
    assert layout["bond"] == {"name": "bond0", "members": ["eno1", "eno2"], "mode": "active-backup",
                              "miimon": 100, "xmit_hash_policy": None, "mtu": 9000}
    assert [(p["bridge"], p["vlan_interface"], p["host_address"]) for p in layout["partitions"]] == [
        ("br-shared", "bond0.100", None), ("br-sales", "bond0.101", "10.77.1.1/24"),
        ("br-hr", "bond0.102", None)]
    specs = partition_specs(layout)
    assert [(type(s).__name__, s.name) for s in specs] == [
        ("BondSpec", "bond0"), ("VlanSpec", "bond0.100"), ("BridgeSpec", "br-shared"),
        ("VlanSpec", "bond0.101"), ("BridgeSpec", "br-sales"), ("VlanSpec", "bond0.102"),
        ("BridgeSpec", "br-hr")]
    assert specs[4].addresses == ["10.77.1.1/24"] and specs[2].addresses == []
    assert specs[0].owner == "partitions: bond bond0"


def test_single_nic_trunk_has_no_bond():
    layout = partition_layout(["eno1"], PARTS)
    assert (layout["trunk"], layout["bond"]) == ("eno1", None)
    assert [s.name for s in partition_specs(layout)][:2] == ["eno1.100", "br-shared"]


def test_filter_adds_what_the_role_hands_on():
    layout = network_layout(PARTS, ["eno1", "eno2"])
    assert layout["libvirt_networks"] == [{"name": "shared", "bridge": "br-shared"},
                                          {"name": "sales", "bridge": "br-sales"},
                                          {"name": "hr", "bridge": "br-hr"}]
    assert layout["partition_map"]["shared"]["shared"] is True
    assert layout["partition_map"]["sales"]["network"] == "sales"


PARAMS = dict(trunk=["trunk0", "trunk1"], partitions=PARTS[1:], bond_name="bond0", bond_mode="active-backup",
              bond_miimon=100, bond_xmit_hash_policy=None, trunk_mtu=None, bridge_prefix="br-", prune=False)


def built(base, partitions):
    """The kernel once networkd built the bond, the partitions' VLANs and bridges."""
    links = [dict(item, master="bond0") if item["name"] in ("trunk0", "trunk1") else item
             for item in lab_links(base)]
    links.append(link("bond0", kind="bond", info={"mode": "active-backup", "miimon": 100},
                      network_file=f"{base}/05-openblade-bond0.network"))
    for part in partitions:
        vlan, bridge = f"bond0.{part['vlan']}", f"br-{part['name']}"
        links.append(link(vlan, kind="vlan", parent="bond0", vlan_id=part["vlan"], master=bridge,
                          network_file=f"{base}/05-openblade-{vlan}.network"))
        links.append(link(bridge, kind="bridge", info={"stp_state": 0},
                          network_file=f"{base}/05-openblade-{bridge}.network"))
    return links


def partitions(host, tmp_path, **params):
    clock = FakeClock()
    return Partitions(host, dict(PARAMS, **params), layout=Layout(str(tmp_path / "etc")),
                      environ={"SSH_CONNECTION": "10.0.2.2 1 10.0.2.15 22"},
                      backup_root=str(tmp_path / "backups"), lock_dir=str(tmp_path / "lock"),
                      clock=clock, sleep=clock.sleep)


def test_partitions_check_mode_predicts_the_real_run_and_a_rerun_changes_nothing(tmp_path):
    base = str(tmp_path / "etc")
    host = FakeNetHost(lab_links(base), after=built(base, PARTS[1:]), accept=[["networkctl", "reload"]])
    checked = reconcile(partitions(host, tmp_path), check_mode=True)
    result = reconcile(partitions(host, tmp_path))
    assert (checked["changed"], checked["actions"]) == (result["changed"], result["actions"])
    # One reload for the bond, both VLANs and both bridges.
    assert result["actions"].count("reload systemd-networkd (networkctl reload)") == 1
    # bond: 2 files + 2 per member; each partition: 3 for its VLAN, 3 for its bridge.
    assert len([a for a in result["actions"] if a.startswith("create")]) == 2 + 4 + 2 * 6
    assert result["partitions"]["trunk"] == "bond0"
    assert result["interfaces"]["br-sales"] == {"kind": "bridge", "stp": False, "ports": ["bond0.101"],
                                                "addresses": []}
    again = reconcile(partitions(host, tmp_path))
    assert (again["changed"], again["actions"]) == (False, [])


def test_prune_removes_only_what_partitions_created(tmp_path):
    base = str(tmp_path / "etc")
    host = FakeNetHost(lab_links(base), after=built(base, PARTS[1:]), accept=[["networkctl", "reload"]])
    reconcile(partitions(host, tmp_path))
    # hr goes from the inventory; a bridge made by the bridge module is not the partitions module's.
    (tmp_path / "etc/05-openblade-br-other.netdev").write_text(
        "# Managed by openblade.kvm (bridge br-other); local edits are overwritten.\n")
    remaining = [link for link in built(base, PARTS[1:2]) if link["name"] not in ("br-hr", "bond0.102")]
    host = FakeNetHost(built(base, PARTS[1:]) + [link("br-other", kind="bridge")], after=remaining,
                       accept=[["networkctl", "reload"], ["ip", "link", "delete", "dev"]])
    kept = reconcile(partitions(host, tmp_path, partitions=PARTS[1:2]), check_mode=True)
    assert kept["changed"] is False  # without prune, hr stays
    result = reconcile(partitions(host, tmp_path, partitions=PARTS[1:2], prune=True))
    assert [a for a in result["actions"] if a.startswith("delete")] == ["delete bridge br-hr",
                                                                        "delete vlan bond0.102"]
    assert sorted(p.name for p in (tmp_path / "etc").glob("*.netdev")) == [
        "05-openblade-bond0.101.netdev", "05-openblade-bond0.netdev", "05-openblade-br-other.netdev",
        "05-openblade-br-sales.netdev"]
    assert not (tmp_path / "etc/05-openblade-bond0.network.d/openblade-vlan-bond0.102.conf").exists()
    assert result["interfaces"]["br-hr"] is None


def test_prune_reads_what_is_stale_under_the_lock(tmp_path):
    """Run B (prune) is built while run A still holds the lock; A then creates hr.  B must
    prune hr too: it reads the stale devices when it observes, not when it is built."""
    base = str(tmp_path / "etc")
    waiting = partitions(FakeNetHost(lab_links(base)), tmp_path, partitions=PARTS[1:2], prune=True)
    host = FakeNetHost(lab_links(base), after=built(base, PARTS[1:]), accept=[["networkctl", "reload"]])
    reconcile(partitions(host, tmp_path))  # run A: sales and hr
    remaining = [link for link in built(base, PARTS[1:2]) if link["name"] not in ("br-hr", "bond0.102")]
    waiting.runner = host = FakeNetHost(built(base, PARTS[1:]), after=remaining,
                                        accept=[["networkctl", "reload"], ["ip", "link", "delete", "dev"]])
    result = reconcile(waiting)
    assert [a for a in result["actions"] if a.startswith("delete")] == ["delete bridge br-hr",
                                                                        "delete vlan bond0.102"]
