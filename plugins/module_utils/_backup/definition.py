# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A backed-up guest definition brought back onto a blade (guest_restore's ``define`` and
``as_guest``): the domain XML pointed at the restored volumes, the address ledger entries
merged into this blade's copy, and the look for another copy of the guest.

Pure where it can be (the XML and the ledger are dicts and strings in, strings out), so
the unit tier covers every rule; the Resource (restore.py) runs the commands.
"""

from __future__ import annotations

import shlex
import uuid

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.domxml import (
    METADATA_NS,
    etree,
    parse,
    to_string,
)
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.identity import GUEST_NAMESPACE
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError

# A copy (as_guest) is marked ours, but for this pseudo-cluster: no cluster plan counts
# it as one of its guests, and no guests_prune of a cluster removes it.
COPY_CLUSTER = "restore-copy"
SERIAL_DIR = "/var/log/libvirt/qemu"


def copy_uuid(original, name):
    """The UUID of a copy named ``name`` of the guest ``original``: stable across runs, never
    the original's."""
    return str(uuid.uuid5(GUEST_NAMESPACE, f"copy/{original}/{name}"))


def serial_log(name):
    return f"{SERIAL_DIR}/{name}.serial"


def prepare_xml(xml, name, guest_uuid, disk_paths, seed_paths, copy=False):
    """The domain XML to define: ``disk_paths`` {target: block device} and ``seed_paths``
    {backed-up path: path here} rewritten.  A ``copy`` (as_guest) gets its own name and
    UUID, no network interface (it must never meet the original's networks), its serial
    console in a file (what a restore test reads), and the copy's pseudo-cluster."""
    root = parse(xml)
    root.find("name").text = name
    root.find("uuid").text = guest_uuid
    devices = root.find("devices")
    for disk in devices.findall("disk"):
        target = disk.find("target")
        source = disk.find("source")
        dev = target.get("dev") if target is not None else None
        if dev in disk_paths:
            disk.set("type", "block")
            for child in list(disk):
                if child.tag == "source":
                    disk.remove(child)
            new = etree.Element("source", dev=disk_paths[dev])
            disk.insert(list(disk).index(target), new)
        elif source is not None and source.get("file") in seed_paths:
            source.set("file", seed_paths[source.get("file")])
    if copy:
        for tag in ("interface", "serial", "console"):
            for element in devices.findall(tag):
                devices.remove(element)
        serial = etree.SubElement(devices, "serial", type="file")
        etree.SubElement(serial, "source", path=serial_log(name))
        etree.SubElement(serial, "target", port="0")
        cluster = root.find(f"metadata/{{{METADATA_NS}}}guest/{{{METADATA_NS}}}cluster")
        if cluster is not None:
            cluster.text = COPY_CLUSTER
    return to_string(root)


def merge_ledger(ledger, guest, entries):
    """(the ledger with ``entries`` {partition: address} of ``guest`` in it, the entries
    added).  A partition where the guest holds another address, or where another guest
    holds that address, is refused: the restored guest would clash on its network."""
    merged = dict(ledger or {})
    partitions = {name: dict(members) for name, members in (merged.get("partitions") or {}).items()}
    added = {}
    for partition, address in sorted(entries.items()):
        members = partitions.setdefault(partition, {})
        if members.get(guest) == address:
            continue
        if guest in members:
            raise ReconcileError(
                f"the address ledger here gives {guest} {members[guest]} on partition {partition}, the "
                f"backup {address}; refusing to restore it with a clashing address",
                guest=guest,
            )
        holder = next((name for name, held in members.items() if held == address), None)
        if holder is not None:
            raise ReconcileError(
                f"address {address} of {guest} on partition {partition} is held by {holder} in the "
                "address ledger here; refusing to restore a second guest with it",
                guest=guest,
            )
        members[guest] = address
        added[partition] = address
    merged["partitions"] = partitions
    return merged, added


LOOK = ("uname -n; virsh -q domstate {name} 2>/dev/null && echo 'name: defined'; "
        "virsh -q domname {uuid} 2>/dev/null; true")


def look_elsewhere(runner, name, guest_uuid, here):
    """What another blade (an SSH runner) has of the guest: [] or its findings, e.g.
    ['guest web1 is running there'].  A blade whose node name is ``here`` is this blade
    itself (the backup blade restoring onto itself): what is here is checked locally."""
    out = runner.run(["sh", "-c", LOOK.format(name=shlex.quote(name), uuid=shlex.quote(guest_uuid))]).stdout
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    if not lines or lines[0] == here:
        return []
    lines = lines[1:]
    found = []
    if "name: defined" in lines:
        at = lines.index("name: defined")
        found.append(f"guest {name} is {lines[at - 1] if at else 'defined'} there")
        lines = lines[at + 1:]
    found += [f"guest {other} has UUID {guest_uuid} there" for other in lines if other != name]
    return found
