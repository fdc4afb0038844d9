# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre-flight of a migration: everything that can be known before anything changes.

Each check returns refusals (strings); :func:`refuse` joins them into one error that
names the guest, the destination blade and every reason, so a user fixes them all at
once instead of one per run.  The checks run in check mode too, which is what makes a
check-mode migration a real rehearsal.
"""

from __future__ import annotations

import os

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import model
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.base import max_overcommit, overcommit
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError

try:
    import libvirt
except ImportError:  # reported by the module through missing_required_lib
    libvirt = None

_MIB = 2**20


class Refused(ReconcileError):
    """The pre-flight refused the migration."""


def refuse(guest, blade, reasons):
    if reasons:
        raise Refused(
            f"guest {guest}: refusing to migrate to {blade}: " + "; ".join(reasons),
            guest=guest,
            destination=blade,
            refusals=list(reasons),
        )


# --- the guest itself --------------------------------------------------------------------


def guest_refusals(root, state):
    """Devices and states no migration without shared storage can carry."""
    reasons = []
    devices = root.find("devices")
    hostdevs = devices.findall("hostdev") if devices is not None else []
    if hostdevs:
        kinds = sorted({node.get("type", "?") for node in hostdevs})
        reasons.append(
            f"it has {len(hostdevs)} passthrough device(s) ({', '.join(kinds)}), which cannot move"
        )
    if root.find("os/nvram") is not None or root.find("os[@firmware='efi']") is not None:
        reasons.append("it has UEFI NVRAM, which libvirt 9.0 does not copy (not supported yet)")
    if state == "paused":
        reasons.append("it is paused; resume or stop it first")
    return reasons


def cpu_refusals(dest, root, live_root, source_host_cpu, dest_host_cpu):
    """The guest's CPU against the destination: libvirt's hypervisor CPU comparison for a
    named model; host-passthrough only between blades whose host CPUs are identical."""
    cpu = (live_root if live_root is not None else root).find("cpu")
    mode = cpu.get("mode", "custom") if cpu is not None else "custom"
    if mode == "host-passthrough":
        if source_host_cpu != dest_host_cpu:
            return [
                "its CPU is host-passthrough and the two blades' host CPUs differ (use a named "
                "or baseline CPU model)"
            ]
        return []
    if cpu is None or cpu.find("model") is None and mode == "custom":
        return []  # no CPU element: libvirt's default model, which every blade offers
    os_type = root.find("os/type")
    xml = model.etree.tostring(cpu, encoding="unicode")
    try:
        answer = dest.conn.compareHypervisorCPU(
            None, os_type.get("arch"), os_type.get("machine"), root.get("type"), xml, 0
        )
    except libvirt.libvirtError as exc:
        return [f"libvirt cannot compare its CPU there: {exc.get_error_message()}"]
    if answer == libvirt.VIR_CPU_COMPARE_INCOMPATIBLE:
        shown = cpu.findtext("model") or mode
        return [f"its CPU ({shown}) is incompatible with the destination's hypervisor CPU"]
    return []


def machine_refusals(dest, root):
    os_type = root.find("os/type")
    machine = os_type.get("machine")
    try:
        dest.conn.getDomainCapabilities(None, os_type.get("arch"), machine, root.get("type"), 0)
    except libvirt.libvirtError as exc:
        return [f"machine type {machine} is not supported there ({exc.get_error_message()})"]
    return []


# --- capacity ------------------------------------------------------------------------------


def capacity_refusals(dest, domains, fields, cpu_ratio, memory_reserve_mib):
    """The placement rule (plugin_utils/placement.py) against what runs there now
    (``domains``: the destination's guests)."""
    _model, memory_mib, cpus = dest.conn.getInfo()[:3]  # the Python binding gives MiB
    used_mib, used_vcpus = 0, 0
    for dom in domains:
        if dom.isActive():
            info = dom.info()
            used_mib += info[2] // 1024
            used_vcpus += info[3]
    reasons = []
    room = memory_mib - memory_reserve_mib - used_mib
    if fields["memory"] > room:
        reasons.append(
            f"not enough memory: it needs {fields['memory']} MiB, the blade has {memory_mib} MiB, "
            f"{used_mib} MiB in use and {memory_reserve_mib} MiB reserved ({max(room, 0)} MiB free)"
        )
    limit = cpus * cpu_ratio
    if used_vcpus + fields["vcpus"] > limit:
        reasons.append(
            f"not enough vCPUs: {used_vcpus} in use + {fields['vcpus']} > {cpus} cores x "
            f"{cpu_ratio:g} (cpu_ratio)"
        )
    return reasons


def anti_affinity_refusals(domains, apart_from):
    """The placement rule's anti-affinity: none of ``apart_from`` (the guest's group) may be
    among ``domains`` (the destination's guests), running or not, as the placement counts them."""
    there = {dom.name() for dom in domains}
    return [f"{name}, of its anti-affinity group, is defined there" for name in apart_from if name in there]


def pool_refusals(pool, lvs, volumes, where, live=False):
    """Room in the destination pool for the copy, and its overcommit limit.

    ``volumes`` are the source LVs.  A cold copy writes only their allocated data.  A live
    move's disk mirror writes their whole virtual size (zeros included), which the pool holds
    until the discard after the switch-over returns it, so it needs that much room.
    """
    if pool is None:
        return [f"thin pool {where} does not exist"]
    free = int(pool.size * (100 - (pool.data_percent or 0)) / 100)
    reasons = []
    if live:
        needed = sum(lv.size for lv in volumes)
        if needed > free:
            reasons.append(
                f"thin pool {where} has {free // _MIB} MiB free; a live move writes the disks' full "
                f"virtual size ({needed // _MIB} MiB) there during the copy and discards what the "
                "source does not hold only after the switch-over"
            )
    else:
        needed = sum(allocated(lv) for lv in volumes)
        if needed > free:
            reasons.append(
                f"thin pool {where} has {free // _MIB} MiB free, the disks hold {needed // _MIB} MiB"
            )
    limit = max_overcommit(pool)
    if limit is not None:
        ratio = overcommit(pool, lvs, sum(lv.size for lv in volumes))
        if ratio > limit:
            reasons.append(
                f"thin pool {where} would be overcommitted to {ratio:.2f}x, above its "
                f"max_overcommit of {limit:g}"
            )
    return reasons


def allocated(lv):
    """Bytes of pool data a thin volume holds (its data_percent of its size)."""
    return int(lv.size * (lv.data_percent or 0) / 100)


# --- networks and files ----------------------------------------------------------------------


def network_refusals(dest, remote, nics):
    reasons = []
    for nic in nics:
        if nic["partition"]:
            try:
                net = dest.conn.networkLookupByName(nic["partition"])
            except libvirt.libvirtError:
                reasons.append(
                    f"NIC {nic['mac']}: partition (libvirt network) {nic['partition']} does not exist there"
                )
                continue
            if not net.isActive():
                reasons.append(
                    f"NIC {nic['mac']}: partition (libvirt network) {nic['partition']} is not active there"
                )
        elif nic["bridge"]:
            probe = remote.run(["ip", "-j", "link", "show", "dev", nic["bridge"]], check=False)
            if probe.rc != 0:
                reasons.append(f"NIC {nic['mac']}: bridge {nic['bridge']} does not exist there")
    return reasons


def missing_files(remote, paths):
    """The paths (kernel, initrd, read-only images) that do not exist on the destination."""
    missing = []
    for path in paths:
        if remote.run(["test", "-e", path], check=False).rc != 0:
            missing.append(path)
    return missing


def referenced_files(fields):
    """Files the guest needs that no migration copies: kernel, initrd, read-only images."""
    paths = [fields[key] for key in ("kernel", "initrd") if fields.get(key)]
    paths += [disk["path"] for disk in fields["disks"] if disk["readonly"] and disk["path"]]
    return paths


def is_seed(path, seed_dir):
    return os.path.dirname(path) == seed_dir and path.endswith("-cidata.iso")
