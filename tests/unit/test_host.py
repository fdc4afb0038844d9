# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel modules (check == real, idempotence, validation) and hypervisor facts
(against libvirt's test:///default driver)."""

from __future__ import annotations

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._host import (
    OWNED_HEADER,
    KernelModules,
    cpu_virtualization_flag,
    hypervisor_facts,
    libvirt_connector,
)
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import connection
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import Hypervisor
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
    reconcile,
)
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner


def modules(runner, names, persist, root):
    return KernelModules(runner, names, str(persist), str(root), lock_dir=str(root / "lock"))


def fake_host(tmp_path, loaded):
    for name in loaded:
        (tmp_path / "sys/module" / name).mkdir(parents=True)
    return tmp_path


class LoadingRunner(FakeRunner):
    """modprobe 'loads' by creating /sys/module/<name>, like the kernel would."""

    def __init__(self, root, names):
        super().__init__({("modprobe", n): (0, "", "") for n in names})
        self.root = root

    def _execute(self, argv, data):
        result = super()._execute(argv, data)
        (self.root / "sys/module" / argv[1]).mkdir(parents=True)
        return result


CASES = {
    # name: (already loaded, file content before, expected actions)
    "fresh host": ([], None, ["load kernel module 8021q", "load kernel module dm_thin_pool",
                              "create {file}"]),
    "loaded, file missing": (["8021q", "dm_thin_pool"], None, ["create {file}"]),
    "file stale": (["8021q", "dm_thin_pool"], OWNED_HEADER + "8021q\n", ["update {file}"]),
    "converged": (["8021q", "dm_thin_pool"], OWNED_HEADER + "8021q\ndm_thin_pool\n", []),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_modules_check_mode_predicts_real_run(tmp_path, case):
    loaded, content, expected = CASES[case]
    root = fake_host(tmp_path, loaded)
    persist = root / "etc/modules-load.d/openblade-kvm.conf"
    if content is not None:
        persist.parent.mkdir(parents=True)
        persist.write_text(content)
    expected = [a.format(file=persist) for a in expected]
    names = ["8021q", "dm-thin-pool"]  # '-' and '_' mean the same to the kernel

    runner = LoadingRunner(root, ["8021q", "dm_thin_pool"])
    checked = reconcile(modules(runner, names, persist, root), check_mode=True)
    assert runner.calls == []
    assert (persist.read_text() if persist.exists() else None) == content

    real = reconcile(modules(runner, names, persist, root), diff_mode=True)
    assert (checked["changed"], checked["actions"]) == (real["changed"], real["actions"])
    assert real["actions"] == expected
    assert persist.read_text() == OWNED_HEADER + "8021q\ndm_thin_pool\n"
    assert real["diff"]["after"]["loaded"] == ["8021q", "dm_thin_pool"]

    again = reconcile(modules(runner, names, persist, root))
    assert again == {"changed": False, "actions": []}


@pytest.mark.parametrize("names, message", [
    (["8021q; reboot"], "'8021q; reboot' is not a valid kernel module name"),
    (["../evil"], "'../evil' is not a valid kernel module name"),
])
def test_kernel_module_names_are_validated_before_anything_runs(tmp_path, names, message):
    runner = FakeRunner({})
    with pytest.raises(ReconcileError, match=message.replace("(", r"\(")):
        KernelModules(runner, names, str(tmp_path / "x.conf"), str(tmp_path))
    assert runner.calls == []


def test_persist_file_must_be_a_conf_file(tmp_path):
    with pytest.raises(ReconcileError, match="must be an absolute path ending in .conf"):
        KernelModules(FakeRunner({}), ["8021q"], str(tmp_path / "modules"), str(tmp_path))


@pytest.mark.parametrize("flags, expected", [
    ("fpu vme vmx sse", "vmx"),
    ("fpu svm sse", "svm"),
    ("fpu sse hypervisor", None),
])
def test_cpu_virtualization_flag(flags, expected):
    assert cpu_virtualization_flag(f"processor\t: 0\nflags\t\t: {flags}\n") == expected


def files(flags):
    cpuinfo = f"processor\t: 0\nflags\t\t: {flags}\nprocessor\t: 1\nflags\t\t: {flags}\n"
    contents = {"/proc/cpuinfo": cpuinfo, "/proc/meminfo": "MemTotal:       4194304 kB\n"}
    return contents.get


def test_facts_from_libvirt_test_driver():
    # The test driver offers x86_64 hvm guests with domain type 'test' only.
    facts = hypervisor_facts(files("fpu vmx"), libvirt_connector("test:///default"),
                             kvm_device="/nonexistent")
    assert facts["libvirt_version"].count(".") == 2
    assert facts["cpu_count"] == 2
    assert facts["memory_mib"] == 4096
    assert facts["cpu_virtualization_flag"] == "vmx"
    assert facts["virt_type"] is None
    assert facts["can_run_guests"] is False
    assert "no x86_64 qemu or kvm domain type" in facts["problems"][-1]


class FakeConnection:
    def __init__(self, types):
        self.types = types

    def getLibVersion(self):
        return 9000000

    def getCapabilities(self):
        domains = "".join(f"<domain type='{t}'/>" for t in self.types)
        return ("<capabilities><guest><os_type>hvm</os_type><arch name='x86_64'>"
                f"<emulator>/usr/bin/qemu-system-x86_64</emulator>{domains}</arch></guest>"
                "</capabilities>")

    def close(self):
        pass


@pytest.mark.parametrize("flags, types, virt_type", [
    ("fpu vmx", ["qemu", "kvm"], "kvm"),
    # /dev/kvm opens but the CPU has no flag: nested setups that fail on first boot.
    ("fpu", ["qemu", "kvm"], "qemu"),
    ("fpu svm", ["qemu"], "qemu"),
])
def test_virt_type_needs_flag_and_libvirt(flags, types, virt_type):
    facts = hypervisor_facts(files(flags), lambda: Hypervisor(connection=FakeConnection(types)))
    assert facts["virt_type"] == virt_type
    assert facts["libvirt_version"] == "9.0.0"
    assert facts["qemu_emulator"] == "/usr/bin/qemu-system-x86_64"
    assert facts["can_run_guests"] is True
    assert bool(facts["problems"]) == (virt_type == "qemu")


def test_unreachable_libvirtd_is_a_problem_not_a_crash(tmp_path):
    # A real connection failure: the test driver cannot read a node file that is not there.
    facts = hypervisor_facts(files("vmx"), libvirt_connector(f"test://{tmp_path}/missing.xml"))
    assert facts["can_run_guests"] is False
    problem = next(p for p in facts["problems"] if p.startswith("cannot connect to libvirtd: "))
    assert "cannot connect to libvirt at" not in problem  # libvirt's reason, said once


def test_missing_bindings_are_a_problem_not_a_crash(monkeypatch):
    monkeypatch.setattr(connection, "bindings", lambda: None)
    facts = hypervisor_facts(files("vmx"), libvirt_connector())
    assert facts["can_run_guests"] is False
    assert "cannot connect to libvirtd: python3-libvirt is not installed" in facts["problems"]
