# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bridges, VLANs and bonds end to end on a fake host: files, actions, check == real,
idempotence, runtime repairs and the refusals that come before any change."""

from __future__ import annotations

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._net import observe as obs
from ansible_collections.openblade.kvm.plugins.module_utils._net.links import (
    BondSpec,
    BridgeSpec,
    VlanSpec,
)
from ansible_collections.openblade.kvm.plugins.module_utils._net.units import is_ours
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
    reconcile,
)
from ansible_collections.openblade.kvm.tests.unit.net_host import (
    FakeNetHost,
    lab_links,
    link,
    resource,
)

RELOAD = [["networkctl", "reload"]]
READS = {tuple(argv) for argv in obs.OBSERVE_COMMANDS} | {tuple(obs.NETWORKD_ACTIVE)}


def etc(tmp_path, name=""):
    return str(tmp_path / "etc" / name) if name else str(tmp_path / "etc")


def check_then_apply(host, make):
    """Check mode first (it must run nothing but reads), then the real run: same plan."""
    checked = reconcile(make(), check_mode=True, diff_mode=True)
    assert set(host.calls) <= READS, f"check mode ran {set(host.calls) - READS}"
    real = reconcile(make(), diff_mode=True)
    assert (checked["changed"], checked["actions"]) == (real["changed"], real["actions"])
    assert checked["diff"] == real["diff"]
    return real


def bridge_after(tmp_path, stp=0, **extra):
    return lab_links(etc(tmp_path),
                     link("br-sales", kind="bridge", info={"stp_state": stp},
                          network_file=etc(tmp_path, "05-openblade-br-sales.network"), **extra))


def test_new_partition_bridge_on_a_nic(tmp_path):
    after = [dict(item, master="br-sales") if item["name"] == "trunk0" else item
             for item in bridge_after(tmp_path)]
    host = FakeNetHost(lab_links(etc(tmp_path)), after=after, accept=RELOAD)

    def make():
        return resource(host, tmp_path, [BridgeSpec("br-sales", ports=["trunk0"])])

    result = check_then_apply(host, make)
    base = etc(tmp_path)
    assert result["actions"] == [
        f"create {base}/05-openblade-br-sales.netdev",
        f"create {base}/05-openblade-br-sales.network",
        f"create {base}/05-openblade-trunk0.network",
        f"create {base}/05-openblade-trunk0.network.d/openblade-bridge-br-sales.conf",
        "reload systemd-networkd (networkctl reload)",
        "wait until the running state of br-sales matches (up to 60s)",
    ]
    assert (tmp_path / "etc/05-openblade-br-sales.netdev").read_text() == (
        "# Managed by openblade.kvm (bridge br-sales); local edits are overwritten.\n"
        "[NetDev]\nName=br-sales\nKind=bridge\n\n[Bridge]\nSTP=no\n")
    assert (tmp_path / "etc/05-openblade-br-sales.network").read_text() == (
        "# Managed by openblade.kvm (bridge br-sales); local edits are overwritten.\n"
        "[Match]\nName=br-sales\n\n"
        "[Network]\nLinkLocalAddressing=no\nIPv6AcceptRA=no\nConfigureWithoutCarrier=yes\n\n"
        "[Link]\nRequiredForOnline=no\n")
    assert (tmp_path / "etc/05-openblade-trunk0.network.d/openblade-bridge-br-sales.conf").read_text() == (
        "# Managed by openblade.kvm (bridge br-sales on trunk0); local edits are overwritten.\n"
        "[Network]\nBridge=br-sales\n")
    # The diff shows the files line by line and the runtime before and after.
    assert result["diff"]["before"]["runtime"] == {"br-sales": None}
    assert result["diff"]["after"]["runtime"] == {
        "br-sales": {"kind": "bridge", "stp": False, "ports": ["trunk0"], "addresses": []}}
    assert result["diff"]["after"]["files"][f"{base}/05-openblade-trunk0.network"][1:] == [
        "[Match]", "Name=trunk0", "", "[Network]", "LinkLocalAddressing=no", "IPv6AcceptRA=no", "",
        "[Link]", "RequiredForOnline=no"]
    assert result["management"]["touched"] == []
    assert result["backup_dir"].startswith(str(tmp_path / "backups"))

    host.calls.clear()
    again = reconcile(make())
    assert (again["changed"], again["actions"]) == (False, [])
    assert set(host.calls) <= READS


def test_vlan_on_a_trunk_nic_then_its_bridge(tmp_path):
    vlan_after = lab_links(etc(tmp_path), link("trunk0.101", kind="vlan", parent="trunk0", vlan_id=101,
                                               network_file=etc(tmp_path, "05-openblade-trunk0.101.network")))
    host = FakeNetHost(lab_links(etc(tmp_path)), after=vlan_after, accept=RELOAD)
    result = check_then_apply(host, lambda: resource(host, tmp_path, [VlanSpec("trunk0", 101)]))
    base = etc(tmp_path)
    assert result["actions"][:4] == [
        f"create {base}/05-openblade-trunk0.101.netdev",
        f"create {base}/05-openblade-trunk0.101.network",
        f"create {base}/05-openblade-trunk0.network",
        f"create {base}/05-openblade-trunk0.network.d/openblade-vlan-trunk0.101.conf",
    ]
    assert "[VLAN]\nId=101\n" in (tmp_path / "etc/05-openblade-trunk0.101.netdev").read_text()

    # The bridge's drop-in on the VLAN does not touch the VLAN's own file.
    own = (tmp_path / "etc/05-openblade-trunk0.101.network").read_text()
    bridged = [dict(item, master="br-sales") if item["name"] == "trunk0.101" else item
               for item in vlan_after] + [link("br-sales", kind="bridge", info={"stp_state": 0},
                                               network_file=etc(tmp_path, "05-openblade-br-sales.network"))]
    host = FakeNetHost(vlan_after, after=bridged, accept=RELOAD)
    result = check_then_apply(
        host, lambda: resource(host, tmp_path, [BridgeSpec("br-sales", ports=["trunk0.101"])]))
    dropin = f"{base}/05-openblade-trunk0.101.network.d/openblade-bridge-br-sales.conf"
    assert f"create {dropin}" in result["actions"]
    assert (tmp_path / "etc/05-openblade-trunk0.101.network").read_text() == own

    # Removing the VLAN while the bridge still uses it is refused, naming the bridge.
    host = FakeNetHost(bridged)
    with pytest.raises(ReconcileError, match="cannot remove vlan trunk0.101: bridge br-sales on trunk0.101"):
        reconcile(resource(host, tmp_path, [VlanSpec("trunk0", 101, state="absent")]), check_mode=True)


def test_removing_a_bridge_removes_its_files_and_the_nic_skeleton(tmp_path):
    created = [dict(item, master="br-sales") if item["name"] == "trunk0" else item
               for item in bridge_after(tmp_path)]
    host = FakeNetHost(lab_links(etc(tmp_path)), after=created, accept=RELOAD)
    reconcile(resource(host, tmp_path, [BridgeSpec("br-sales", ports=["trunk0"])]))

    host = FakeNetHost(created, after=lab_links(etc(tmp_path)), accept=RELOAD,
                       table={("ip", "link", "delete", "dev", "br-sales"): (0, "", "")})
    result = check_then_apply(
        host, lambda: resource(host, tmp_path, [BridgeSpec("br-sales", state="absent")]))
    base = etc(tmp_path)
    assert result["actions"] == [
        f"remove {base}/05-openblade-br-sales.netdev",
        f"remove {base}/05-openblade-br-sales.network",
        f"remove {base}/05-openblade-trunk0.network",
        f"remove {base}/05-openblade-trunk0.network.d/openblade-bridge-br-sales.conf",
        "delete bridge br-sales",
        "reload systemd-networkd (networkctl reload)",
        "wait until the running state of br-sales matches (up to 60s)",
    ]
    assert sorted(p.name for p in (tmp_path / "etc").iterdir()) == []
    assert result["diff"]["after"]["runtime"] == {"br-sales": None}
    # Every file removed is in the diff's before as observe read it, and absent after.
    before, after = result["diff"]["before"]["files"], result["diff"]["after"]["files"]
    assert sorted(before) == sorted(after) == sorted(action.split(" ", 1)[1]
                                                     for action in result["actions"][:4])
    assert all(before.values()) and not any(after.values())


def test_port_removed_from_the_list_is_released_and_foreign_ports_stay(tmp_path):
    base = etc(tmp_path)
    created = [dict(item, master="br-sales") if item["name"] in ("trunk0", "trunk1") else item
               for item in bridge_after(tmp_path)] + [link("vnet3", kind="tun", master="br-sales")]
    host = FakeNetHost(lab_links(base), after=created, accept=RELOAD)
    reconcile(resource(host, tmp_path, [BridgeSpec("br-sales", ports=["trunk0", "trunk1"])]))

    released = [dict(item, master=None) if item["name"] == "trunk1" else item for item in created]
    host = FakeNetHost(created, after=released, accept=RELOAD,
                       table={("ip", "link", "set", "dev", "trunk1", "nomaster"): (0, "", "")})
    result = check_then_apply(
        host, lambda: resource(host, tmp_path, [BridgeSpec("br-sales", ports=["trunk0"])]))
    assert result["actions"] == [
        f"remove {base}/05-openblade-trunk1.network",
        f"remove {base}/05-openblade-trunk1.network.d/openblade-bridge-br-sales.conf",
        "reload systemd-networkd (networkctl reload)",
        "release trunk1 from bridge br-sales",
        "wait until the running state of br-sales matches (up to 60s)",
    ]
    # vnet3 (a guest's tap) is not ours to manage: it is neither shown nor released.
    assert result["diff"]["before"]["runtime"]["br-sales"]["ports"] == ["trunk0", "trunk1"]
    assert result["diff"]["after"]["runtime"]["br-sales"]["ports"] == ["trunk0"]
    assert ("ip", "link", "set", "dev", "vnet3", "nomaster") not in host.calls


def test_stp_changes_live_and_drift_is_repaired(tmp_path):
    created = [dict(item, master="br-sales") if item["name"] == "trunk0" else item
               for item in bridge_after(tmp_path)]
    host = FakeNetHost(lab_links(etc(tmp_path)), after=created, accept=RELOAD)
    reconcile(resource(host, tmp_path, [BridgeSpec("br-sales", ports=["trunk0"])]))

    stp_on = bridge_after(tmp_path, stp=1)
    stp_on = [dict(item, master="br-sales") if item["name"] == "trunk0" else item for item in stp_on]
    argv = ("ip", "link", "set", "dev", "br-sales", "type", "bridge", "stp_state", "1")
    host = FakeNetHost(created, after=stp_on, accept=RELOAD, table={argv: (0, "", "")})
    result = check_then_apply(
        host, lambda: resource(host, tmp_path, [BridgeSpec("br-sales", stp=True, ports=["trunk0"])]))
    assert result["actions"][1:] == [
        "reload systemd-networkd (networkctl reload)",
        "set stp on on bridge br-sales",
        "wait until the running state of br-sales matches (up to 60s)",
    ]
    assert argv in host.calls

    # Someone detached the port by hand: the files are right, networkd re-attaches it.
    drifted = [dict(item, master=None) if item["name"] == "trunk0" else item for item in stp_on]
    host = FakeNetHost(drifted, table={("networkctl", "reconfigure", "trunk0"): (0, "", "")})
    host.after = stp_on

    def reconfigure_fixes(argv, data, original=host._execute):
        if tuple(argv) == ("networkctl", "reconfigure", "trunk0"):
            host.links = stp_on
            host._refresh()
        return original(argv, data)

    host._execute = reconfigure_fixes
    result = reconcile(resource(host, tmp_path, [BridgeSpec("br-sales", stp=True, ports=["trunk0"])]))
    assert result["actions"] == ["reconfigure trunk0 (networkctl reconfigure)",
                                 "wait until the running state of br-sales matches (up to 60s)"]


def test_bond_mode_change_recreates_and_miimon_changes_live(tmp_path):
    base = etc(tmp_path)

    def bond_links(mode, miimon):
        members = [dict(item, master="bond0") if item["name"] in ("trunk0", "trunk1") else item
                   for item in lab_links(base)]
        return members + [link("bond0", kind="bond", info={"mode": mode, "miimon": miimon},
                               network_file=f"{base}/05-openblade-bond0.network")]

    host = FakeNetHost(lab_links(base), after=bond_links("active-backup", 100), accept=RELOAD)
    result = check_then_apply(
        host, lambda: resource(host, tmp_path, [BondSpec("bond0", ["trunk0", "trunk1"])]))
    netdev = (tmp_path / "etc/05-openblade-bond0.netdev").read_text()
    assert "[Bond]\nMode=active-backup\nMIIMonitorSec=100ms\n" in netdev
    member = tmp_path / "etc/05-openblade-trunk1.network.d/openblade-bond-bond0.conf"
    assert "Bond=bond0" in member.read_text()
    assert result["changed"]

    host = FakeNetHost(bond_links("active-backup", 100), after=bond_links("802.3ad", 200),
                       accept=[["networkctl"], ["ip", "link", "delete", "dev", "bond0"]])

    def spec():
        return [BondSpec("bond0", ["trunk0", "trunk1"], mode="802.3ad", miimon=200)]
    result = check_then_apply(host, lambda: resource(host, tmp_path, spec()))
    assert result["actions"] == [
        f"update {base}/05-openblade-bond0.netdev",
        "delete bond bond0 to recreate it (mode active-backup -> 802.3ad)",
        "reload systemd-networkd (networkctl reload)",
        # networkd enslaves members when it configures them; their files did not change.
        "reconfigure trunk0 (networkctl reconfigure)",
        "reconfigure trunk1 (networkctl reconfigure)",
        "wait until the running state of bond0 matches (up to 60s)",
    ]

    argv = ("ip", "link", "set", "dev", "bond0", "type", "bond", "miimon", "500")
    after = bond_links("802.3ad", 500)
    host = FakeNetHost(bond_links("802.3ad", 200), after=after, accept=RELOAD,
                       table={argv: (0, "", "")})
    result = check_then_apply(host, lambda: resource(
        host, tmp_path, [BondSpec("bond0", ["trunk0", "trunk1"], mode="802.3ad", miimon=500)]))
    assert "set miimon 500 on bond bond0" in result["actions"]
    assert not any(a.startswith("delete") for a in result["actions"])


def test_member_enslaved_elsewhere_is_refused_before_anything_runs(tmp_path):
    links = lab_links(etc(tmp_path), link("br0", kind="bridge"))
    links = [dict(item, master="br0") if item["name"] == "trunk1" else item for item in links]
    host = FakeNetHost(links)
    with pytest.raises(ReconcileError, match=r"members: trunk1 is already enslaved to br0 \(a bridge\)"):
        reconcile(resource(host, tmp_path, [BondSpec("bond0", ["trunk0", "trunk1"])]))
    assert set(host.calls) <= READS
    assert not (tmp_path / "etc").exists()


def test_port_claimed_by_another_of_our_bridges_is_refused(tmp_path):
    # Only the files matter here: br-a's drop-in claims trunk0 (its link is not up yet).
    (tmp_path / "etc/05-openblade-trunk0.network.d").mkdir(parents=True)
    (tmp_path / "etc/05-openblade-trunk0.network.d/openblade-bridge-br-a.conf").write_text(
        "# Managed by openblade.kvm (bridge br-a on trunk0); local edits are overwritten.\n"
        "[Network]\nBridge=br-a\n")
    (tmp_path / "etc/05-openblade-trunk0.network").write_text(
        "# Managed by openblade.kvm (link trunk0); local edits are overwritten.\n[Match]\nName=trunk0\n")
    host = FakeNetHost(lab_links(etc(tmp_path)))
    with pytest.raises(ReconcileError, match="ports: trunk0 is already claimed by bridge br-a on trunk0"):
        reconcile(resource(host, tmp_path, [BridgeSpec("br-b", ports=["trunk0"])]), check_mode=True)


def test_a_device_we_did_not_create_is_not_taken_over(tmp_path):
    host = FakeNetHost(lab_links(etc(tmp_path), link("virbr0", kind="bridge")))
    with pytest.raises(ReconcileError, match="virbr0 exists .* no openblade.kvm .netdev defines it"):
        reconcile(resource(host, tmp_path, [BridgeSpec("virbr0")]), check_mode=True)
    with pytest.raises(ReconcileError, match="refusing to delete it"):
        reconcile(resource(host, tmp_path, [BridgeSpec("virbr0", state="absent")]), check_mode=True)


def test_a_file_without_our_header_is_not_overwritten(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/05-openblade-br-x.network").write_text("[Match]\nName=br-x\n")
    host = FakeNetHost(lab_links(etc(tmp_path)))
    with pytest.raises(ReconcileError, match="was not written by openblade.kvm"):
        reconcile(resource(host, tmp_path, [BridgeSpec("br-x")]), check_mode=True)


def test_vlan_on_a_parent_with_its_own_file_goes_into_that_files_dropin(tmp_path):
    # trunk1 is configured by someone else's file (e.g. an installer's): keep its settings.
    foreign = tmp_path / "etc/20-uplink.network"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("[Match]\nName=trunk1\n\n[Network]\nAddress=192.0.2.5/24\n")
    links = [dict(item, network_file=str(foreign), admin="configured") if item["name"] == "trunk1" else item
             for item in lab_links(etc(tmp_path))]
    host = FakeNetHost(links)
    result = reconcile(resource(host, tmp_path, [VlanSpec("trunk1", 300)]), check_mode=True)
    assert f"create {etc(tmp_path)}/20-uplink.network.d/openblade-vlan-trunk1.300.conf" in result["actions"]
    assert not any("05-openblade-trunk1.network" in a for a in result["actions"])


def test_vlan_mtu_above_the_parent_is_refused(tmp_path):
    host = FakeNetHost(lab_links(etc(tmp_path)))
    with pytest.raises(ReconcileError, match=r"mtu: 9000 is above the MTU of the parent trunk0 \(1500\)"):
        reconcile(resource(host, tmp_path, [VlanSpec("trunk0", 10, mtu=9000)]), check_mode=True)
    # With the parent raised in the same change, it is fine.
    result = reconcile(resource(host, tmp_path, [BondSpec("bond0", ["trunk0"], mtu=9000),
                                                 VlanSpec("bond0", 10, mtu=9000)]), check_mode=True)
    assert result["changed"]


def test_mtu_above_what_the_nic_supports_is_refused(tmp_path):
    links = [dict(item, max_mtu=1500) if item["name"] == "trunk0" else item
             for item in lab_links(etc(tmp_path))]
    host = FakeNetHost(links)
    with pytest.raises(ReconcileError, match=r"mtu: 9000 is above what trunk0 supports \(at most 1500\)"):
        reconcile(resource(host, tmp_path, [BondSpec("bond0", ["trunk0"], mtu=9000)]), check_mode=True)


def test_networkd_must_run(tmp_path):
    host = FakeNetHost(lab_links(etc(tmp_path)), table={tuple(obs.NETWORKD_ACTIVE): (3, "inactive\n", "")})
    with pytest.raises(ReconcileError, match="systemd-networkd is not running"):
        reconcile(resource(host, tmp_path, [BridgeSpec("br0")]), check_mode=True)


def test_settle_timeout_rolls_back_and_says_what_differs(tmp_path):
    from ansible_collections.openblade.kvm.tests.unit.net_host import write_stubs

    log = write_stubs(tmp_path / "bin")
    # networkd never creates the bridge (the kernel state stays as it was).
    host = FakeNetHost(lab_links(etc(tmp_path)), accept=RELOAD, stub_bin=tmp_path / "bin")
    with pytest.raises(ReconcileError) as failure:
        reconcile(resource(host, tmp_path, [BridgeSpec("br-sales")], rollback_timeout=5))
    message = str(failure.value)
    assert "did not match the configuration within 5s: br-sales does not exist" in message
    assert "Rolled back: the previous files were restored" in message
    details = failure.value.details
    assert details["rolled_back"] is True
    assert details["failed_action"] == "wait until the running state of br-sales matches (up to 5s)"
    # Our files are gone again, and the restore re-applied: delete the new device, reload.
    assert list((tmp_path / "etc").iterdir()) == []
    assert log.read_text().splitlines() == ["ip link delete dev br-sales", "networkctl reload"]
    assert any("rolled back" in line for line in details["rollback_log"])


def test_files_are_ours_and_backups_are_kept(tmp_path):
    host = FakeNetHost(lab_links(etc(tmp_path)), after=bridge_after(tmp_path), accept=RELOAD)
    result = reconcile(resource(host, tmp_path, [BridgeSpec("br-sales")]))
    for path in (tmp_path / "etc").rglob("*"):
        if path.is_file():
            assert is_ours(path.read_text()), path
    backup = tmp_path / "backups" / result["backup_dir"].rsplit("/", 1)[1]
    assert (backup / "state").read_text() == "committed\n"
    assert (backup / "restore.py").exists()


def test_a_killed_change_is_restored_before_the_next_one(tmp_path):
    """Change A dies after writing its files (no commit, its timer armed); change B first
    restores A under the lock, then plans on the restored files; A's timer stands down."""
    from ansible_collections.openblade.kvm.tests.unit.net_host import write_stubs

    log = write_stubs(tmp_path / "bin")
    accept = RELOAD + [["systemctl", "stop"]]
    host = FakeNetHost(lab_links(etc(tmp_path)), accept=accept, stub_bin=tmp_path / "bin")
    killed = resource(host, tmp_path, [BridgeSpec("br-a")])
    current = killed.observe()
    plan = killed.plan(current, killed.desired(current))
    for action in plan.actions[:-1]:  # killed before its last step: never committed
        action.apply()
    killed.txn._end()  # the kernel drops a dead process's lock
    a_dir = killed.txn.backup_dir
    assert (tmp_path / "etc/05-openblade-br-a.netdev").exists()

    b_after = bridge_after(tmp_path)
    host = FakeNetHost(lab_links(etc(tmp_path)), after=b_after, accept=accept, stub_bin=tmp_path / "bin")

    def make():
        return resource(host, tmp_path, [BridgeSpec("br-sales")])

    checked = reconcile(make(), check_mode=True)
    assert not (tmp_path / "backups" / a_dir.rsplit("/", 1)[1] / "state").exists()  # check changes nothing
    restore = (f"restore the uncommitted network change {a_dir} that a killed run left, and re-plan "
               "on the restored state")
    assert checked["actions"][0] == restore
    assert "a killed network run left an uncommitted change" in checked["warnings"][0]
    assert "05-openblade-br-a.netdev" in checked["warnings"][0]
    real = reconcile(make())
    assert real["actions"][0] == restore
    assert f"create {etc(tmp_path)}/05-openblade-br-sales.netdev" in real["actions"]
    assert sorted(p.name for p in (tmp_path / "etc").iterdir()) == [
        "05-openblade-br-sales.netdev", "05-openblade-br-sales.network"]
    a_state = tmp_path / "backups" / a_dir.rsplit("/", 1)[1] / "state"
    assert a_state.read_text() == "rolled back\n"
    unit = f"openblade-kvm-network-rollback-{a_dir.rsplit('/', 1)[1]}.timer"
    assert ("systemctl", "stop", unit) in host.calls
    assert "ip link delete dev br-a" in log.read_text()
    # Once restored it is not pending any more: the next run changes nothing.
    host.links = b_after
    host._refresh()
    again = reconcile(make())
    assert (again["changed"], again["actions"]) == (False, [])


