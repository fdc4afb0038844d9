# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The domain XML model, identity derivation and change classification (no libvirt)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import identity, model
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.classify import (
    CONFIG,
    IMPOSSIBLE,
    LIVE,
    NEXT_BOOT,
    classify,
    pending_reboot,
)
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.spec import (
    GuestSpec,
    option_defaults,
    target_name,
)
from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "libvirt")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return model.parse(handle.read())


# --- reading libvirt's own XML -------------------------------------------------------------------

def test_read_fields_of_real_inactive_xml():
    fields = model.read_fields(fixture("qemu-inactive.xml"))
    assert fields["domain_type"] == "qemu"
    assert fields["machine"] == "pc-i440fx-7.2"
    assert (fields["memory"], fields["max_memory"]) == (192, 256)
    assert (fields["vcpus"], fields["max_vcpus"]) == (1, 2)
    assert fields["firmware"] == "bios"
    assert fields["serial_console"] is True
    assert fields["serial_log"] == "/var/tmp/openblade-test/exp1.log"
    assert fields["disks"] == [{
        "target": "vda", "bus": "virtio", "device": "disk", "type": "file",
        "path": "/var/tmp/openblade-test/exp.qcow2", "format": "qcow2", "cache": "default",
        "readonly": False, "boot_order": None,
    }]
    assert fields["nics"] == [{"mac": "52:54:00:5b:56:53", "partition": None, "bridge": "obtbr0",
                               "model": "virtio"}]
    assert fields["managed"] is False


def test_live_xml_counts_hotplugged_vcpus_from_the_vcpus_list():
    live = model.read_fields(fixture("qemu-live.xml"))
    assert (live["vcpus"], live["max_vcpus"]) == (2, 2)
    assert live["memory"] == 180


def test_live_nic_on_a_bridge_network_still_reads_as_its_partition():
    # libvirt's live XML for <interface type='network'> on a network of forward mode bridge.
    live = model.parse("<domain><name>a</name><devices><interface type='bridge'>"
                       "<mac address='52:54:00:51:DC:AD'/>"
                       "<source network='office' portid='x' bridge='obtbr0'/>"
                       "<model type='virtio'/></interface></devices></domain>")
    assert model.read_fields(live)["nics"] == [
        {"mac": "52:54:00:51:dc:ad", "partition": "office", "bridge": None, "model": "virtio"}]


def test_pending_reboot_between_live_and_inactive_xml():
    live = model.read_fields(fixture("qemu-live.xml"))
    inactive = model.read_fields(fixture("qemu-inactive.xml"))
    # virsh setvcpus --live only: the config still says 1 vCPU, so the next boot drops one.
    assert pending_reboot(live, inactive) is True
    # Memory differs too, but it is a live field (the balloon), never a pending reboot.
    assert pending_reboot(live, dict(inactive, vcpus=2)) is False


@pytest.mark.parametrize("unit, value, mib", [
    ("KiB", "1048576", 1024), ("MiB", "512", 512), ("GiB", "2", 2048), ("M", "64", 64),
    ("bytes", str(3 * 2 ** 20), 3),
])
def test_memory_units_normalise_to_mib(unit, value, mib):
    root = model.parse(f"<domain><name>a</name><memory unit='{unit}'>{value}</memory></domain>")
    fields = model.read_fields(root)
    assert fields["max_memory"] == mib
    assert fields["memory"] == mib  # no currentMemory: libvirt boots with all of it


def test_unknown_memory_unit_is_an_error():
    root = model.parse("<domain><name>a</name><memory unit='parsecs'>1</memory></domain>")
    with pytest.raises(model.XMLError, match="unknown unit"):
        model.read_fields(root)


def test_parse_rejects_other_documents():
    with pytest.raises(model.XMLError, match="expected <domain>"):
        model.parse("<network/>")
    with pytest.raises(model.XMLError, match="not well-formed"):
        model.parse("<domain>")


# --- writing -----------------------------------------------------------------------------------

