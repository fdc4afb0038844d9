# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A CPU model every blade can run: the cluster's baseline (``cluster_cpu_baseline``).

Each blade reports the CPU its hypervisor would give a ``host-model`` guest (the
``host-model`` mode of its domain capabilities, for the guests' domain type, arch and
machine): that is what QEMU can offer there, not the raw cpuid of the host.  One blade
then asks libvirt for the baseline of all of them (``virConnectBaselineHypervisorCPU``):
the newest model and features that every blade's hypervisor offers.  A guest with that
CPU runs, and can be moved, on any blade.
"""

from __future__ import annotations

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.domxml import XMLError, etree
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError

try:
    import libvirt
except ImportError:  # reported by the module through missing_required_lib
    libvirt = None


def _parse(xml):
    if etree is None:
        raise XMLError("the lxml Python library is required")
    return etree.fromstring(xml.encode(), etree.XMLParser(remove_blank_text=True, resolve_entities=False))


def host_model_cpu(domcaps_xml):
    """The domain capabilities' host-model CPU as a guest CPU definition (the XML that
    libvirt's baseline and compare APIs take), or None when the hypervisor has none."""
    root = _parse(domcaps_xml)
    mode = root.find("cpu/mode[@name='host-model']")
    if mode is None or mode.get("supported") != "yes" or mode.find("model") is None:
        return None
    cpu = etree.Element("cpu", mode="custom", match="exact")
    for child in list(mode):  # append moves each child
        if child.tag in ("model", "vendor", "feature"):
            cpu.append(child)
    return etree.tostring(cpu, encoding="unicode")


def read_host_cpu(conn, target):
    """What this blade offers a host-model guest of ``target`` (domain_type, arch, machine)."""
    caps = conn.getDomainCapabilities(None, target.get("arch") or "x86_64", target.get("machine"),
                                      target.get("domain_type") or "kvm", 0)
    root = _parse(caps)
    return {"xml": host_model_cpu(caps), "emulator": root.findtext("path"),
            "machine": root.findtext("machine"), "arch": root.findtext("arch"),
            "domain_type": root.findtext("domain")}


def baseline(conn, cpus, target):
    """The baseline CPU of ``cpus`` (what :func:`read_host_cpu` returned on each blade) for
    ``target``, as the domain module's ``cpu`` option; computed by this blade's libvirt."""
    missing = sorted(blade for blade, cpu in cpus.items() if not (cpu or {}).get("xml"))
    if missing:
        raise ReconcileError(
            f"cluster_cpu_baseline: {', '.join(missing)} report no host-model CPU for domain type "
            f"{target.get('domain_type') or 'kvm'} (virsh domcapabilities), so no baseline can be computed",
            blades=missing)
    xmls = [cpus[blade]["xml"] for blade in sorted(cpus)]
    first = cpus[sorted(cpus)[0]]
    try:
        answer = conn.baselineHypervisorCPU(first.get("emulator"), first.get("arch") or target.get("arch"),
                                            first.get("machine"), target.get("domain_type") or "kvm", xmls, 0)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
            raise ReconcileError(f"cluster_cpu_baseline: libvirt cannot compute a baseline of the blades' "
                                 f"CPUs: {exc.get_error_message()}") from None
        # A driver without the hypervisor API (libvirt < 4.4, or the test driver): the
        # plain baseline over the same definitions, as host CPUs.
        answer = conn.baselineCPU([_as_host_cpu(xml, target.get("arch") or "x86_64") for xml in xmls], 0)
    return cpu_option(answer)


def _as_host_cpu(xml, arch):
    cpu = _parse(xml)
    etree.SubElement(cpu, "arch").text = arch
    cpu.insert(0, cpu[-1])  # a host CPU names its arch first
    for key in ("mode", "match"):
        cpu.attrib.pop(key, None)
    for node in cpu.findall("feature[@policy='disable']"):
        cpu.remove(node)  # a host CPU lists what it has
    for node in list(cpu.iter()):
        for key in ("policy", "fallback"):
            node.attrib.pop(key, None)
    return etree.tostring(cpu, encoding="unicode")


def cpu_option(xml):
    """A ``<cpu>`` definition as the domain module's ``cpu`` option: a custom model and its
    added or removed features, sorted (the vendor follows from the model)."""
    cpu = _parse(xml)
    features = sorted(({"name": node.get("name"), "policy": node.get("policy") or "require"}
                       for node in cpu.findall("feature")), key=lambda feature: feature["name"])
    return {"mode": "custom", "model": cpu.findtext("model"), "features": features}


def host_cpu_identity(caps_xml):
    """What makes two hosts' CPUs the same for a host-passthrough guest, from the host
    capabilities: arch, vendor, model, signature, physical address bits and features (not
    the topology, page sizes, microcode or TSC counter, which differ between equal CPUs)."""
    cpu = _parse(caps_xml).find("host/cpu")
    if cpu is None:
        return None
    signature = cpu.find("signature")
    bits = cpu.find("maxphysaddr")
    return (cpu.findtext("arch"), cpu.findtext("vendor"), cpu.findtext("model"),
            tuple(sorted(signature.attrib.items())) if signature is not None else None,
            bits.get("bits") if bits is not None else None,
            tuple(sorted(node.get("name") for node in cpu.findall("feature"))))
