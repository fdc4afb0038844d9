# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a bridge, a VLAN and a bond declare.

A spec validates its input when it is built (before any command runs) and answers
four questions for the engine: which files it owns, which links it attaches to (and
with which drop-in), which runtime fields it manages, and how a difference in each
field is repaired.  Everything else (ordering, the transaction, check mode) is the
engine's.
"""

from __future__ import annotations

from ansible_collections.openblade.kvm.plugins.module_utils import _validate as validate

# How a runtime difference is repaired, field by field.
LIVE = "live"                # a direct `ip link set ... type <kind> ...`
RECREATE = "recreate"        # the kernel cannot change it in place: delete, let networkd recreate
RECONFIGURE = "reconfigure"  # `networkctl reconfigure` the link re-applies its .network file
LOWER = "lower"              # ports or members: reconfigure the missing, release the removed
ADDRESSES = "addresses"      # reconfigure for missing ones, `ip address del` for extra ones

BOND_MODES = ("active-backup", "802.3ad")
XMIT_HASH_POLICIES = ("layer2", "layer2+3", "layer3+4")


def _unique_ifnames(values, option, owner):
    names = [validate.ifname(value, f"{option}[{index}]") for index, value in enumerate(values or [])]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise validate.ValidationError(
            f"{option}: {', '.join(duplicates)} listed more than once (each interface once)",
            option=option)
    if owner in names:
        raise validate.ValidationError(
            f"{option}: {owner!r} cannot be part of itself", option=option)
    return names


class LinkSpec:
    """One virtual device we create and own: a bridge, a VLAN or a bond."""

    kind = None
    # The drop-in role this spec places on other links, and the key it sets there.
    attach_role = None
    attach_key = None
    FIELDS = {}

    def __init__(self, name, state="present", mtu=None, scope=None, name_option="name"):
        self.name = validate.ifname(name, name_option)
        self.state = validate.one_of(state, "state", ("present", "absent"))
        self.mtu = None if mtu is None else validate.mtu(mtu, "mtu")
        self.scope = scope

    @property
    def present(self):
        return self.state == "present"

    @property
    def owner(self):
        label = f"{self.kind} {self.name}"
        return f"{self.scope}: {label}" if self.scope else label

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"

    # --- files ---------------------------------------------------------------------------

    def netdev_sections(self):
        return [("NetDev", [("Name", self.name), ("Kind", self.kind)])] + self.kind_sections()

    def kind_sections(self):
        return []

    def network_sections(self):
        network = [("LinkLocalAddressing", "no"), ("IPv6AcceptRA", "no")] + self.network_entries()
        link = [("MTUBytes", self.mtu)] if self.mtu else []
        if not self.addresses:
            # No address, nothing to wait for: boot must not stall in wait-online on it.
            link.append(("RequiredForOnline", "no"))
        return [("Match", [("Name", self.name)]), ("Network", network), ("Link", link)]

    def network_entries(self):
        return []

    @property
    def addresses(self):
        return []

    def lower_links(self):
        """Links that get this spec's drop-in: ports, members, or the VLAN's parent."""
        return []

    def attachment_sections(self):
        return [("Network", [(self.attach_key, self.name)])]

    # --- runtime -------------------------------------------------------------------------

    def runtime(self, existing):
        """The managed runtime fields as wanted; ``existing`` says which links exist now."""
        fields = {"kind": self.kind}
        if self.mtu:
            fields["mtu"] = self.mtu
        return fields

    def observed(self, link, snapshot, managed_lower):
        """The same fields as :meth:`runtime`, read from a running ``link``."""
        fields = {"kind": link.kind}
        if self.mtu:
            fields["mtu"] = link.mtu
        return fields

    def strategy(self, field):
        return {"kind": RECREATE, "mtu": RECONFIGURE}.get(field) or self.FIELDS[field]

    def live_argv(self, field, value):
        raise NotImplementedError(field)


def _lower_fields(link_names, snapshot, master):
    return sorted(name for name in link_names
                  if snapshot.link(name) is not None and snapshot.link(name).master == master)


class BridgeSpec(LinkSpec):
    kind = "bridge"
    attach_role = "bridge"
    attach_key = "Bridge"
    FIELDS = {"stp": LIVE, "ports": LOWER, "addresses": ADDRESSES}

    def __init__(self, name, state="present", mtu=None, stp=False, ports=None, addresses=None,
                 gateway=None, scope=None):
        super().__init__(name, state, mtu, scope)
        self.stp = bool(stp)
        self.ports = _unique_ifnames(ports, "ports", self.name)
        self._addresses = [validate.ip_interface(a, f"addresses[{i}]") for i, a in enumerate(addresses or [])]
        self.gateway = None if gateway is None else validate.ip_address(gateway, "gateway")
        if self.gateway and not self._addresses:
            raise validate.ValidationError(
                f"gateway: {self.gateway} needs an address on the bridge in the same subnet "
                "(set addresses)", option="gateway")

    @property
    def addresses(self):
        return self._addresses

    def kind_sections(self):
        return [("Bridge", [("STP", self.stp)])]

    def network_entries(self):
        entries = [("ConfigureWithoutCarrier", "yes")]
        entries += [("Address", address) for address in self._addresses]
        if self.gateway:
            entries.append(("Gateway", self.gateway))
        return entries

    def lower_links(self):
        return list(self.ports)

    def runtime(self, existing):
        fields = super().runtime(existing)
        fields.update(stp=self.stp, ports=sorted(p for p in self.ports if p in existing),
                      addresses=sorted(self._addresses))
        return fields

    def observed(self, link, snapshot, managed_lower):
        fields = super().observed(link, snapshot, managed_lower)
        # stp_state 1 is the kernel's STP, 2 a user-space daemon's (mstpd): both are "on".
        fields.update(stp=bool(link.info.get("stp_state")),
                      ports=_lower_fields(managed_lower, snapshot, self.name),
                      addresses=sorted(link.addresses))
        return fields

    def live_argv(self, field, value):
        return ["ip", "link", "set", "dev", self.name, "type", "bridge", "stp_state", "1" if value else "0"]


class VlanSpec(LinkSpec):
    kind = "vlan"
    attach_role = "vlan"
    attach_key = "VLAN"
    FIELDS = {"vlan_id": RECREATE, "parent": RECREATE}

    def __init__(self, parent, vlan_id, name=None, state="present", mtu=None, scope=None):
        if state == "absent" and name is not None and (parent is None or vlan_id is None):
            # Removing a VLAN needs only its name (pruning knows no more than that).
            super().__init__(name, state, mtu, scope)
            self.parent, self.vlan_id = parent, vlan_id
            return
        parent = validate.ifname(parent, "parent")
        vlan_id = validate.vlan_id(vlan_id, "vlan_id")
        option = "name"
        if name is None:
            name = f"{parent}.{vlan_id}"
            option = "name (derived as parent.vlan_id)"
        super().__init__(name, state, mtu, scope, name_option=option)
        if self.name == parent:
            raise validate.ValidationError(f"name: {self.name!r} cannot be its own parent", option="name")
        self.parent = parent
        self.vlan_id = vlan_id

    def kind_sections(self):
        return [("VLAN", [("Id", self.vlan_id)])]

    def lower_links(self):
        return [self.parent] if self.parent else []

    def runtime(self, existing):
        fields = super().runtime(existing)
        fields.update(vlan_id=self.vlan_id, parent=self.parent)
        return fields

    def observed(self, link, snapshot, managed_lower):
        fields = super().observed(link, snapshot, managed_lower)
        fields.update(vlan_id=link.info.get("id"), parent=link.parent)
        return fields


class BondSpec(LinkSpec):
    kind = "bond"
    attach_role = "bond"
    attach_key = "Bond"
    FIELDS = {"mode": RECREATE, "miimon": LIVE, "xmit_hash_policy": LIVE, "members": LOWER}
    _LIVE_KEYS = {"miimon": "miimon", "xmit_hash_policy": "xmit_hash_policy"}

    def __init__(self, name, members=None, mode="active-backup", miimon=100, xmit_hash_policy=None,
                 state="present", mtu=None, scope=None):
        super().__init__(name, state, mtu, scope)
        self.members = _unique_ifnames(members, "members", self.name)
        if self.present and not self.members:
            raise validate.ValidationError("members: a bond needs at least one member interface",
                                           option="members")
        self.mode = validate.one_of(mode, "mode", BOND_MODES)
        number = validate.as_int(miimon)
        if number is None or not 0 <= number <= 60000:
            raise validate.ValidationError(
                f"miimon: {miimon!r} is not a valid link monitoring interval (allowed: integers "
                "0-60000 milliseconds; 0 turns link monitoring off)", option="miimon")
        self.miimon = number
        if xmit_hash_policy is not None:
            validate.one_of(xmit_hash_policy, "xmit_hash_policy", XMIT_HASH_POLICIES)
            if self.mode != "802.3ad":
                raise validate.ValidationError(
                    f"xmit_hash_policy: {xmit_hash_policy!r} applies to mode 802.3ad only, "
                    f"not {self.mode}", option="xmit_hash_policy")
        self.xmit_hash_policy = xmit_hash_policy

    def kind_sections(self):
        bond = [("Mode", self.mode), ("MIIMonitorSec", f"{self.miimon}ms")]
        if self.xmit_hash_policy:
            bond.append(("TransmitHashPolicy", self.xmit_hash_policy))
        return [("Bond", bond)]

    def network_entries(self):
        return [("ConfigureWithoutCarrier", "yes")]

    def lower_links(self):
        return list(self.members)

    def runtime(self, existing):
        fields = super().runtime(existing)
        fields.update(mode=self.mode, miimon=self.miimon,
                      members=sorted(m for m in self.members if m in existing))
        if self.xmit_hash_policy:
            fields["xmit_hash_policy"] = self.xmit_hash_policy
        return fields

    def observed(self, link, snapshot, managed_lower):
        fields = super().observed(link, snapshot, managed_lower)
        fields.update(mode=link.info.get("mode"), miimon=link.info.get("miimon"),
                      members=_lower_fields(managed_lower, snapshot, self.name))
        if self.xmit_hash_policy:
            fields["xmit_hash_policy"] = link.info.get("xmit_hash_policy")
        return fields

    def live_argv(self, field, value):
        return ["ip", "link", "set", "dev", self.name, "type", "bond", self._LIVE_KEYS[field], str(value)]