FIELDS = {
    "name": "web1", "uuid": "2b1f7b0e-1c1a-5f3e-9f57-1234567890ab", "domain_type": "kvm",
    "machine": "pc-q35-7.2", "max_memory": 4096, "memory": 2048, "max_vcpus": 8, "vcpus": 2,
    "cpu_mode": "host-passthrough", "cpu_model": None, "kernel": None, "initrd": None,
    "cmdline": None, "serial_console": True, "serial_log": "/var/log/web1.log",
    "disks": [
        {"target": "vda", "bus": "virtio", "device": "disk", "type": "block", "path": "/dev/vg/web1",
         "format": "raw", "cache": "none", "readonly": False, "boot_order": 1},
        {"target": "sda", "bus": "sata", "device": "cdrom", "type": "file",
         "path": "/var/lib/libvirt/boot/web1-cidata.iso", "format": "raw", "cache": "default",
         "readonly": True, "boot_order": None},
    ],
    "nics": [{"mac": "52:54:01:02:03:04", "partition": "office", "bridge": None, "model": "virtio"},
             {"mac": "52:54:01:02:03:05", "partition": None, "bridge": "br-backup", "model": "e1000"}],
    "description": "web server", "seed": "0123456789abcdef", "template": None,
    "cluster": "dc1", "managed": True, "firmware": "uefi",
}


def test_written_fields_read_back_identically():
    root = model.render(model.skeleton(), FIELDS)
    back = model.read_fields(model.parse(model.to_string(root)))
    # The reader lists disks by target, as both sides of a comparison must.
    expected = dict(FIELDS, disks=sorted(FIELDS["disks"], key=lambda disk: disk["target"]))
    assert {key: back[key] for key in FIELDS} == expected


def test_writing_into_libvirt_xml_keeps_what_we_do_not_manage():
    current = fixture("qemu-inactive.xml")
    fields = dict(max_memory=512, memory=512, nics=[
        {"mac": "52:54:00:5b:56:53", "partition": None, "bridge": "obtbr0", "model": "e1000"}])
    root = model.render(current, fields)
    # The NIC keeps its PCI slot and the hand-made parts of the XML survive.
    nic = root.find("devices/interface")
    assert nic.find("address").get("slot") == current.find("devices/interface/address").get("slot")
    assert nic.find("model").get("type") == "e1000"
    assert root.find("devices/controller[@type='usb']") is not None
    assert root.find("devices/disk/address") is not None
    # render() copies: the observed XML is not modified behind the reconcile's back.
    assert current.find("devices/interface/model").get("type") == "virtio"


def test_changing_a_disk_bus_drops_its_old_address():
    current = fixture("qemu-inactive.xml")
    disk = model.read_fields(current)["disks"][0]
    root = model.render(current, {"disks": [dict(disk, bus="scsi", target="sda")]})
    assert root.find("devices/disk/address") is None
    root = model.render(current, {"disks": [dict(disk, cache="none")]})
    assert root.find("devices/disk/address") is not None


def test_per_device_boot_order_replaces_os_boot():
    current = fixture("qemu-inactive.xml")
    assert current.find("os/boot") is not None
    disk = model.read_fields(current)["disks"][0]
    root = model.render(current, {"disks": [dict(disk, boot_order=1)]})
    assert root.find("os/boot") is None  # libvirt refuses both at once
    assert root.find("devices/disk/boot").get("order") == "1"


def test_disks_and_nics_not_listed_are_removed_from_the_config():
    current = fixture("qemu-inactive.xml")
    root = model.render(current, {"disks": [], "nics": []})
    assert root.findall("devices/disk") == [] and root.findall("devices/interface") == []


def test_vcpu_hotplug_list_is_dropped_when_counts_are_written():
    live = fixture("qemu-live.xml")
    root = model.render(live, {"max_vcpus": 4, "vcpus": 3})
    assert root.find("vcpus") is None
    assert root.find("vcpu").text == "4" and root.find("vcpu").get("current") == "3"


def test_ownership_marker_round_trip():
    root = model.render(model.skeleton(), {"name": "a", "managed": True, "cluster": "dc1", "seed": "abc",
                                           "template": None})
    text = model.to_string(root)
    assert model.METADATA_NS in text
    assert model.read_fields(model.parse(text))["seed"] == "abc"


def test_machine_family():
    assert model.machine_family("pc-i440fx-7.2") == "pc-i440fx"
    assert model.machine_family("pc") == "pc-i440fx" and model.machine_family("q35") == "pc-q35"
    assert model.machine_family("pc-q35-2.10") == "pc-q35"
    assert model.machine_family("microvm") == "microvm"


def test_fingerprint_ignores_formatting():
    compact = "<domain><name>a</name></domain>"
    assert model.fingerprint(compact) == model.fingerprint("<domain>\n  <name>a</name>\n</domain>")
    assert model.fingerprint(compact) != model.fingerprint("<domain><name>b</name></domain>")


