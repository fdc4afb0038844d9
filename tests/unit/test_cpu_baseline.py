# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cluster_cpu_baseline and the host-passthrough rule, on capabilities recorded on lab
blades: a blade started with QEMU's ``-cpu Nehalem``, one with ``-cpu Skylake-Client``
(under TCG, which lacks some of Skylake's features, libvirt names it Westmere plus avx2,
bmi1, ...; see lab/blades.py's OPENBLADE_LAB_CPU_<n>), and a blade's domain
capabilities for TCG guests."""

# ruff: noqa: E501 - the recorded XML and the expected messages keep one line each

from __future__ import annotations

from pathlib import Path

import libvirt
import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._cluster import ClusterView
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import cpumodel, model
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import migrate_checks as checks
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError, reconcile
from ansible_collections.openblade.kvm.plugins.plugin_utils.cluster import baseline_line
from ansible_collections.openblade.kvm.tests.unit.test_cluster_plan import GUESTS, make

# hv, lock_dir and runner are pytest fixtures: pytest uses them by parameter name.
# pylint: disable-next=unused-import
from ansible_collections.openblade.kvm.tests.unit.test_libvirt_reconcile import (  # noqa: F401
    WEB,
    hv,
    lock_dir,
    run,
    runner,
)

FIXTURES = Path(__file__).parent / "fixtures" / "libvirt"
TCG = {"domain_type": "qemu", "arch": "x86_64", "machine": "pc"}


def recorded(name):
    return (FIXTURES / name).read_text()


def host_model_of(caps_name):
    """What a KVM blade's domain capabilities offer a host-model guest: its host CPU as a
    guest CPU definition (the lab's blades have no KVM, so this is built from their host
    capabilities, the way libvirt builds host-model for KVM)."""
    cpu = model.etree.fromstring(recorded(caps_name).encode()).find("host/cpu")
    out = model.etree.Element("cpu", mode="custom", match="exact")
    model.etree.SubElement(out, "model", fallback="forbid").text = cpu.findtext("model")
    model.etree.SubElement(out, "vendor").text = cpu.findtext("vendor")
    for node in cpu.findall("feature"):
        model.etree.SubElement(out, "feature", policy="require", name=node.get("name"))
    return model.etree.tostring(out, encoding="unicode")


class BaselineConnection:
    """Records the hypervisor baseline call and answers it as libvirt 9.0 on a blade does."""

    def __init__(self, answer, domcaps=None):
        self.answer, self.domcaps, self.calls = answer, domcaps, []

    def baselineHypervisorCPU(self, *args):  # noqa: N802 - libvirt's name
        self.calls.append(args)
        return self.answer

    def getDomainCapabilities(self, *args):  # noqa: N802 - libvirt's name
        self.calls.append(args)
        return self.domcaps


def test_the_host_model_cpu_of_domain_capabilities_keeps_model_vendor_and_each_features_policy():
    xml = cpumodel.host_model_cpu(recorded("domcaps-qemu-tcg.xml"))
    cpu = model.etree.fromstring(xml.encode())
    assert (cpu.tag, cpu.get("mode"), cpu.get("match")) == ("cpu", "custom", "exact")
    assert (cpu.findtext("model"), cpu.findtext("vendor")) == ("EPYC", "AMD")
    policies = {node.get("name"): node.get("policy") for node in cpu.findall("feature")}
    # A feature the model has but this hypervisor does not offer stays disabled.
    assert policies["vme"] == "disable" and policies["ss"] == "require"


def test_no_host_model_no_cpu():
    caps = "<domainCapabilities><cpu><mode name='host-model' supported='no'/></cpu></domainCapabilities>"
    assert cpumodel.host_model_cpu(caps) is None


def test_read_host_cpu_asks_the_domain_capabilities_of_the_guests_kind():
    conn = BaselineConnection(None, recorded("domcaps-qemu-tcg.xml"))
    found = cpumodel.read_host_cpu(conn, TCG)
    assert conn.calls == [(None, "x86_64", "pc", "qemu", 0)]
    assert (found["emulator"], found["machine"], found["arch"], found["domain_type"]) == (
        "/usr/bin/qemu-system-x86_64", "pc-i440fx-7.2", "x86_64", "qemu")
    assert found["xml"] == cpumodel.host_model_cpu(recorded("domcaps-qemu-tcg.xml"))


def test_baseline_of_two_generations_is_the_older_one_computed_by_libvirt():
    """libvirt's own baseline code (the test driver's plain baseline, which the hypervisor
    call falls back to) on a Nehalem and a Skylake-Client blade."""
    conn = libvirt.open("test:///default")
    cpus = {"blade1": {"xml": host_model_of("caps-westmere.xml")},
            "blade2": {"xml": host_model_of("caps-nehalem.xml")}}
    cpu = cpumodel.baseline(conn, cpus, {"domain_type": "kvm"})
    assert cpu["mode"] == "custom" and cpu["model"] == "Nehalem", cpu
    names = {feature["name"] for feature in cpu["features"]}
    skylake_only = {"avx2", "avx", "bmi1", "bmi2", "fma", "movbe", "xsave"}
    assert not names & skylake_only, names & skylake_only
    # Against either blade alone, the baseline is that blade's own model.
    alone = cpumodel.baseline(conn, {"blade1": cpus["blade1"]}, {"domain_type": "kvm"})
    assert alone["model"] == "Westmere"


def test_baseline_uses_the_hypervisor_call_with_the_first_blades_emulator_and_machine():
    answer = ("<cpu mode='custom' match='exact'><model fallback='forbid'>Nehalem</model><vendor>Intel</vendor>"
              "<feature policy='require' name='vme'/><feature policy='disable' name='aes'/></cpu>")
    conn = BaselineConnection(answer)
    cpus = {"blade2": {"xml": "<cpu>two</cpu>", "emulator": "/usr/bin/qemu-b", "machine": "pc-b", "arch": "x86_64"},
            "blade1": {"xml": "<cpu>one</cpu>", "emulator": "/usr/bin/qemu-a", "machine": "pc-a", "arch": "x86_64"}}
    cpu = cpumodel.baseline(conn, cpus, TCG)
    assert conn.calls == [("/usr/bin/qemu-a", "x86_64", "pc-a", "qemu", ["<cpu>one</cpu>", "<cpu>two</cpu>"], 0)]
    features = [{"name": "aes", "policy": "disable"}, {"name": "vme", "policy": "require"}]
    assert cpu == {"mode": "custom", "model": "Nehalem", "features": features}
    assert baseline_line(cpu) == "CPU baseline of the blades (guests without their own cpu): Nehalem -aes +vme"


def test_a_blade_without_a_host_model_cpu_is_named_before_any_call():
    conn = BaselineConnection("unused")
    with pytest.raises(ReconcileError, match=r"cluster_cpu_baseline: blade3 report no host-model CPU for domain "
                                             r"type qemu"):
        cpumodel.baseline(conn, {"blade1": {"xml": "<cpu/>"}, "blade3": None}, TCG)
    assert conn.calls == []


def test_cluster_info_reads_the_host_cpu_in_its_one_call_and_one_blade_computes_the_baseline(tmp_path):
    answer = "<cpu mode='custom' match='exact'><model fallback='forbid'>EPYC</model></cpu>"
    conn = BaselineConnection(answer, recorded("domcaps-qemu-tcg.xml"))

    class Inventory:
        hv = type("HV", (), {"conn": conn})()
        found = []

        def observe(self):
            pass
    libvirtd = tmp_path / "libvirtd"
    libvirtd.write_text("")
    view = reconcile(ClusterView("dc1", str(tmp_path), Inventory, libvirtd=str(libvirtd), cpu_target=TCG),
                     check_mode=True)
    assert view["host_cpu"]["xml"] == cpumodel.host_model_cpu(recorded("domcaps-qemu-tcg.xml"))
    assert "cpu_baseline" not in view
    both = {"blade1": view["host_cpu"], "blade2": view["host_cpu"]}
    view = reconcile(ClusterView("dc1", str(tmp_path), Inventory, libvirtd=str(libvirtd), cpu_target=TCG,
                                 cpu_baseline=both), check_mode=True)
    assert view["changed"] is False and view["cpu_baseline"] == {"mode": "custom", "model": "EPYC", "features": []}
    # A blade without libvirtd yet reports no CPU (the role then defers the baseline).
    new = reconcile(ClusterView("dc1", str(tmp_path), None, libvirtd=str(tmp_path / "none"), cpu_target=TCG))
    assert new["host_cpu"] is None


def test_the_baseline_cpu_on_a_running_guest_waits_for_its_next_boot_and_reruns_clean(hv, runner, lock_dir):  # noqa: F811
    conn = libvirt.open("test:///default")
    cpu = cpumodel.baseline(conn, {"blade1": {"xml": host_model_of("caps-westmere.xml")},
                                   "blade2": {"xml": host_model_of("caps-nehalem.xml")}}, {"domain_type": "kvm"})
    run(hv, runner, lock_dir, state="running", **WEB)
    result = run(hv, runner, lock_dir, state="running", cpu=cpu, **WEB)
    assert result["changed"] and {change["when"] for change in result["changes"]} == {"next_boot"}
    assert not run(hv, runner, lock_dir, state="running", cpu=cpu, **WEB)["changed"]


@pytest.mark.parametrize("other, refused", [
    ("caps-nehalem.xml", False),
    ("caps-westmere.xml", True),
])
def test_host_passthrough_moves_only_between_identical_host_cpus(other, refused):
    here = cpumodel.host_cpu_identity(recorded("caps-nehalem.xml"))
    # The same CPU with another topology, microcode and page sizes is still the same CPU.
    same = recorded("caps-nehalem.xml").replace("cores='2'", "cores='8'").replace("version='1'", "version='7'")
    assert cpumodel.host_cpu_identity(same) == here
    there = cpumodel.host_cpu_identity(recorded(other))
    root = model.etree.fromstring(b"<domain type='kvm'><cpu mode='host-passthrough'/></domain>")
    reasons = checks.cpu_refusals(None, root, None, here, there)
    assert bool(reasons) is refused
    if refused:
        assert reasons == ["its CPU is host-passthrough and the two blades' host CPUs differ (use a named or "
                           "baseline CPU model)"]


def test_the_plan_gives_the_baseline_to_guests_without_a_cpu_and_shows_it():
    own = {"mode": "host-passthrough"}
    guests = [dict(GUESTS[0], domain={"cpu": own})] + GUESTS[1:]
    cpu = {"mode": "custom", "model": "Nehalem", "features": [{"name": "ht", "policy": "require"}]}
    planned = make(guests=guests, cpu_baseline=cpu)
    by_name = {guest["name"]: guest for guest in planned["guests_list"]}
    assert by_name[GUESTS[0]["name"]]["cpu"] == own
    assert all(by_name[guest["name"]]["cpu"] == cpu for guest in GUESTS[1:])
    assert "CPU baseline of the blades (guests without their own cpu): Nehalem +ht" in planned["table"]
    # Without the option the plan is what it was.
    assert all("cpu" not in guest for guest in make()["guests_list"])
    assert "CPU baseline" not in make()["table"]
