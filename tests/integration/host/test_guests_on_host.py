# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""domain, guests and guest_info on the host's own libvirtd with tiny real guests.

Every change runs in check mode first and must predict the real run (see conftest's
apply()); the outcome is then read from libvirt itself, not from the module's result.
"""

from __future__ import annotations

import os

import pytest
from tiny_guest import (
    CLUSTER,
    GUEST_MARKER,
    PARTITION,
    PREFIX,
    serial_output,
    wait_for,
    wait_until_booted,
    xml,
)

libvirt = pytest.importorskip("libvirt")


def live_vcpus(dom):
    root = xml(dom)
    listed = root.findall("vcpus/vcpu")
    if listed:
        return sum(1 for vcpu in listed if vcpu.get("enabled") == "yes")
    return int(root.find("vcpu").get("current", root.find("vcpu").text))


def refused(run_module, module, args, message):
    """A refusal is decided while planning: check mode and the real run fail alike."""
    for check in (True, False):
        result = run_module(module, args, check=check)
        assert result.get("failed") and message in result["msg"], result
        assert result.get("changed") is False
    return result


@pytest.fixture
def booted(tiny_guest, apply_module, conn):
    """Create a running tiny guest through the domain module and wait for its marker."""

    def boot(name, **options):
        args = tiny_guest(name, **options)
        _predicted, result = apply_module("guest", args)
        assert result["actions"] == [f"define {args['name']}", f"start {args['name']}"]
        wait_until_booted(args, 60)
        return args, conn.lookupByName(args["name"])

    return boot


def test_tiny_guest_boots_and_a_rerun_changes_nothing(booted, apply_module, run_module):
    args, dom = booted("boot")
    assert dom.isActive()
    assert GUEST_MARKER in serial_output(args)
    metadata = xml(dom, inactive=True).find("metadata/{urn:openblade:kvm:guest:1}guest")
    assert metadata is not None and metadata.findtext("{urn:openblade:kvm:guest:1}cluster") == CLUSTER

    _predicted, again = apply_module("guest", args, diff=True)
    assert not again["changed"] and again["actions"] == [] and not again["reboot_required"]
    assert again["uuid"] == dom.UUIDString()


def test_memory_and_vcpus_change_live(booted, apply_module):
    args, dom = booted("live")
    domain_id = dom.ID()
    _predicted, result = apply_module("guest", dict(args, memory=160, vcpus=2))
    assert result["changes"] == [{"field": "memory", "when": "live"}, {"field": "vcpus", "when": "live"}]
    assert result["actions"][1:] == [f"set memory of running {args['name']} to 160 MiB",
                                     f"set vCPUs of running {args['name']} to 2"]
    assert not result["reboot_required"]
    # The balloon driver reports back asynchronously; the live XML follows.
    wait_for(lambda: xml(dom).findtext("currentMemory") == str(160 * 1024), 20, "160 MiB in the live XML")
    assert live_vcpus(dom) == 2
    inactive = xml(dom, inactive=True)
    assert inactive.findtext("currentMemory") == str(160 * 1024)
    assert inactive.find("vcpu").get("current", inactive.findtext("vcpu")) == "2"
    assert dom.ID() == domain_id  # never restarted


def test_nic_is_hotplugged(booted, apply_module, network):
    args, dom = booted("nic", nics=[{"partition": PARTITION}])
    first_mac = xml(dom).find("devices/interface/mac").get("address")
    wanted = dict(args, nics=[{"partition": PARTITION}, {"bridge": network["bridge"]}])
    _predicted, result = apply_module("guest", wanted)
    assert result["macs"][0] == first_mac
    new_mac = result["macs"][1]
    assert result["actions"][-1] == f"hotplug NIC {new_mac} into running {args['name']}"
    assert not result["reboot_required"]
    for inactive in (False, True):
        interfaces = xml(dom, inactive).findall("devices/interface")
        nics = {nic.find("mac").get("address"): nic for nic in interfaces}
        assert set(nics) == {first_mac, new_mac}
        assert nics[new_mac].find("source").get("bridge") == network["bridge"]
    _predicted, again = apply_module("guest", wanted)
    assert not again["changed"] and again["macs"] == result["macs"]


def test_machine_type_change_needs_a_reboot_and_the_guest_keeps_running(booted, apply_module, run_module):
    args, dom = booted("machine")
    domain_id = dom.ID()
    assert xml(dom).find("os/type").get("machine") == "pc-i440fx-7.2"  # 'pc' resolved
    _predicted, result = apply_module("guest", dict(args, machine="pc-i440fx-7.1"))
    assert result["changes"] == [{"field": "machine", "when": "next_boot"}]
    assert result["reboot_required"] is True
    assert dom.isActive() and dom.ID() == domain_id
    assert xml(dom, inactive=True).find("os/type").get("machine") == "pc-i440fx-7.1"
    assert xml(dom).find("os/type").get("machine") == "pc-i440fx-7.2"

    info = run_module("guest_info", {"names": [args["name"]]})
    assert info["guests"][0]["reboot_pending"] is True

    # Another family has another PCI topology: refused, with the reason, and nothing changes.
    refused(run_module, "domain", dict(args, machine="q35"), "cannot change machine in place")
    assert xml(dom, inactive=True).find("os/type").get("machine") == "pc-i440fx-7.1"


def test_stop_of_a_guest_that_ignores_acpi(booted, apply_module):
    args, dom = booted("acpi")
    predicted, failed = apply_module("guest", dict(args, state="stopped"), expect_failure=True)
    assert predicted["actions"] == [f"stop {args['name']} (ACPI shutdown, wait up to 3s)"]
    assert "still running 3s after the ACPI shutdown request" in failed["msg"]
    assert "force_stop: true" in failed["msg"]
    assert dom.isActive()

    _predicted, result = apply_module("guest", dict(args, state="stopped", force_stop=True))
    assert result["actions"] == [f"stop {args['name']} (ACPI shutdown, power off after 3s)"]
    assert not dom.isActive()


def test_guest_with_a_snapshot_is_only_removed_with_force(tiny_guest, apply_module, run_module, conn):
    args = tiny_guest("snap", state="stopped")
    apply_module("guest", args)
    dom = conn.lookupByName(args["name"])
    dom.snapshotCreateXML("<domainsnapshot><name>before-upgrade</name></domainsnapshot>")
    absent = {"name": args["name"], "state": "absent"}
    refused(run_module, "domain", absent, "has 1 snapshot; refusing to remove it")
    assert conn.lookupByName(args["name"])

    _predicted, result = apply_module("guest", dict(absent, force=True))
    assert result["actions"] == [f"undefine {args['name']} (its disks are kept)"]
    with pytest.raises(libvirt.libvirtError):
        conn.lookupByName(args["name"])
    assert os.path.exists(args["disks"][0]["path"])


def test_fleet_rerun_is_a_no_op_and_prune_spares_guests_made_by_hand(tiny_guest, apply_module, run_module,
                                                                     conn, workdir):
    cluster = "obt-fleet"  # prune looks at one cluster only; keep other tests' guests out of it
    seed_iso = os.path.join(workdir, "fleet-b-cidata.iso")
    guests = [
        tiny_guest("fleet-a", nics=[{"partition": PARTITION}]),
        tiny_guest("fleet-b", state="stopped", cloud_init={"user_data": {"runcmd": ["true"]},
                                                           "iso_path": seed_iso}),
        tiny_guest("fleet-c", state="stopped", nics=[{"partition": PARTITION}, {"partition": PARTITION}]),
    ]
    for guest in guests:
        del guest["cluster"]
    hand_made = PREFIX + "hand-made"
    conn.defineXML(f"<domain type='qemu'><name>{hand_made}</name><memory unit='MiB'>64</memory>"
                   "<os><type arch='x86_64'>hvm</type></os></domain>")
    args = {"cluster": cluster, "guests": guests, "prune": True}

    _predicted, first = apply_module("guests", args)
    names = [guest["name"] for guest in guests]
    assert first["summary"]["created"] == names and first["summary"]["started"] == [names[0]]
    with open(seed_iso, "rb") as handle:
        header = handle.read(0x8030)
    assert header[0x8001:0x8006] == b"CD001" and header[0x8028:0x802e] == b"cidata"
    identities = {name: (conn.lookupByName(name).UUIDString(),
                         [mac.get("address") for mac in xml(conn.lookupByName(name)).iter("mac")])
                  for name in names}

    _predicted, again = apply_module("guests", args)
    assert not again["changed"] and again["summary"]["unchanged"] == names
    for name in names:
        dom = conn.lookupByName(name)
        assert (dom.UUIDString(), [mac.get("address") for mac in xml(dom).iter("mac")]) == identities[name]
        assert (again["guests"][name]["uuid"], again["guests"][name]["macs"]) == identities[name]

    _predicted, pruned = apply_module("guests", dict(args, guests=guests[:2]))
    assert pruned["summary"]["removed"] == [names[2]]
    assert pruned["actions"] == [f"undefine {names[2]} (its disks are kept)"]
    assert conn.lookupByName(hand_made)  # no marker: never pruned
    assert sorted(dom.name() for dom in conn.listAllDomains() if dom.name().startswith(PREFIX + "fleet")) \
        == names[:2]

    info = run_module("guest_info", {"names": [names[0], hand_made]})
    by_name = {guest["name"]: guest for guest in info["guests"]}
    assert by_name[names[0]]["managed"] and by_name[names[0]]["state"] == "running"
    assert by_name[names[0]]["nics"] == [{"mac": identities[names[0]][1][0], "partition": PARTITION,
                                          "bridge": None, "model": "virtio"}]
    assert by_name[hand_made]["managed"] is False


def test_cpu_model_is_set_and_a_changed_model_waits_for_the_next_boot(booted, apply_module, run_module):
    cpu = {"mode": "custom", "model": "qemu64", "features": [{"name": "svm", "policy": "disable"}]}
    args, dom = booted("cpu", cpu=cpu)
    for inactive in (True, False):  # in the config and in the running guest
        element = xml(dom, inactive).find("cpu")
        assert (element.get("mode"), element.findtext("model")) == ("custom", "qemu64")
        assert element.find("feature[@name='svm']").get("policy") == "disable"
    _predicted, again = apply_module("guest", args)
    assert not again["changed"] and not again["reboot_required"]

    domain_id = dom.ID()
    newer = dict(args, cpu=dict(cpu, model="kvm64"))
    predicted, result = apply_module("guest", newer, diff=True)
    assert predicted["changes"] == result["changes"] == [{"field": "cpu_model", "when": "next_boot"}]
    assert predicted["reboot_required"] and result["reboot_required"]
    diff = result["diff"]
    assert (diff["before"]["cpu_model"], diff["after"]["cpu_model"]) == ("qemu64", "kvm64")
    assert dom.isActive() and dom.ID() == domain_id
    assert xml(dom, inactive=True).findtext("cpu/model") == "kvm64"
    assert xml(dom).findtext("cpu/model") == "qemu64"
    info = run_module("guest_info", {"names": [args["name"]]})["guests"][0]
    assert (info["cpu_model"], info["cpu_features"]) == ("kvm64", [{"name": "svm", "policy": "disable"}])
    assert info["reboot_pending"] is True
    _predicted, again = apply_module("guest", newer)
    assert not again["changed"]
