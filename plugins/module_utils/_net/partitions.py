# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One inventory description of a host's network partitions -> the links that build it.

A partition is a VLAN on the trunk (one NIC, or a bond of two or more) and a bridge
on that VLAN, named ``<bridge_prefix><name>``.  Guests attach to the bridge (through
a libvirt network of the partition's name); the host holds no address on it unless
``host_address`` asks for one.  Partitions are isolated at layer 2 by their VLAN IDs;
a ``shared`` partition is an ordinary one that every guest which needs shared
services gets a NIC on, so reaching it never bridges two partitions.

:func:`partition_layout` is used on the controller (the role's filter, so a bad
inventory fails before anything connects) and on the target (the partitions module),
so both apply the same rules.
"""

from __future__ import annotations

import re

from ansible_collections.openblade.kvm.plugins.module_utils import _validate as validate
from ansible_collections.openblade.kvm.plugins.module_utils._net import units
from ansible_collections.openblade.kvm.plugins.module_utils._net.engine import Links
from ansible_collections.openblade.kvm.plugins.module_utils._net.links import (
    BOND_MODES,
    BondSpec,
    BridgeSpec,
    VlanSpec,
)

SCOPE = "partitions"
# Part of an interface name and a libvirt network name: keep it to what both accept.
PARTITION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


PARTITION_KEYS = ("name", "vlan", "subnet", "shared", "mtu", "host_address", "gateway")


def _fail(option, message):
    raise validate.ValidationError(f"{option}: {message}", option=option)


def partition_entry(index, entry, trunk_if, bridge_prefix):
    """One validated partition (``partitions[index]``) of a trunk; the inventory plugin checks
    entries one by one with it too."""
    where = f"partitions[{index}]"
    if not isinstance(entry, dict):
        _fail(where, f"{entry!r} is not a partition (a dict with name, vlan, subnet)")
    unknown = sorted(set(entry) - set(PARTITION_KEYS))
    if unknown:
        _fail(where, f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(PARTITION_KEYS)})")
    for key in ("name", "vlan", "subnet"):
        if entry.get(key) in (None, ""):
            _fail(f"{where}.{key}", "is required")
    name = entry["name"]
    if not isinstance(name, str) or not PARTITION_NAME.fullmatch(name):
        _fail(f"{where}.name", f"{name!r} is not a valid partition name (letters, digits, '-' and '_', "
              "starting with a letter or digit; it names a bridge and a libvirt network)")
    vlan = validate.vlan_id(entry["vlan"], f"{where}.vlan")
    subnet = validate.cidr(entry["subnet"], f"{where}.subnet")
    bridge = validate.ifname(f"{bridge_prefix}{name}",
                             f"{where}.name (as bridge name {bridge_prefix!r} + name)")
    vlan_if = validate.ifname(f"{trunk_if}.{vlan}", f"{where}.vlan (as VLAN interface trunk.vlan)")
    mtu = None if entry.get("mtu") is None else validate.mtu(entry["mtu"], f"{where}.mtu")
    host_address = None
    if entry.get("host_address"):
        host_address = validate.ip_interface(entry["host_address"], f"{where}.host_address")
        if validate.netaddr.IPNetwork(host_address).cidr != subnet:
            _fail(f"{where}.host_address", f"{host_address!r} is not in the partition's subnet {subnet}")
    gateway = None
    if entry.get("gateway"):
        # Not used on the host: guests get it as their default route (see the cluster role).
        gateway = validate.ip_address(entry["gateway"], f"{where}.gateway")
        if validate.netaddr.IPAddress(gateway) not in subnet:
            _fail(f"{where}.gateway", f"{gateway!r} is not in the partition's subnet {subnet}")
    return {"name": name, "vlan": vlan, "subnet": str(subnet), "shared": bool(entry.get("shared", False)),
            "mtu": mtu, "host_address": host_address, "gateway": gateway, "bridge": bridge,
            "vlan_interface": vlan_if}


def partition_layout(trunk, partitions, bond_name="bond0", bond_mode="active-backup", bond_miimon=100,
                     bond_xmit_hash_policy=None, trunk_mtu=None, bridge_prefix="br-"):
    """Validate the description and return the layout (a dict of plain data).

    Refuses duplicate names and VLAN IDs, overlapping subnets and names that do not fit
    the kernel's 15 characters, each with the offending values in the message.
    """
    if not isinstance(trunk, list) or not trunk:
        _fail("trunk", "needs at least one NIC")
    nics = [validate.ifname(nic, f"trunk[{index}]") for index, nic in enumerate(trunk)]
    if len(set(nics)) != len(nics):
        _fail("trunk", f"{nics} lists a NIC more than once")
    bond = None
    if len(nics) > 1:
        bond = {"name": validate.ifname(bond_name, "bond_name"), "members": nics,
                "mode": validate.one_of(bond_mode, "bond_mode", BOND_MODES), "miimon": bond_miimon,
                "xmit_hash_policy": bond_xmit_hash_policy}
        trunk_if = bond["name"]
    else:
        trunk_if = nics[0]
    if not isinstance(bridge_prefix, str):
        _fail("bridge_prefix", f"{bridge_prefix!r} is not a string")
    if not isinstance(partitions, list):
        _fail("partitions", f"{partitions!r} is not a list of partitions")
    layout = [partition_entry(index, entry, trunk_if, bridge_prefix)
              for index, entry in enumerate(partitions)]
    for key, what in (("name", "name"), ("vlan", "VLAN ID")):
        seen = {}
        for part in layout:
            if part[key] in seen:
                _fail("partitions", f"{what} {part[key]!r} is used by both {seen[part[key]]!r} and "
                      f"{part['name']!r} (each partition needs its own)")
            seen[part[key]] = part["name"]
    validate.cidr_overlaps({part["name"]: part["subnet"] for part in layout})
    largest = max((part["mtu"] for part in layout if part["mtu"]), default=None)
    if trunk_mtu is not None:
        trunk_mtu = validate.mtu(trunk_mtu, "trunk_mtu")
        if bond is None:
            _fail("trunk_mtu", "needs a bond (two or more trunk NICs); a single trunk NIC keeps the "
                  "MTU it has")
        if largest and largest > trunk_mtu:
            _fail("trunk_mtu", f"{trunk_mtu} is below the largest partition MTU {largest}; the trunk "
                  "must carry every partition's frames")
    elif bond is not None:
        trunk_mtu = largest
    if bond is not None:
        bond["mtu"] = trunk_mtu
    return {"trunk": trunk_if, "bond": bond, "partitions": layout}


def partition_specs(layout, prune_from=None):
    """The link specs of a layout; with ``prune_from`` (a Layout, or the FileView observe
    read), also the removal of every device an earlier partitions run created that this
    layout no longer has."""
    specs = []
    bond = layout["bond"]
    if bond:
        specs.append(BondSpec(bond["name"], bond["members"], bond["mode"], bond["miimon"],
                              bond["xmit_hash_policy"], mtu=bond["mtu"], scope=SCOPE))
    for part in layout["partitions"]:
        specs.append(VlanSpec(layout["trunk"], part["vlan"], mtu=part["mtu"], scope=SCOPE))
        specs.append(BridgeSpec(part["bridge"], mtu=part["mtu"], ports=[part["vlan_interface"]],
                                addresses=[part["host_address"]] if part["host_address"] else [],
                                scope=SCOPE))
    if prune_from is not None:
        specs += _stale_specs(prune_from, {spec.name for spec in specs})
    return specs


def _stale_specs(files, keep):
    """Removal specs for our partitions devices not in ``keep``: bridges, then VLANs, then bonds."""
    kinds = {"bridge": lambda name: BridgeSpec(name, state="absent", scope=SCOPE),
             "vlan": lambda name: VlanSpec(None, None, name=name, state="absent", scope=SCOPE),
             "bond": lambda name: BondSpec(name, state="absent", scope=SCOPE)}
    stale = []
    for path in files.netdev_files():
        owner = units.owner_of(files.read(path)) or ""
        scope, _sep, label = owner.partition(": ")
        kind, _sep, name = label.partition(" ")
        if scope == SCOPE and kind in kinds and name not in keep:
            stale.append((list(kinds).index(kind), name, kinds[kind](name)))
    return [entry[2] for entry in sorted(stale)]


class Partitions(Links):
    """The partitions module: the layout's bond, VLANs and bridges in one transaction."""

    def __init__(self, runner, params, layout=None, **options):
        self.partition_layout = partition_layout(
            params["trunk"], params["partitions"], params["bond_name"], params["bond_mode"],
            params["bond_miimon"], params["bond_xmit_hash_policy"], params["trunk_mtu"],
            params["bridge_prefix"])
        self.prune = bool(params["prune"])
        super().__init__(runner, partition_specs(self.partition_layout), layout=layout or units.Layout(),
                         **options)

    def observed_specs(self, view):
        # What is stale is read under the lock: a run that waited for another one must also
        # prune what that one created (read before the lock, it was missed).
        if self.prune:
            self.specs = partition_specs(self.partition_layout, prune_from=view)
            self.defined = {spec.name: spec for spec in self.specs if spec.present}

    def result(self, current, desired, plan, applied):
        return dict(super().result(current, desired, plan, applied), partitions=self.partition_layout)
