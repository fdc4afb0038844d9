# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hypervisor host basics: kernel modules that must be loaded and persist, and the
facts that say whether (and how fast) this host can run guests."""

from __future__ import annotations

import os
import re

from ansible_collections.openblade.kvm.plugins.module_utils._files import read_text, write_atomic
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import (
    DEFAULT_URI,
    Hypervisor,
    LibvirtFailure,
)
from ansible_collections.openblade.kvm.plugins.module_utils._lock import resource_lock
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    Plan,
    ReconcileError,
    Resource,
)

OWNED_HEADER = "# Managed by openblade.kvm (kernel_modules); local edits are overwritten.\n"
MODULE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,55}$")


def _normalise_module(name):
    # The kernel treats '-' and '_' in module names alike; /proc/modules shows '_'.
    return name.replace("-", "_")


class KernelModules(Resource):
    """Kernel modules loaded now and listed in a modules-load.d file that we own."""

    def __init__(self, runner, names, persist_file, proc_root="/", lock_dir=None):
        bad = [n for n in names if not MODULE_NAME.match(str(n))]
        if bad:
            raise ReconcileError(
                "names: {} is not a valid kernel module name (allowed: letters, digits, "
                "'_' and '-', at most 55 characters)".format(", ".join(repr(b) for b in bad))
            )
        if not os.path.isabs(persist_file) or not persist_file.endswith(".conf"):
            raise ReconcileError(
                f"persist_file: {persist_file!r} must be an absolute path ending in .conf "
                "(systemd-modules-load reads only *.conf)"
            )
        self.runner = runner
        self.names = sorted({_normalise_module(n) for n in names})
        self.persist_file = persist_file
        self.proc_root = proc_root
        self.lock_kwargs = {"lock_dir": lock_dir} if lock_dir else {}

    def lock(self):
        # hypervisor_host's lock: it loads modules and writes the same file.
        return resource_lock("host", "hypervisor", **self.lock_kwargs)

    def _loaded(self, name):
        # /sys/module/<name> exists for loaded modules and for ones built into the kernel.
        return os.path.isdir(os.path.join(self.proc_root, "sys/module", name))

    def _persisted(self):
        return read_text(self.persist_file)

    def observe(self):
        return {
            "loaded": sorted(n for n in self.names if self._loaded(n)),
            "persist_file": self._persisted(),
        }

    def desired(self, current):
        return {"loaded": list(self.names), "persist_file": self.render()}

    def render(self):
        return OWNED_HEADER + "".join(name + "\n" for name in self.names)

    def plan(self, current, desired):
        plan = Plan()
        for name in desired["loaded"]:
            if name not in current["loaded"]:
                plan.add(f"load kernel module {name}",
                         lambda name=name: self.runner.run(["modprobe", name]))
        if current["persist_file"] != desired["persist_file"]:
            verb = "create" if current["persist_file"] is None else "update"
            plan.add(f"{verb} {self.persist_file}", self._write)
        return plan

    def _write(self):
        write_atomic(self.persist_file, self.render(), what="modules-load file")


def cpu_virtualization_flag(cpuinfo_text):
    """'vmx' (Intel VT-x), 'svm' (AMD-V) or None, from /proc/cpuinfo."""
    for line in cpuinfo_text.splitlines():
        if line.startswith("flags"):
            flags = line.split(":", 1)[1].split()
            for flag in ("vmx", "svm"):
                if flag in flags:
                    return flag
            return None
    return None


def hypervisor_facts(read_file, connect, kvm_device="/dev/kvm"):
    """What this host can run, observed rather than assumed.

    KVM needs the CPU flag, /dev/kvm, and libvirt agreeing it can build a kvm domain
    (the last catches nested setups where the device exists but cannot run guests).
    ``connect()`` returns a connection.Hypervisor (see :func:`libvirt_connector`); when it
    cannot (no libvirtd, no python3-libvirt), the facts say so among their problems.
    """
    cpuinfo = read_file("/proc/cpuinfo") or ""
    meminfo = read_file("/proc/meminfo") or ""
    flag = cpu_virtualization_flag(cpuinfo)
    facts = {
        "cpu_virtualization_flag": flag,
        "kvm_device": os.path.exists(kvm_device),
        "cpu_count": sum(1 for line in cpuinfo.splitlines() if line.startswith("processor")),
        "memory_mib": 0,
        "libvirt_version": None,
        "qemu_emulator": None,
        "domain_types": [],
        "problems": [],
    }
    match = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.M)
    if match:
        facts["memory_mib"] = int(match.group(1)) // 1024
    try:
        hypervisor = connect()
    except LibvirtFailure as exc:
        facts["problems"].append(f"cannot connect to libvirtd: {exc.reason}")
    else:
        try:
            facts["libvirt_version"] = hypervisor.version()
            facts["domain_types"], facts["qemu_emulator"] = _domain_types(hypervisor.capabilities())
        finally:
            hypervisor.close()
    # libvirt lists kvm whenever /dev/kvm opens, but some nested hosts expose the device
    # without the CPU flag and fail on the first guest ("KVM internal error").
    if "kvm" in facts["domain_types"] and flag:
        facts["virt_type"] = "kvm"
    elif "qemu" in facts["domain_types"]:
        facts["virt_type"] = "qemu"
        facts["problems"].append(
            "no usable KVM (cpu flag: {}, /dev/kvm: {}): guests run under TCG software "
            "emulation, which is slow".format(flag or "none", "present" if facts["kvm_device"] else "missing")
        )
    else:
        facts["virt_type"] = None
        facts["problems"].append("libvirt offers no x86_64 qemu or kvm domain type")
    facts["can_run_guests"] = facts["virt_type"] is not None
    return facts


def libvirt_connector(uri=DEFAULT_URI):
    """The ``connect`` of :func:`hypervisor_facts`: the shared libvirt connection, whose
    failures (python3-libvirt missing too) the facts report as problems."""
    return lambda: Hypervisor(uri)


def _domain_types(capabilities_xml):
    """Domain types libvirt offers for x86_64 guests, and the emulator binary."""
    from lxml import etree

    root = etree.fromstring(capabilities_xml.encode())
    arch = root.find("./guest[os_type='hvm']/arch[@name='x86_64']")
    if arch is None:
        return [], None
    types = sorted({d.get("type") for d in arch.findall("domain")})
    return types, arch.findtext("emulator")
