# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How each managed part of a libvirt domain XML is read and written.

These are the readers and writers the guest field table (:mod:`.fields`) binds to its
entries; :mod:`.model` reads and writes whole field sets with them.  Writers only touch
their own part, so PCI addresses, controllers and anything an administrator added by
hand survive a redefine.
"""

from __future__ import annotations

import hashlib

try:
    from lxml import etree
except ImportError:  # reported by the modules through missing_required_lib
    etree = None

# Our ownership marker lives in <metadata>, in a namespace of our own.
METADATA_NS = "urn:openblade:kvm:guest:1"
METADATA_PREFIX = "openblade"
_OB = f"{{{METADATA_NS}}}"

# libvirt memory units (docs: formatdomain.html#memory-allocation), in bytes.
_UNIT_BYTES = {
    "b": 1, "bytes": 1,
    "kb": 10 ** 3, "k": 2 ** 10, "kib": 2 ** 10,
    "mb": 10 ** 6, "m": 2 ** 20, "mib": 2 ** 20,
    "gb": 10 ** 9, "g": 2 ** 30, "gib": 2 ** 30,
    "tb": 10 ** 12, "t": 2 ** 40, "tib": 2 ** 40,
}
_MIB = 2 ** 20

SKELETON = """<domain type='kvm'>
  <name>unnamed</name>
  <os><type arch='x86_64'>hvm</type></os>
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices><memballoon model='virtio'/></devices>
</domain>"""


class XMLError(ValueError):
    """The XML is not a libvirt domain we can read."""


def parse(xml):
    if etree is None:
        raise XMLError("the lxml Python library is required")
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    try:
        root = etree.fromstring(xml, etree.XMLParser(remove_blank_text=True, resolve_entities=False))
    except etree.XMLSyntaxError as exc:
        raise XMLError(f"not well-formed XML: {exc}") from None
    if root.tag != "domain":
        raise XMLError(f"the root element is <{root.tag}>, expected <domain>")
    return root


def skeleton():
    return parse(SKELETON)


def to_string(root):
    return etree.tostring(root, pretty_print=True, encoding="unicode")


def fingerprint(xml):
    """A short hash of a document that ignores formatting (for the ``xml`` template)."""
    canonical = etree.tostring(parse(xml), method="c14n")
    return hashlib.sha256(canonical).hexdigest()[:16]


# --- small lxml helpers --------------------------------------------------------------------

def ensure(parent, path):
    """The element at ``path`` below ``parent``, creating missing steps."""
    node = parent
    for step in path.split("/"):
        child = node.find(step)
        if child is None:
            child = etree.SubElement(node, step)
        node = child
    return node


def remove_all(parent, path):
    for node in parent.findall(path):
        node.getparent().remove(node)


def text_of(parent, path):
    node = parent.find(path)
    if node is None or node.text is None:
        return None
    return node.text.strip()


def int_or_none(value):
    return None if value is None else int(value)


# --- memory and vCPUs ----------------------------------------------------------------------

def mib(node):
    if node is None or not (node.text or "").strip():
        return None
    unit = (node.get("unit") or "KiB").lower()
    if unit not in _UNIT_BYTES:
        raise XMLError(f"<{node.tag}> has an unknown unit {node.get('unit')!r}")
    return int(node.text.strip()) * _UNIT_BYTES[unit] // _MIB


def set_mib(root, tag, value):
    node = ensure(root, tag)
    node.set("unit", "KiB")
    node.text = str(value * 1024)


def read_vcpus(root):
    vcpu = root.find("vcpu")
    if vcpu is None:
        return None, None
    maximum = int(vcpu.text.strip())
    # After a vCPU hotplug the live XML lists each vCPU instead of using current=.
    listed = root.findall("vcpus/vcpu")
    if listed:
        return sum(1 for node in listed if node.get("enabled") == "yes"), maximum
    return int(vcpu.get("current", maximum)), maximum


def write_vcpus(root, current, maximum):
    vcpu = ensure(root, "vcpu")
    vcpu.text = str(maximum)
    if current is None or current == maximum:
        vcpu.attrib.pop("current", None)
    else:
        vcpu.set("current", str(current))
    # A per-vCPU list from an earlier hotplug would contradict the new counts.
    remove_all(root, "vcpus")


# --- CPU -----------------------------------------------------------------------------------

def read_cpu(root):
    cpu = root.find("cpu")
    if cpu is None:
        return None, None
    model = text_of(cpu, "model")
    # libvirt's default mode is custom, and it omits mode='custom' in some outputs.
    return cpu.get("mode", "custom" if model else None), model


def write_cpu(root, mode, model):
    # Mode and model only make sense together, and features of an old model would
    # not fit a new one, so the element is rewritten as a whole.
    remove_all(root, "cpu")
    if mode is None and model is None:
        return
    cpu = etree.SubElement(root, "cpu", mode=mode or "custom")
    if model:
        if (mode or "custom") == "custom":
            cpu.set("match", "exact")
        etree.SubElement(cpu, "model", fallback="forbid").text = model


# --- firmware ------------------------------------------------------------------------------

def read_firmware(root):
    os_node = root.find("os")
    if os_node is None:
        return "bios"
    if os_node.get("firmware") == "efi" or os_node.find("loader[@type='pflash']") is not None:
        return "uefi"
    return "bios"


def write_firmware(root, firmware):
    os_node = ensure(root, "os")
    if firmware == "uefi":
        os_node.set("firmware", "efi")
    else:
        os_node.attrib.pop("firmware", None)
        remove_all(os_node, "loader")
        remove_all(os_node, "nvram")


def has_nvram(root):
    return root.find("os/nvram") is not None or read_firmware(root) == "uefi"


# --- serial console --------------------------------------------------------------------------

def read_serial(root):
    serial = root.find("devices/serial")
    if serial is None:
        return False, None
    log = serial.find("log")
    return True, log.get("file") if log is not None else None


def write_serial(root, enabled, log_file):
    devices = ensure(root, "devices")
    # libvirt mirrors serial port 0 into <console>; rewrite both so they agree.
    remove_all(devices, "serial")
    for console in devices.findall("console"):
        target = console.find("target")
        if target is None or target.get("type") in (None, "serial"):
            devices.remove(console)
    if not enabled:
        return
    serial = etree.SubElement(devices, "serial", type="pty")
    if log_file:
        # virtlogd keeps the console output in this file, also while nobody is attached.
        etree.SubElement(serial, "log", file=log_file, append="on")
    etree.SubElement(serial, "target", port="0")
    console = etree.SubElement(devices, "console", type="pty")
    etree.SubElement(console, "target", type="serial", port="0")


# --- disks -------------------------------------------------------------------------------------

HOTPLUG_BUSES = ("virtio", "scsi", "usb")


def read_disk(node):
    source = node.find("source")
    path = None
    if source is not None:
        path = source.get("file") or source.get("dev")
    driver = node.find("driver")
    target = node.find("target")
    device = node.get("device", "disk")
    boot = node.find("boot")
    return {
        "target": target.get("dev") if target is not None else None,
        "bus": target.get("bus") if target is not None else None,
        "device": device,
        "type": node.get("type"),
        "path": path,
        # libvirt treats a missing driver type as raw (with format probing off).
        "format": (driver.get("type") if driver is not None else None) or "raw",
        "cache": (driver.get("cache") if driver is not None else None) or "default",
        # libvirt adds <readonly/> to every CD-ROM on its own.
        "readonly": node.find("readonly") is not None or device == "cdrom",
        "boot_order": int_or_none(boot.get("order")) if boot is not None else None,
    }


def disk_sources(node):
    """Everything a <disk> reads: the paths of its source and of its backing chain (file or
    dev), and the (pool, volume) pairs of a disk of type volume, which only libvirt can
    turn into paths.  Used by the in-use check of LVM volumes, which must see them all."""
    paths, volumes = set(), set()
    for source in node.iter("source"):
        paths |= {source.get(attribute) for attribute in ("dev", "file") if source.get(attribute)}
        if node.get("type") == "volume" and source.get("pool") and source.get("volume"):
            volumes.add((source.get("pool"), source.get("volume")))
    return paths, volumes


def write_disk(node, disk):
    node.set("type", disk["type"])
    node.set("device", disk["device"])
    driver = ensure(node, "driver")
    driver.set("name", "qemu")
    driver.set("type", disk["format"])
    if disk["cache"] in (None, "default"):
        driver.attrib.pop("cache", None)
    else:
        driver.set("cache", disk["cache"])
    source = ensure(node, "source")
    source.attrib.pop("file", None)
    source.attrib.pop("dev", None)
    source.set("dev" if disk["type"] == "block" else "file", disk["path"])
    target = ensure(node, "target")
    if target.get("bus") not in (None, disk["bus"]):
        # The old address belongs to the old bus; libvirt assigns a fitting one.
        remove_all(node, "address")
    target.set("dev", disk["target"])
    target.set("bus", disk["bus"])
    remove_all(node, "readonly")
    if disk["readonly"] or disk["device"] == "cdrom":
        etree.SubElement(node, "readonly")
    remove_all(node, "boot")
    if disk["boot_order"] is not None:
        etree.SubElement(node, "boot", order=str(disk["boot_order"]))


def disk_element(disk):
    node = etree.Element("disk")
    write_disk(node, disk)
    return node


def merge_devices(root, tag, items, key, read, write, make):
    """Make <devices>/<tag> match ``items``, matched by ``key``: existing elements are
    updated in place (keeping what we don't manage), new ones appended, unlisted removed."""
    devices = ensure(root, "devices")
    existing = {read(node)[key]: node for node in devices.findall(tag)}
    wanted = set()
    for item in items:
        wanted.add(item[key])
        node = existing.get(item[key])
        if node is None:
            devices.append(make(item))
        else:
            write(node, item)
    for value, node in existing.items():
        if value not in wanted:
            devices.remove(node)


def write_disks(root, disks):
    merge_devices(root, "disk", disks, "target", read_disk, write_disk, disk_element)
    if any(disk["boot_order"] is not None for disk in disks):
        # libvirt refuses per-device boot order next to <os><boot dev=.../>.
        remove_all(root, "os/boot")


# --- NICs --------------------------------------------------------------------------------------

def read_nic(node):
    mac = node.find("mac")
    source = node.find("source")
    model = node.find("model")
    # In the live XML a NIC on a network of forward mode bridge turns into
    # type='bridge' with both network= and bridge=; the network is what was asked for.
    network = source.get("network") if source is not None else None
    bridge = None
    if network is None and source is not None and node.get("type") == "bridge":
        bridge = source.get("bridge")
    return {
        "mac": mac.get("address").lower() if mac is not None else None,
        "partition": network,
        "bridge": bridge,
        "model": model.get("type") if model is not None else None,
    }


def write_nic(node, nic):
    ensure(node, "mac").set("address", nic["mac"])
    remove_all(node, "source")
    source = etree.SubElement(node, "source")
    if nic["partition"]:
        node.set("type", "network")
        source.set("network", nic["partition"])
    else:
        node.set("type", "bridge")
        source.set("bridge", nic["bridge"])
    remove_all(node, "model")
    if nic["model"]:
        etree.SubElement(node, "model", type=nic["model"])


def nic_element(nic):
    node = etree.Element("interface")
    write_nic(node, nic)
    return node


def write_nics(root, nics):
    merge_devices(root, "interface", nics, "mac", read_nic, write_nic, nic_element)


# --- ownership metadata --------------------------------------------------------------------

def marker_of(root):
    return root.find(f"metadata/{_OB}guest")


def read_marker(root):
    marker = marker_of(root)
    if marker is None:
        return {"managed": False, "cluster": None, "seed": None, "template": None}
    seed = marker.find(_OB + "seed")
    template = marker.find(_OB + "template")
    return {
        "managed": True,
        "cluster": text_of(marker, _OB + "cluster"),
        "seed": seed.get("sha256") if seed is not None else None,
        "template": template.get("sha256") if template is not None else None,
    }


def write_marker(root, fields):
    metadata = ensure(root, "metadata")
    marker = marker_of(root)
    if marker is None:
        marker = etree.SubElement(metadata, _OB + "guest", nsmap={METADATA_PREFIX: METADATA_NS})
    if "cluster" in fields:
        node = ensure(marker, _OB + "cluster")
        node.text = fields["cluster"]
    for key in ("seed", "template"):
        if key not in fields:
            continue
        for node in marker.findall(_OB + key):
            marker.remove(node)
        if fields[key]:
            etree.SubElement(marker, _OB + key, sha256=fields[key])


# --- machine types ---------------------------------------------------------------------------

# QEMU's unversioned machine aliases and the family each one points into.
MACHINE_ALIASES = {"pc": "pc-i440fx", "q35": "pc-q35"}


def machine_family(machine):
    """'pc-i440fx-7.2' -> 'pc-i440fx', 'pc-q35-7.1' and 'q35' -> 'pc-q35': versions of one
    family share a PCI topology, so libvirt can redefine between them."""
    if not machine:
        return machine
    if machine in MACHINE_ALIASES:
        return MACHINE_ALIASES[machine]
    parts = machine.split("-")
    while len(parts) > 1 and parts[-1].replace(".", "").isdigit():
        parts.pop()
    return "-".join(parts)


def drop_attr(root, path, attr):
    node = root.find(path)
    if node is not None:
        node.attrib.pop(attr, None)


def order_os(root):
    # libvirt's schema wants <type> first inside <os>; we may have created others before it.
    os_node = root.find("os")
    type_node = os_node.find("type") if os_node is not None else None
    if type_node is not None and os_node.index(type_node) != 0:
        os_node.remove(type_node)
        os_node.insert(0, type_node)
