"""hypervisor_info against the host's real libvirtd: the facts match what the host says."""

from __future__ import annotations

import os


def test_hypervisor_info_reports_this_host(run_module, conn):
    facts = run_module("hypervisor_info", {})["hypervisor"]
    major, rest = divmod(conn.getLibVersion(), 1000000)
    assert facts["libvirt_version"] == f"{major}.{rest // 1000}.{rest % 1000}"
    assert facts["cpu_count"] == os.cpu_count()
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    assert facts["memory_mib"] == total_kib // 1024
    assert "qemu" in facts["domain_types"]
    assert facts["qemu_emulator"].endswith("qemu-system-x86_64")
    # KVM only with both the CPU flag and libvirt offering it; this host class has no
    # usable KVM, and the report must say TCG with the reason rather than pretend.
    expect_kvm = bool(facts["cpu_virtualization_flag"]) and "kvm" in facts["domain_types"]
    assert facts["virt_type"] == ("kvm" if expect_kvm else "qemu")
    assert facts["can_run_guests"] is True
    if not expect_kvm:
        assert any("TCG" in problem for problem in facts["problems"])


def test_hypervisor_info_reports_an_unreachable_libvirtd_as_a_problem(run_module):
    result = run_module("hypervisor_info", {"uri": "qemu+unix:///system?socket=/nonexistent"})
    assert result["changed"] is False
    assert result["hypervisor"]["can_run_guests"] is False
    assert any("cannot connect to libvirtd" in p for p in result["hypervisor"]["problems"])
