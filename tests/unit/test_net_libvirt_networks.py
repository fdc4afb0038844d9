# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt networks of forward mode bridge, against libvirt's test:///default driver."""

from __future__ import annotations

import re

import libvirt
import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import Hypervisor
from ansible_collections.openblade.kvm.plugins.module_utils._net.libvirt_networks import (
    LibvirtNetworks,
    network_uuid,
)
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
    reconcile,
)
from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError


@pytest.fixture
def conn():
    # test:///default keeps its state per process: remove what a test left behind.
    connection = libvirt.open("test:///default")
    yield connection
    for network in connection.listAllNetworks():
        if network.name().startswith("obt-"):
            if network.isActive():
                network.destroy()
            network.undefine()


def resource(conn, tmp_path, networks, prune=False):
    return LibvirtNetworks(lambda: Hypervisor(connection=conn), networks, prune=prune,
                           lock_dir=str(tmp_path / "lock"))


def check_then_apply(conn, tmp_path, networks, prune=False):
    checked = reconcile(resource(conn, tmp_path, networks, prune), check_mode=True, diff_mode=True)
    real = reconcile(resource(conn, tmp_path, networks, prune), diff_mode=True)
    assert (checked["changed"], checked["actions"], checked["diff"]) == (
        real["changed"], real["actions"], real["diff"])
    return real


def test_define_start_autostart_then_nothing(conn, tmp_path):
    nets = [{"name": "obt-sales", "bridge": "br-sales"}, {"name": "obt-hr", "bridge": "br-hr"}]
    result = check_then_apply(conn, tmp_path, nets)
    assert result["actions"] == [
        "define libvirt network obt-hr (forward mode bridge on br-hr)",
        "enable autostart of libvirt network obt-hr",
        "start libvirt network obt-hr",
        "define libvirt network obt-sales (forward mode bridge on br-sales)",
        "enable autostart of libvirt network obt-sales",
        "start libvirt network obt-sales",
    ]
    sales = conn.networkLookupByName("obt-sales")
    assert sales.UUIDString() == network_uuid("obt-sales")
    assert "<forward mode='bridge'/>" in sales.XMLDesc(0) and "<bridge name='br-sales'/>" in sales.XMLDesc(0)
    assert (sales.isActive(), sales.autostart()) == (1, 1)
    assert result["diff"]["before"] == {"obt-hr": None, "obt-sales": None}
    assert reconcile(resource(conn, tmp_path, nets)) == {"changed": False, "actions": [],
                                                         "networks": ["obt-hr", "obt-sales"]}


def test_a_new_bridge_redefines_and_restarts(conn, tmp_path):
    reconcile(resource(conn, tmp_path, [{"name": "obt-sales", "bridge": "br-sales"}]))
    result = check_then_apply(conn, tmp_path, [{"name": "obt-sales", "bridge": "br-sales2"}])
    assert result["actions"] == [
        "stop libvirt network obt-sales to redefine it",
        "redefine libvirt network obt-sales (forward mode bridge on br-sales2)",
        "start libvirt network obt-sales",
    ]
    assert "<bridge name='br-sales2'/>" in conn.networkLookupByName("obt-sales").XMLDesc(0)


def test_a_stopped_network_is_started(conn, tmp_path):
    reconcile(resource(conn, tmp_path, [{"name": "obt-sales", "bridge": "br-sales"}]))
    conn.networkLookupByName("obt-sales").destroy()
    result = check_then_apply(conn, tmp_path, [{"name": "obt-sales", "bridge": "br-sales"}])
    assert result["actions"] == ["start libvirt network obt-sales"]


def test_a_network_defined_by_someone_else_is_refused(conn, tmp_path):
    conn.networkDefineXML("<network><name>obt-lab</name><forward mode='bridge'/>"
                          "<bridge name='br-lab'/></network>")
    with pytest.raises(ReconcileError, match="obt-lab exist but were not defined by openblade.kvm"):
        reconcile(resource(conn, tmp_path, [{"name": "obt-lab", "bridge": "br-lab"}]), check_mode=True)


def test_prune_removes_only_our_unlisted_networks(conn, tmp_path):
    both = [{"name": "obt-a", "bridge": "br-a"}, {"name": "obt-b", "bridge": "br-b"}]
    reconcile(resource(conn, tmp_path, both))
    conn.networkDefineXML("<network><name>obt-theirs</name><forward mode='bridge'/>"
                          "<bridge name='br-t'/></network>")
    result = check_then_apply(conn, tmp_path, [{"name": "obt-a", "bridge": "br-a"}], prune=True)
    assert result["actions"] == ["stop libvirt network obt-b", "remove libvirt network obt-b"]
    names = {network.name() for network in conn.listAllNetworks()}
    assert {"obt-a", "obt-theirs"} <= names and "obt-b" not in names


@pytest.mark.parametrize("networks, message", [
    ([{"name": "a/b", "bridge": "br0"}], "networks[0].name: 'a/b' is not a valid network name"),
    ([{"name": "obt-a", "bridge": "br-much-too-long"}], "networks[0].bridge: 'br-much-too-long' is not a "
     "valid interface name"),
    ([{"name": "obt-a", "bridge": "br0"}, {"name": "obt-a", "bridge": "br1"}],
     "'obt-a' is listed more than once"),
])
def test_bad_networks_are_refused_before_connecting(networks, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        LibvirtNetworks(lambda: pytest.fail("connected despite bad input"), networks)
