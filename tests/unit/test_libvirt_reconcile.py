# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest reconcile (domain, guests, guest_info) against libvirt's test:///default driver.

Every case runs in check mode first and must report the same ``changed`` and
``actions`` as the real run that follows; then the state is read back from libvirt.
"""

from __future__ import annotations

import os

import pytest

libvirt = pytest.importorskip("libvirt", reason="libvirt-python is a test requirement")

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import model  # noqa: E402
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import Hypervisor  # noqa: E402
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.resources import (  # noqa: E402
    Guest,
    GuestInventory,
    Guests,
)
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.spec import (  # noqa: E402
    domain_argument_spec,
    guests_argument_spec,
    option_defaults,
)
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (  # noqa: E402
    ReconcileError,
    reconcile,
)
from ansible_collections.openblade.kvm.plugins.module_utils._runner import (  # noqa: E402
    CommandResult,
    Runner,
)

BUILTIN = "test"  # the guest test:///default always has


class DriverHypervisor(Hypervisor):
    """test:///default implements neither device hotplug nor ACPI shutdown flags.

    Hotplug is recorded instead of done; ``acpi_obeyed`` chooses whether a guest reacts
    to the power button (the test driver's plain shutdown stops it at once).
    """

    poll_interval = 0.01

    def __init__(self):
        super().__init__(connection=libvirt.open("test:///default"))
        self.hotplugged = []
        self.unplugged = []
        self.acpi_obeyed = True

    def attach_live(self, dom, device_xml):
        self.hotplugged.append(model.etree.fromstring(device_xml))

    def detach_live(self, dom, device_xml):
        self.unplugged.append(model.etree.fromstring(device_xml))

    def shutdown_acpi(self, dom):
        if self.acpi_obeyed:
            dom.shutdown()


class IsoRunner(Runner):
    """Stands in for genisoimage: writes the output file and records the seed files."""

    def __init__(self):
        super().__init__(module=None)
        self.seeds = []

    def _execute(self, argv, data):
        assert argv[0] == "genisoimage" and argv[argv.index("-volid") + 1] == "cidata"
        files = {os.path.basename(path): open(path).read() for path in argv[argv.index("-quiet") + 1:]}
        self.seeds.append(files)
        with open(argv[argv.index("-output") + 1], "w") as handle:
            handle.write("ISO")
        return CommandResult(0, "", "")


@pytest.fixture
def hv():
    hypervisor = DriverHypervisor()
    yield hypervisor
    # test:///default is one shared state per process: leave it as we found it.
    for dom in hypervisor.conn.listAllDomains():
        if dom.name() == BUILTIN:
            continue
        if dom.isActive():
            dom.destroy()
        for snapshot in dom.listAllSnapshots():
            snapshot.delete()
        dom.undefine()


@pytest.fixture
def runner():
    return IsoRunner()


@pytest.fixture
def lock_dir(tmp_path):
    return str(tmp_path / "locks")


def params(**options):
    values = {name: spec.get("default") for name, spec in domain_argument_spec().items()}
    values.update(domain_type="qemu", cluster="dc1", shutdown_timeout=0)
    values.update(options)
    for index, disk in enumerate(values["disks"]):
        values["disks"][index] = dict({"type": "auto", "device": "disk", "format": "raw", "bus": None,
                                       "cache": "default", "target": None, "boot_order": None,
                                       "readonly": False}, **disk)
    for index, nic in enumerate(values["nics"]):
        values["nics"][index] = dict({"partition": None, "bridge": None, "model": "virtio", "mac": None},
                                     **nic)
    return values


def run(hv, runner, lock_dir, resource_class=Guest, diff=False, **options):
    """Check mode, then the real run; both must agree.  Returns the real result."""
    args = params(**options) if resource_class is Guest else options
    predicted = reconcile(resource_class(hv, runner, args, lock_dir=lock_dir), check_mode=True,
                          diff_mode=diff)
    result = reconcile(resource_class(hv, runner, args, lock_dir=lock_dir), check_mode=False,
                       diff_mode=diff)
    assert (predicted["changed"], predicted["actions"]) == (result["changed"], result["actions"])
    return result


def fields_of(hv, name):
    return model.read_fields(model.parse(hv.inactive_xml(hv.lookup(name))))


def state_of(hv, name):
    return hv.state(hv.lookup(name))


WEB = dict(name="web1", memory=256, max_memory=512, vcpus=1, max_vcpus=4,
           disks=[{"path": "/var/lib/libvirt/images/web1.qcow2", "format": "qcow2"}],
           nics=[{"partition": "office"}])


# --- create, idempotence, check mode ----------------------------------------------------------------

def test_create_running_guest_then_nothing_to_do(hv, runner, lock_dir):
    first = run(hv, runner, lock_dir, state="running", **WEB)
    assert first["changed"] and first["actions"] == ["define web1", "start web1"]
    assert state_of(hv, "web1") == "running"
    fields = fields_of(hv, "web1")
    assert fields["managed"] and fields["cluster"] == "dc1"
    assert fields["uuid"] == first["uuid"] and [nic["mac"] for nic in fields["nics"]] == first["macs"]
    assert fields["disks"][0]["target"] == "vda" and fields["disks"][0]["format"] == "qcow2"

    again = run(hv, runner, lock_dir, state="running", **WEB)
    assert not again["changed"] and again["actions"] == [] and not again["reboot_required"]
    assert (again["uuid"], again["macs"]) == (first["uuid"], first["macs"])


def test_check_mode_alone_changes_nothing(hv, runner, lock_dir):
    result = reconcile(Guest(hv, runner, params(state="running", **WEB), lock_dir=lock_dir),
                       check_mode=True)
    assert result["changed"] and result["actions"] == ["define web1", "start web1"]
    assert hv.lookup("web1") is None


def test_diff_shows_managed_fields_before_and_after(hv, runner, lock_dir):
    run(hv, runner, lock_dir, **WEB)
    result = run(hv, runner, lock_dir, diff=True, **{**WEB, "max_memory": 1024, "description": "shop"})
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert (before["max_memory"], after["max_memory"]) == (512, 1024)
    assert (before["description"], after["description"]) == (None, "shop")
    assert before["state"] == after["state"] == "stopped"
    assert "kernel" not in after  # not managed unless given


def test_identity_survives_a_cluster_rename(hv, runner, lock_dir):
    first = run(hv, runner, lock_dir, **WEB)
    renamed = run(hv, runner, lock_dir, **{**WEB, "cluster": "dc-renamed"})
    assert renamed["changes"] == [{"field": "cluster", "when": "config"}]
    assert (renamed["uuid"], renamed["macs"]) == (first["uuid"], first["macs"])
    assert fields_of(hv, "web1")["cluster"] == "dc-renamed"


# --- classification on a running guest -------------------------------------------------------------

def test_live_changes_apply_to_running_guest_and_config(hv, runner, lock_dir):
    run(hv, runner, lock_dir, state="running", **WEB)
    wanted = {**WEB, "memory": 384, "vcpus": 2, "nics": WEB["nics"] + [{"bridge": "br1"}]}
    result = run(hv, runner, lock_dir, state="running", **wanted)
    new_mac = result["macs"][1]
    assert result["actions"] == [
        f"update the persistent config of web1: memory, vcpus, NIC {new_mac}",
        "set memory of running web1 to 384 MiB",
        "set vCPUs of running web1 to 2",
        f"hotplug NIC {new_mac} into running web1",
    ]
    assert not result["reboot_required"]
    live = model.read_fields(model.parse(hv.live_xml(hv.lookup("web1"))))
    assert (live["memory"], live["vcpus"]) == (384, 2)
    # The hotplugged NIC is the one from the new persistent config.
    assert [node.find("mac").get("address") for node in hv.hotplugged] == [new_mac]
    assert [nic["mac"] for nic in fields_of(hv, "web1")["nics"]] == result["macs"]
    assert not run(hv, runner, lock_dir, state="running", **wanted)["changed"]


def test_next_boot_change_reports_reboot_and_keeps_running(hv, runner, lock_dir):
    run(hv, runner, lock_dir, state="running", **WEB)
    result = run(hv, runner, lock_dir, state="running", **{**WEB, "max_memory": 1024})
    assert result["actions"] == ["update the persistent config of web1: max_memory"]
    assert result["reboot_required"] and result["changes"] == [{"field": "max_memory", "when": "next_boot"}]
    assert state_of(hv, "web1") == "running"
    # The next run has nothing to do, but the reboot is still pending.
    again = run(hv, runner, lock_dir, state="running", **{**WEB, "max_memory": 1024})
    assert not again["changed"] and again["reboot_required"]


def test_restart_if_required_restarts_gracefully(hv, runner, lock_dir):
    run(hv, runner, lock_dir, state="running", **WEB)
    result = run(hv, runner, lock_dir, state="running", restart_if_required=True,
                 **{**WEB, "max_vcpus": 8})
    assert result["actions"] == [
        "update the persistent config of web1: max_vcpus",
        "shut down web1 to apply next-boot changes (ACPI shutdown, wait up to 0s)",
        "start web1",
    ]
    assert not result["reboot_required"] and state_of(hv, "web1") == "running"
    live = model.read_fields(model.parse(hv.live_xml(hv.lookup("web1"))))
    assert live["max_vcpus"] == 8


def test_impossible_change_fails_and_explains(hv, runner, lock_dir):
    run(hv, runner, lock_dir, **WEB)
    with pytest.raises(ReconcileError) as error:
        run(hv, runner, lock_dir, **{**WEB, "firmware": "uefi"})
    assert "cannot change firmware in place" in str(error.value)
    assert "recreate: true" in str(error.value)
    assert fields_of(hv, "web1")["firmware"] == "bios"


def test_recreate_keeps_identity(hv, runner, lock_dir):
    first = run(hv, runner, lock_dir, state="running", **WEB)
    result = run(hv, runner, lock_dir, state="running", recreate=True, **{**WEB, "firmware": "uefi"})
    assert result["actions"] == [
        "recreate web1: undefine (keeping disks and NVRAM) and define firmware"]
    assert result["reboot_required"] and state_of(hv, "web1") == "running"
    fields = fields_of(hv, "web1")
    assert fields["firmware"] == "uefi" and fields["uuid"] == first["uuid"]
    assert [nic["mac"] for nic in fields["nics"]] == first["macs"]


def test_given_uuid_that_differs_is_impossible(hv, runner, lock_dir):
    run(hv, runner, lock_dir, **WEB)
    with pytest.raises(ReconcileError, match="cannot change uuid in place"):
        run(hv, runner, lock_dir, uuid="0b7c6a53-98f4-4a36-9d6b-1f3f3f0f0f0f", **WEB)


# --- stop and remove ---------------------------------------------------------------------------

def test_stop_fails_cleanly_when_guest_ignores_acpi(hv, runner, lock_dir):
    run(hv, runner, lock_dir, state="running", **WEB)
    hv.acpi_obeyed = False
    with pytest.raises(ReconcileError, match="still running 0s after the ACPI shutdown request"):
        run(hv, runner, lock_dir, state="stopped", **WEB)
    assert state_of(hv, "web1") == "running"
    result = run(hv, runner, lock_dir, state="stopped", force_stop=True, **WEB)
    assert result["actions"] == ["stop web1 (ACPI shutdown, power off after 0s)"]
    assert state_of(hv, "web1") == "stopped"


def test_paused_and_resumed(hv, runner, lock_dir):
    run(hv, runner, lock_dir, state="running", **WEB)
    assert run(hv, runner, lock_dir, state="paused", **WEB)["actions"] == ["pause web1"]
    assert state_of(hv, "web1") == "paused"
    assert run(hv, runner, lock_dir, state="running", **WEB)["actions"] == ["resume web1"]
    assert state_of(hv, "web1") == "running"


def test_absent_refuses_snapshots_without_force(hv, runner, lock_dir):
    run(hv, runner, lock_dir, **WEB)
    hv.lookup("web1").snapshotCreateXML("<domainsnapshot><name>before-upgrade</name></domainsnapshot>")
    with pytest.raises(ReconcileError, match="has 1 snapshot; refusing to remove it"):
        run(hv, runner, lock_dir, name="web1", state="absent")
    assert hv.lookup("web1") is not None
    result = run(hv, runner, lock_dir, name="web1", state="absent", force=True)
    assert result["actions"] == ["undefine web1 (its disks are kept)"]
    assert hv.lookup("web1") is None
    assert not run(hv, runner, lock_dir, name="web1", state="absent")["changed"]


def test_absent_refuses_uefi_nvram_without_force(hv, runner, lock_dir):
    run(hv, runner, lock_dir, **{**WEB, "firmware": "uefi"})
    with pytest.raises(ReconcileError, match="UEFI NVRAM"):
        run(hv, runner, lock_dir, name="web1", state="absent")


def test_guest_made_by_hand_is_not_ours(hv, runner, lock_dir):
    hv.conn.defineXML("<domain type='qemu'><name>manual</name><memory unit='MiB'>64</memory>"
                      "<os><type>hvm</type></os></domain>")
    with pytest.raises(ReconcileError, match="not created by openblade.kvm"):
        run(hv, runner, lock_dir, name="manual", state="absent")
    with pytest.raises(ReconcileError, match="refusing to change it"):
        run(hv, runner, lock_dir, **{**WEB, "name": "manual"})
    adopted = run(hv, runner, lock_dir, force=True, **{**WEB, "name": "manual"})
    assert {"field": "managed", "when": "config"} in adopted["changes"]
    assert fields_of(hv, "manual")["managed"]


def test_running_guest_is_stopped_before_removal(hv, runner, lock_dir):
    run(hv, runner, lock_dir, state="running", **WEB)
    result = run(hv, runner, lock_dir, name="web1", state="absent")
    assert result["actions"] == ["stop web1 (ACPI shutdown, wait up to 0s)",
                                 "undefine web1 (its disks are kept)"]
    assert hv.lookup("web1") is None


# --- cloud-init seed -------------------------------------------------------------------------------

def test_seed_is_built_once_and_rebuilt_on_change(hv, runner, lock_dir, tmp_path):
    iso = str(tmp_path / "web1-cidata.iso")
    options = {**WEB, "cloud_init": {"user_data": {"packages": ["nginx"]}, "iso_path": iso}}
    result = run(hv, runner, lock_dir, **options)
    assert result["actions"] == [f"build cloud-init seed {iso} for web1", "define web1"]
    assert len(runner.seeds) == 1  # check mode built nothing
    seed_files = runner.seeds[0]
    assert seed_files["user-data"].startswith("#cloud-config\n") and '"nginx"' in seed_files["user-data"]
    assert '"instance-id": "web1"' in seed_files["meta-data"]
    cdrom = [disk for disk in fields_of(hv, "web1")["disks"] if disk["device"] == "cdrom"]
    assert cdrom == [dict(cdrom[0], path=iso, bus="sata", target="sda")]

    assert not run(hv, runner, lock_dir, **options)["changed"]
    changed = {**options, "cloud_init": dict(options["cloud_init"], user_data="#cloud-config\n{}\n")}
    result = run(hv, runner, lock_dir, **changed)
    assert result["actions"] == [f"build cloud-init seed {iso} for web1",
                                 "update the persistent config of web1: seed"]
    os.unlink(iso)  # a lost ISO is rebuilt
    assert run(hv, runner, lock_dir, **changed)["actions"] == [f"build cloud-init seed {iso} for web1"]


# --- template (the raw XML escape hatch) ----------------------------------------------------------------

def test_xml_template_is_the_base_and_its_changes_are_detected(hv, runner, lock_dir):
    template = ("<domain type='qemu'><name>ignored</name><os><type>hvm</type></os>"
                "<devices><watchdog model='i6300esb' action='reset'/></devices></domain>")
    run(hv, runner, lock_dir, xml=template, **WEB)
    root = model.parse(hv.inactive_xml(hv.lookup("web1")))
    assert root.find("devices/watchdog").get("action") == "reset"
    assert root.findtext("name") == "web1"
    assert not run(hv, runner, lock_dir, xml=template, **WEB)["changed"]
    result = run(hv, runner, lock_dir, xml=template.replace("reset", "poweroff"), **WEB)
    assert result["changes"] == [{"field": "template", "when": "next_boot"}]
    root = model.parse(hv.inactive_xml(hv.lookup("web1")))
    assert root.find("devices/watchdog").get("action") == "poweroff"


# --- guests: the whole list ------------------------------------------------------------------------

def guests_params(guests, **options):
    values = {name: spec.get("default") for name, spec in guests_argument_spec().items()}
    values.update(cluster="dc1", prune_shutdown_timeout=0, **options)
    values["guests"] = [params(**guest) for guest in guests]
    return values


def test_guests_reconciles_the_list_and_prunes_only_ours(hv, runner, lock_dir):
    hv.conn.defineXML("<domain type='qemu'><name>manual</name><memory unit='MiB'>64</memory>"
                      "<os><type>hvm</type></os></domain>")
    web2 = {**WEB, "name": "web2", "state": "running"}
    first = run(hv, runner, lock_dir, Guests, **guests_params([WEB, web2]))
    assert first["summary"]["created"] == ["web1", "web2"] and first["summary"]["started"] == ["web2"]
    assert first["actions"] == ["define web1", "define web2", "start web2"]
    assert first["guests"]["web2"]["actions"] == ["define web2", "start web2"]

    same = run(hv, runner, lock_dir, Guests, **guests_params([WEB, web2], prune=True))
    assert not same["changed"] and same["summary"]["unchanged"] == ["web1", "web2"]

    # A guest of another cluster on the same host is not ours to prune either.
    run(hv, runner, lock_dir, **{**WEB, "name": "other", "cluster": "dc2"})
    pruned = run(hv, runner, lock_dir, Guests,
                 **guests_params([{**WEB, "memory": 300}], prune=True))
    assert pruned["summary"]["updated"] == ["web1"]
    assert pruned["summary"]["removed"] == ["web2"] and pruned["summary"]["stopped"] == ["web2"]
    assert hv.lookup("web2") is None
    assert hv.lookup("manual") is not None and hv.lookup("other") is not None


def test_guests_prune_keeps_the_same_refusals(hv, runner, lock_dir):
    run(hv, runner, lock_dir, **{**WEB, "name": "web2"})
    hv.lookup("web2").snapshotCreateXML("<domainsnapshot><name>s1</name></domainsnapshot>")
    with pytest.raises(ReconcileError, match="web2 has 1 snapshot"):
        run(hv, runner, lock_dir, Guests, **guests_params([WEB], prune=True))
    # Planning failed before anything ran: web1 was not created either.
    assert hv.lookup("web1") is None


def test_guests_refuses_duplicate_names(hv, runner, lock_dir):
    with pytest.raises(ReconcileError, match="web1 listed more than once"):
        Guests(hv, runner, guests_params([WEB, WEB]), lock_dir=lock_dir)


def test_guests_reports_pending_reboots(hv, runner, lock_dir):
    web1 = {**WEB, "state": "running"}
    run(hv, runner, lock_dir, Guests, **guests_params([web1]))
    result = run(hv, runner, lock_dir, Guests, **guests_params([dict(web1, max_memory=2048)]))
    assert result["summary"]["reboot_required"] == ["web1"] and result["summary"]["updated"] == ["web1"]


# --- guest_info -----------------------------------------------------------------------------------------

def test_inventory_lists_guests_with_fields_and_ownership(hv, runner, lock_dir):
    created = run(hv, runner, lock_dir, state="running", **WEB)
    run(hv, runner, lock_dir, state="running", **{**WEB, "max_memory": 1024})
    result = reconcile(GuestInventory(hv), check_mode=False)
    assert not result["changed"]
    by_name = {guest["name"]: guest for guest in result["guests"]}
    assert set(by_name) == {"web1", BUILTIN}
    web1 = by_name["web1"]
    assert web1["managed"] and web1["state"] == "running" and web1["reboot_pending"]
    assert web1["nics"] == [
        {"mac": created["macs"][0], "partition": "office", "bridge": None, "model": "virtio"}]
    assert not by_name[BUILTIN]["managed"]
    only_ours = reconcile(GuestInventory(hv, managed_only=True), check_mode=False)
    assert [guest["name"] for guest in only_ours["guests"]] == ["web1"]


def test_option_defaults_cover_every_option():
    assert set(option_defaults()) == set(domain_argument_spec()) - {"uri", "cluster"}


# --- the CPU model (a field added through the field table) ---------------------------------------

CPU = {"mode": "custom", "model": "qemu64",
       "features": [{"name": "svm", "policy": "disable"}, {"name": "lahf_lm", "policy": None}]}


def test_cpu_model_and_features_are_written_and_a_change_waits_for_the_next_boot(hv, runner, lock_dir):
    first = run(hv, runner, lock_dir, state="running", cpu=CPU, **WEB)
    assert first["actions"] == ["define web1", "start web1"]
    cpu = model.parse(hv.inactive_xml(hv.lookup("web1"))).find("cpu")
    assert (cpu.get("mode"), cpu.findtext("model")) == ("custom", "qemu64")
    assert {node.get("name"): node.get("policy") for node in cpu.findall("feature")} == {
        "lahf_lm": "require", "svm": "disable"}
    assert not run(hv, runner, lock_dir, state="running", cpu=CPU, **WEB)["changed"]

    newer = dict(CPU, model="kvm64", features=[{"name": "svm", "policy": "disable"}])
    result = run(hv, runner, lock_dir, state="running", diff=True, cpu=newer, **WEB)
    assert result["changes"] == [{"field": "cpu_model", "when": "next_boot"},
                                 {"field": "cpu_features", "when": "next_boot"}]
    assert result["actions"] == ["update the persistent config of web1: cpu_model, cpu_features"]
    assert result["reboot_required"] and state_of(hv, "web1") == "running"
    diff = result["diff"]
    assert (diff["before"]["cpu_model"], diff["after"]["cpu_model"]) == ("qemu64", "kvm64")
    assert fields_of(hv, "web1")["cpu_features"] == [{"name": "svm", "policy": "disable"}]
    assert not run(hv, runner, lock_dir, state="running", cpu=newer, **WEB)["changed"]


def test_cpu_custom_without_a_model_fails_before_anything_runs(hv, runner, lock_dir):
    with pytest.raises(ReconcileError, match=r"guest web1: cpu.model: mode custom needs a model"):
        run(hv, runner, lock_dir, cpu={"mode": "custom", "model": None, "features": []}, **WEB)
    assert hv.lookup("web1") is None
