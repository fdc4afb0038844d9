# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of bridge, VLAN and bond input (before any command), and the unit-file renderer."""

from __future__ import annotations

import re

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._net import units
from ansible_collections.openblade.kvm.plugins.module_utils._net.links import (
    BondSpec,
    BridgeSpec,
    VlanSpec,
)
from ansible_collections.openblade.kvm.plugins.module_utils._net.management import (
    Probe,
    management_address,
)
from ansible_collections.openblade.kvm.plugins.module_utils._net.observe import Snapshot
from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError


@pytest.mark.parametrize("build, message", [
    (lambda: VlanSpec("trunk0", 0),
     "vlan_id: 0 is not a valid VLAN ID (allowed: integers 1-4094; the kernel also accepts 0"),
    (lambda: VlanSpec("trunk0", 4095), "vlan_id: 4095 is not a valid VLAN ID (allowed: integers 1-4094"),
    (lambda: VlanSpec("trunk0", "ten"), "vlan_id: 'ten' is not a valid VLAN ID"),
    (lambda: VlanSpec("trunk0", 7, name="sixteen-chars-xx"),
     "name: 'sixteen-chars-xx' is not a valid interface name (at most 15 characters (kernel IFNAMSIZ))"),
    # parent.vlan is 16 characters here although both parts are valid on their own.
    (lambda: VlanSpec("enp129s0f10", 4000),
     "name (derived as parent.vlan_id): 'enp129s0f10.4000' is not a valid interface name "
     "(at most 15 characters"),
    (lambda: VlanSpec("trunk 0", 7), "parent: 'trunk 0' is not a valid interface name"),
    (lambda: VlanSpec("trunk0", 7, mtu=67), "mtu: 67 is not a valid MTU (allowed: integers 68-65535)"),
    (lambda: VlanSpec("trunk0", 7, mtu=70000), "mtu: 70000 is not a valid MTU"),
    (lambda: BridgeSpec("br-sixteen-chars"), "name: 'br-sixteen-chars' is not a valid interface name"),
    (lambda: BridgeSpec("br0", ports=["eth0", "eth0"]), "ports: eth0 listed more than once"),
    (lambda: BridgeSpec("br0", ports=["br0"]), "ports: 'br0' cannot be part of itself"),
    (lambda: BridgeSpec("br0", addresses=["10.0.0.0/24"]),
     "addresses[0]: '10.0.0.0/24' is not a host address (it is the network or broadcast address"),
    (lambda: BridgeSpec("br0", addresses=["10.0.0.1"]),
     "addresses[0]: '10.0.0.1' is not an interface address"),
    (lambda: BridgeSpec("br0", gateway="10.0.0.254"), "gateway: 10.0.0.254 needs an address on the bridge"),
    (lambda: BondSpec("bond0", []), "members: a bond needs at least one member interface"),
    (lambda: BondSpec("bond0", ["eth0"], mode="balance-rr"),
     "mode: 'balance-rr' is not a valid choice (allowed: 'active-backup', '802.3ad')"),
    (lambda: BondSpec("bond0", ["eth0"], miimon=-1), "miimon: -1 is not a valid link monitoring interval"),
    (lambda: BondSpec("bond0", ["eth0"], xmit_hash_policy="layer3+4"),
     "xmit_hash_policy: 'layer3+4' applies to mode 802.3ad only, not active-backup"),
])
def test_bad_input_is_refused_naming_the_value_and_the_rule(build, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        build()


def test_vlan_name_defaults_to_parent_dot_id():
    spec = VlanSpec("bond0", 101)
    assert (spec.name, spec.parent, spec.vlan_id) == ("bond0.101", "bond0", 101)
    assert spec.lower_links() == ["bond0"]


def test_bridge_files_carry_addresses_and_gateway_only_when_asked():
    spec = BridgeSpec("br-mgmt", stp=True, mtu=9000, ports=["eno1"], addresses=["192.0.2.10/24"],
                      gateway="192.0.2.1")
    network = units.render(spec.owner, spec.network_sections())
    assert network == (
        "# Managed by openblade.kvm (bridge br-mgmt); local edits are overwritten.\n"
        "[Match]\nName=br-mgmt\n\n"
        "[Network]\nLinkLocalAddressing=no\nIPv6AcceptRA=no\nConfigureWithoutCarrier=yes\n"
        "Address=192.0.2.10/24\nGateway=192.0.2.1\n\n"
        # With an address, the bridge counts for wait-online (a partition bridge does not).
        "[Link]\nMTUBytes=9000\n")
    assert "[Bridge]\nSTP=yes\n" in units.render(spec.owner, spec.netdev_sections())


def test_bond_802_3ad_renders_its_hash_policy():
    spec = BondSpec("bond0", ["eno1", "eno2"], mode="802.3ad", miimon=50, xmit_hash_policy="layer3+4",
                    scope="partitions")
    assert units.render(spec.owner, spec.netdev_sections()) == (
        "# Managed by openblade.kvm (partitions: bond bond0); local edits are overwritten.\n"
        "[NetDev]\nName=bond0\nKind=bond\n\n"
        "[Bond]\nMode=802.3ad\nMIIMonitorSec=50ms\nTransmitHashPolicy=layer3+4\n")
    assert spec.runtime({"eno1"}) == {"kind": "bond", "mode": "802.3ad", "miimon": 50, "members": ["eno1"],
                                      "xmit_hash_policy": "layer3+4"}


def test_unit_file_helpers():
    text = units.render("link eno1", [("Match", [("Name", "eno1")]), ("Network", []),
                                      ("Link", [("RequiredForOnline", False)])])
    assert text == ("# Managed by openblade.kvm (link eno1); local edits are overwritten.\n"
                    "[Match]\nName=eno1\n\n[Link]\nRequiredForOnline=no\n")
    assert units.is_ours(text) and not units.is_ours("[Match]\nName=eno1\n") and not units.is_ours(None)
    assert units.owner_of(text) == "link eno1"
    assert units.values(text, "Match", "Name") == ["eno1"]


@pytest.mark.parametrize("environ, option, expected", [
    ({"SSH_CONNECTION": "10.0.2.2 50000 10.0.2.15 22"}, None, "10.0.2.15"),
    ({"SSH_CONNECTION": "fd00::2 50000 fd00::15 22"}, None, "fd00::15"),
    ({}, None, None),  # a local connection: only the default route marks the path
    ({"SSH_CONNECTION": "10.0.2.2 50000 10.0.2.15 22"}, "192.0.2.10", "192.0.2.10"),
])
def test_management_address(environ, option, expected):
    assert management_address(option, environ) == expected


@pytest.mark.parametrize("target, shown", [
    ("10.0.2.2", "ping 10.0.2.2"),
    ("10.0.2.2:22", "TCP connect to 10.0.2.2:22"),
    ("[fd00::1]:22", "TCP connect to [fd00::1]:22"),
    ("fd00::1", "ping fd00::1"),
])
def test_probe_targets(target, shown):
    assert str(Probe(target)) == shown


@pytest.mark.parametrize("target, message", [
    ("gateway.example", "probe: 'gateway.example' is not an IP address"),
    ("10.0.2.2:0", "probe: '10.0.2.2:0' has an invalid port (allowed: 1-65535)"),
    ("[fd00::1]", "is not an address or address:port"),
])
def test_bad_probe_targets(target, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        Probe(target)


def test_a_link_local_ipv6_gateway_is_probed_on_its_link():
    snapshot = Snapshot({}, [{"dev": "mgmt0", "gateway": "fe80::1", "family": "inet6"}])
    assert str(Probe(snapshot.gateway())) == "ping fe80::1%mgmt0"
    assert Snapshot({}, [{"dev": "mgmt0", "gateway": "10.0.2.1", "family": "inet"},
                         {"dev": "mgmt0", "gateway": "fe80::1", "family": "inet6"}]).gateway() == "10.0.2.1"
