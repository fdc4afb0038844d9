# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Changes on the management path: refusals before anything runs, the rollback timer,
the probe, and the restore that puts the previous files back when the probe fails."""

from __future__ import annotations

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._net.links import BondSpec, BridgeSpec
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
    reconcile,
)
from ansible_collections.openblade.kvm.tests.unit.net_host import (
    MGMT_ADDRESS,
    FakeNetHost,
    lab_links,
    link,
    resource,
    write_stubs,
)

PING = ("ping", "-n", "-c", "1", "-W", "1", "10.0.2.2")
TIMER = [["systemd-run"], ["systemctl", "stop"]]


def foreign_mgmt_file(tmp_path):
    path = tmp_path / "etc/10-mgmt0.network"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[Match]\nName=mgmt0\n\n[Network]\nAddress={MGMT_ADDRESS}/24\n")
    return path


def moved(tmp_path, address):
    """The kernel after networkd enslaved mgmt0 to br-mgmt (with or without the address)."""
    base = str(tmp_path / "etc")
    links = [dict(item, master="br-mgmt", addresses=[], network_file=f"{base}/05-openblade-mgmt0.network")
             if item["name"] == "mgmt0" else item for item in lab_links(base)]
    return links + [link("br-mgmt", kind="bridge", info={"stp_state": 0},
                         addresses=[f"{MGMT_ADDRESS}/24"] if address else [],
                         network_file=f"{base}/05-openblade-br-mgmt.network")]


class ProbedHost(FakeNetHost):
    """ping answers only while ``reachable()`` says so; the restore puts ``links`` back."""

    def __init__(self, before, after, reachable, **kwargs):
        self.before = before
        self.reachable = reachable
        super().__init__(before, after=after, accept=[["networkctl"], *TIMER], **kwargs)

    def _execute(self, argv, data):
        result = super()._execute(argv, data)
        if len(argv) > 1 and argv[1].endswith("restore.py"):
            self.links = self.before
            self._refresh()
        return result

    def _refresh(self):
        super()._refresh()
        self.table[PING] = (0 if self.reachable(self) else 1, "", "")


def test_removing_the_management_address_is_refused_before_anything_runs(tmp_path):
    foreign_mgmt_file(tmp_path)
    host = FakeNetHost(lab_links(str(tmp_path / "etc")))
    with pytest.raises(ReconcileError) as refused:
        reconcile(resource(host, tmp_path, [BridgeSpec("br-mgmt", ports=["mgmt0"])]))
    assert str(refused.value).startswith(
        f"refusing a change that removes the management address {MGMT_ADDRESS} (mgmt0 becomes a "
        "bridge port of br-mgmt) with nothing in this change taking it over")
    assert refused.value.details["management"]["holders"] == ["mgmt0"]
    assert sorted(p.name for p in (tmp_path / "etc").iterdir()) == ["10-mgmt0.network"]


def test_a_management_change_needs_something_to_probe(tmp_path):
    foreign_mgmt_file(tmp_path)
    host = FakeNetHost(lab_links(str(tmp_path / "etc")))
    spec = [BridgeSpec("br-mgmt", ports=["mgmt0"], addresses=[f"{MGMT_ADDRESS}/24"])]
    with pytest.raises(ReconcileError, match="the host has no default gateway to probe: set probe"):
        reconcile(resource(host, tmp_path, spec), check_mode=True)
    # With a default gateway, that is the probe.
    host = FakeNetHost(lab_links(str(tmp_path / "etc")), routes=[{"dev": "mgmt0", "gateway": "10.0.2.1"}])
    result = reconcile(resource(host, tmp_path, spec), check_mode=True)
    assert result["actions"][0] == ("arm an automatic rollback: the previous files come back unless "
                                    "ping 10.0.2.1 succeeds within 60s (management path: mgmt0, br-mgmt)")
    assert result["actions"][-1] == ("probe the management path: ping 10.0.2.1 must succeed within 60s, "
                                     "else roll back")


def test_moving_the_address_onto_a_bridge_is_applied_with_a_probe(tmp_path):
    foreign_mgmt_file(tmp_path)
    base = str(tmp_path / "etc")

    def make():
        spec = BridgeSpec("br-mgmt", ports=["mgmt0"], addresses=[f"{MGMT_ADDRESS}/24"])
        return resource(host, tmp_path, [spec], probe="10.0.2.2", rollback_timeout=20)

    host = ProbedHost(lab_links(base), moved(tmp_path, address=True), reachable=lambda h: True)
    checked = reconcile(make(), check_mode=True)
    result = reconcile(make())
    assert (checked["changed"], checked["actions"]) == (result["changed"], result["actions"])
    assert result["actions"] == [
        # br-mgmt is on the path too: it takes over the management address.
        "arm an automatic rollback: the previous files come back unless ping 10.0.2.2 succeeds within 20s "
        "(management path: mgmt0, br-mgmt)",
        f"create {base}/05-openblade-br-mgmt.netdev",
        f"create {base}/05-openblade-br-mgmt.network",
        f"create {base}/05-openblade-mgmt0.network",
        f"create {base}/05-openblade-mgmt0.network.d/openblade-bridge-br-mgmt.conf",
        "reload systemd-networkd (networkctl reload)",
        "wait until the running state of br-mgmt matches (up to 20s)",
        "probe the management path: ping 10.0.2.2 must succeed within 20s, else roll back",
    ]
    assert result["warnings"] == [
        f"{base}/05-openblade-mgmt0.network takes precedence over {base}/10-mgmt0.network for mgmt0: mgmt0 "
        "becomes a bridge port and loses the settings of 10-mgmt0.network"]
    assert result["management"]["touched"] == ["mgmt0", "br-mgmt"]
    armed = [call for call in host.calls if call[0] == "systemd-run"]
    assert len(armed) == 1 and "--on-active=50s" in armed[0]
    unit = armed[0][armed[0].index("--unit") + 1]
    assert ("systemctl", "stop", unit + ".timer") in host.calls
    state = tmp_path / "backups" / result["backup_dir"].rsplit("/", 1)[1] / "state"
    assert state.read_text() == "committed\n"


def test_failed_probe_restores_the_previous_files_and_reapplies_them(tmp_path):
    foreign_mgmt_file(tmp_path)
    log = write_stubs(tmp_path / "bin")
    base = str(tmp_path / "etc")
    # The classic mistake: mgmt0 goes into a bridge that was given no address.
    host = ProbedHost(lab_links(base), moved(tmp_path, address=False),
                      reachable=lambda h: h.links is h.before, stub_bin=tmp_path / "bin")
    spec = [BridgeSpec("br-mgmt", ports=["mgmt0"])]
    with pytest.raises(ReconcileError) as failure:
        reconcile(resource(host, tmp_path, spec, probe="10.0.2.2", rollback_timeout=10,
                           allow_management_change=True))
    assert str(failure.value) == (
        "ping 10.0.2.2 did not succeed within 10s after changing the management path (mgmt0). "
        f"Rolled back: the previous files were restored from {failure.value.details['backup_dir']} and "
        "re-applied with networkctl; after the rollback, ping 10.0.2.2 answers again")
    details = failure.value.details
    assert details["rolled_back"] and details["management_reachable"]
    assert details["failed_action"].startswith("probe the management path")
    assert sorted(p.name for p in (tmp_path / "etc").iterdir()) == ["10-mgmt0.network"]
    # The restore deleted the new bridge, reloaded, and reconfigured the management NIC.
    assert log.read_text().splitlines() == ["ip link delete dev br-mgmt", "networkctl reload",
                                            "networkctl reconfigure mgmt0"]
    assert any(call[:2] == ("systemctl", "stop") for call in host.calls)
    # No management address is expected when its removal was allowed: only the probe counts.
    assert ("ip", "-j", "address", "show") in host.calls


def test_changes_off_the_management_path_arm_no_timer(tmp_path):
    host = FakeNetHost(lab_links(str(tmp_path / "etc")))
    result = reconcile(resource(host, tmp_path, [BondSpec("bond0", ["trunk0", "trunk1"])]), check_mode=True)
    assert not any(a.startswith(("arm", "probe")) for a in result["actions"])
    assert result["management"] == {"address": MGMT_ADDRESS, "holders": ["mgmt0"], "default_route_links": [],
                                    "links": ["mgmt0"], "touched": [], "probe": None}


def test_the_path_runs_down_through_bridges_bonds_and_vlans(tmp_path):
    base = str(tmp_path / "etc")
    links = [dict(item, master="bond0") if item["name"] in ("trunk0", "trunk1") else item
             for item in lab_links(base)]
    links = [dict(item, addresses=[]) if item["name"] == "mgmt0" else item for item in links]
    links += [link("bond0", kind="bond", info={"mode": "active-backup", "miimon": 100}),
              link("bond0.10", kind="vlan", parent="bond0", vlan_id=10, master="br-mgmt"),
              link("br-mgmt", kind="bridge", addresses=[f"{MGMT_ADDRESS}/24"])]
    host = FakeNetHost(links)
    # The bond under the VLAN under the management bridge: changing it needs the probe.
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/05-openblade-bond0.netdev").write_text("# Managed by openblade.kvm (bond bond0)\n")
    with pytest.raises(ReconcileError, match=r"touches the management path \(bond0, trunk0, trunk1\)"):
        reconcile(resource(host, tmp_path, [BondSpec("bond0", ["trunk0", "trunk1"], miimon=200)]),
                  check_mode=True)