def test_an_address_networkd_already_dropped_is_not_an_error(tmp_path):
    """The old file gave 10.9.0.2; on reload networkd drops it itself, so the explicit delete
    meets EADDRNOTAVAIL: the address is gone, as wanted, and the change commits."""
    both = bridge_after(tmp_path, addresses=["10.9.0.1/24", "10.9.0.2/24"])
    host = FakeNetHost(lab_links(etc(tmp_path)), after=both, accept=RELOAD)
    reconcile(resource(host, tmp_path, [BridgeSpec("br-sales", addresses=["10.9.0.1/24", "10.9.0.2/24"])]))
    delete = ["ip", "address", "del", "10.9.0.2/24", "dev", "br-sales"]
    host = FakeNetHost(both, after=bridge_after(tmp_path, addresses=["10.9.0.1/24"]), accept=RELOAD,
                       table={tuple(delete): (2, "", "RTNETLINK answers: Cannot assign requested address\n")})
    result = reconcile(resource(host, tmp_path, [BridgeSpec("br-sales", addresses=["10.9.0.1/24"])]))
    assert "remove address 10.9.0.2/24 from br-sales" in result["actions"]
    assert tuple(delete) in host.calls


# --- phases: observe reads, desired decides on what observe read ------------------------------------

def test_observe_only_reads_and_desired_refuses(tmp_path):
    # A file of someone else's at our path is a refusal of the plan, not of the observation.
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/05-openblade-br-x.network").write_text("[Match]\nName=br-x\n")
    net = resource(FakeNetHost(lab_links(etc(tmp_path))), tmp_path, [BridgeSpec("br-x")])
    current = net.observe()
    assert current["files"] == {etc(tmp_path, "05-openblade-br-x.netdev"): None,
                                etc(tmp_path, "05-openblade-br-x.network"): ["[Match]", "Name=br-x"]}
    with pytest.raises(ReconcileError, match="was not written by openblade.kvm"):
        net.desired(current)


def test_desired_and_plan_decide_on_what_observe_read(tmp_path):
    # Files that change on disk after observe do not change the plan: it reads nothing itself.
    host = FakeNetHost(lab_links(etc(tmp_path)), accept=RELOAD)
    first = resource(host, tmp_path, [BridgeSpec("br-sales", ports=["trunk0"])])
    current = first.observe()
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/05-openblade-br-sales.network").write_text("[Match]\nName=br-sales\n")
    desired = first.desired(current)
    planned = first.plan(current, desired).descriptions()
    (tmp_path / "etc/05-openblade-br-sales.network").unlink()
    fresh = resource(host, tmp_path, [BridgeSpec("br-sales", ports=["trunk0"])])
    again = fresh.observe()
    assert (again, fresh.desired(again)) == (current, desired)
    assert fresh.plan(again, fresh.desired(again)).descriptions() == planned