# --- identity ----------------------------------------------------------------------------------

def test_identity_is_deterministic_and_distinct():
    assert identity.derive_uuid("dc1", "web1") == identity.derive_uuid("dc1", "web1")
    assert identity.derive_uuid("dc1", "web1") != identity.derive_uuid("dc2", "web1")
    macs = {identity.derive_mac("dc1", f"web{guest}", nic) for guest in range(200) for nic in range(4)}
    assert len(macs) == 800


def test_derived_macs_are_locally_administered_unicast():
    mac = identity.derive_mac("dc1", "web1", 0)
    first = int(mac.split(":", maxsplit=1)[0], 16)
    assert mac.startswith("52:54:")
    assert first & 1 == 0 and first & 2 == 2


def test_known_identity_values_never_change():
    # Changing the derivation would give every existing inventory new MACs and UUIDs.
    assert identity.derive_uuid("dc1", "web1") == "ad6c7cef-53a4-5897-9149-02db667d3add"
    assert identity.derive_mac("dc1", "web1", 0) == "52:54:ca:bc:52:d3"


# --- classification ----------------------------------------------------------------------------

BASE = {"uuid": "u1", "machine": "pc-i440fx-7.2", "firmware": "bios", "domain_type": "kvm",
        "max_memory": 4096, "memory": 2048, "max_vcpus": 4, "vcpus": 2, "cpu_mode": None,
        "description": None, "cluster": "dc1", "managed": True,
        "disks": [FIELDS["disks"][0]], "nics": [FIELDS["nics"][0]]}


@pytest.mark.parametrize("change, label, when", [
    ({"memory": 4096}, "memory", LIVE),
    ({"memory": 512}, "memory", LIVE),
    ({"memory": 8192, "max_memory": 8192}, "memory", NEXT_BOOT),
    ({"max_memory": 8192}, "max_memory", NEXT_BOOT),
    ({"vcpus": 4}, "vcpus", LIVE),
    ({"vcpus": 1}, "vcpus", NEXT_BOOT),
    ({"max_vcpus": 8}, "max_vcpus", NEXT_BOOT),
    ({"machine": "pc-i440fx-7.1"}, "machine", NEXT_BOOT),
    ({"machine": "pc-q35-7.2"}, "machine", IMPOSSIBLE),
    ({"firmware": "uefi"}, "firmware", IMPOSSIBLE),
    ({"uuid": "u2"}, "uuid", IMPOSSIBLE),
    ({"domain_type": "qemu"}, "domain_type", NEXT_BOOT),
    ({"cpu_mode": "host-passthrough"}, "cpu_mode", NEXT_BOOT),
    ({"description": "x"}, "description", CONFIG),
    ({"managed": True, "cluster": "dc2"}, "cluster", CONFIG),
    ({"nics": FIELDS["nics"]}, "NIC 52:54:01:02:03:05", LIVE),
    ({"nics": []}, "NIC 52:54:01:02:03:04", LIVE),
    ({"nics": [dict(FIELDS["nics"][0], model="e1000")]}, "NIC 52:54:01:02:03:04", NEXT_BOOT),
    ({"disks": FIELDS["disks"]}, "disk sda", NEXT_BOOT),  # a SATA CD-ROM cannot be hotplugged
    ({"disks": [FIELDS["disks"][0], dict(FIELDS["disks"][0], target="vdb", boot_order=None)]},
     "disk vdb", LIVE),
    ({"disks": []}, "disk vda", LIVE),
    ({"disks": [dict(FIELDS["disks"][0], cache="writeback")]}, "disk vda", NEXT_BOOT),
])
def test_classification_table(change, label, when):
    desired = dict(BASE, **change)
    changes = classify(BASE, desired)
    by_label = {item.label: item.when for item in changes}
    assert by_label[label] == when


def test_classify_compares_only_the_fields_desired_holds():
    assert classify(dict(BASE, kernel="/boot/x"), {"memory": 2048}) == []


def test_impossible_changes_explain_why():
    [change] = classify(BASE, {"machine": "pc-q35-7.2"})
    assert "PCI" in change.why and "pc-i440fx-7.2 -> pc-q35-7.2" in change.why


# --- options -----------------------------------------------------------------------------------

def spec(**params):
    return GuestSpec(dict(option_defaults(), **params), "dc1")


def test_disk_targets_are_assigned_per_bus_after_explicit_ones():
    guest = spec(name="a", disks=[
        {"path": "/dev/vg/a", "target": "vda"}, {"path": "/var/lib/a.img"},
        {"path": "/var/lib/b.img", "bus": "sata"}],
        cloud_init={"user_data": {"packages": ["htop"]}})
    assert [(d["target"], d["type"]) for d in guest.disks] == [
        ("vda", "block"), ("vdb", "file"), ("sda", "file"), ("sdb", "file")]
    assert guest.disks[-1]["device"] == "cdrom"


def test_target_names_follow_libvirt():
    assert [target_name("vd", i) for i in (0, 25, 26, 27)] == ["vda", "vdz", "vdaa", "vdab"]


@pytest.mark.parametrize("params, message", [
    (dict(memory=2048, max_memory=1024), "memory: 2048 MiB is more than max_memory"),
    (dict(vcpus=4, max_vcpus=2), "vcpus: 4 is more than max_vcpus 2"),
    (dict(vcpus=0), "vcpus: 0 must be a positive integer"),
    (dict(disks=[{"path": "disk.img"}]), "disks[0].path: 'disk.img' must be an absolute path"),
    (dict(disks=[{"path": "/a", "target": "vda"}, {"path": "/b", "target": "vda"}]),
     "target vda is used twice"),
    (dict(nics=[{"bridge": "br0", "mac": "01:00:5e:00:00:01"}]), "not a unicast MAC"),
    (dict(nics=[{"bridge": "a-very-long-bridge-name"}]), "not a valid interface name"),
    (dict(uuid="nope"), "uuid: 'nope' is not a UUID"),
    (dict(xml="<domain>"), "xml: not well-formed"),
    (dict(kernel="vmlinuz"), "kernel: 'vmlinuz' must be an absolute path"),
])
def test_validation_names_the_option(params, message):
    with pytest.raises(ValidationError) as error:
        spec(name="a", **params)
    assert message in str(error.value)


def test_bad_guest_name_is_refused():
    with pytest.raises(ValidationError, match="not a valid libvirt domain name"):
        spec(name="a/b")


def test_a_guest_with_a_seed_needs_a_name_that_can_be_its_hostname():
    # The name becomes the seed's local-hostname: at most one DNS label of 63 characters.
    rule = r"'g{70}' cannot be a hostname \(a DNS label has at most 63 characters, this has 70\)"
    with pytest.raises(ValidationError, match=r"name \(the seed's local-hostname\): " + rule):
        spec(name="g" * 70, cloud_init={"user_data": {}})
    # Without a seed, or with meta-data that names the host itself, libvirt's rules alone apply.
    assert spec(name="g" * 70).name == "g" * 70
    meta_data = {"instance-id": "w", "local-hostname": "w"}
    assert spec(name="Web_1", cloud_init={"meta_data": meta_data}).name == "Web_1"


@pytest.mark.parametrize("wanted, current, result", [
    ("pc", "pc-i440fx-7.2", "pc-i440fx-7.2"),   # an alias asks for the family only
    ("pc", None, "pc"),                         # a new guest: libvirt resolves it on define
    ("q35", "pc-i440fx-7.2", "q35"),            # another family: a real (impossible) change
    ("pc-i440fx-7.1", "pc-i440fx-7.2", "pc-i440fx-7.1"),  # a version is taken as given
])
def test_machine_alias_keeps_the_version_of_its_family(wanted, current, result):
    guest = spec(name="a", machine=wanted)
    existing = {"machine": current, "nics": [], "uuid": None} if current else None
    assert guest.fields(existing)["machine"] == result


def test_existing_nics_keep_their_macs_by_position_unless_given():
    guest = spec(name="a", nics=[{"bridge": "br0"}, {"bridge": "br1"},
                                 {"bridge": "br2", "mac": "52:54:00:00:00:09"}])
    current = [{"mac": "52:54:00:aa:aa:aa"}, {"mac": "52:54:00:00:00:09"}]
    macs = guest.resolve_macs(current)
    # NIC 1's old MAC is claimed explicitly by NIC 2, so NIC 1 gets its derived MAC.
    assert macs == ["52:54:00:aa:aa:aa", identity.derive_mac("dc1", "a", 1), "52:54:00:00:00:09"]
