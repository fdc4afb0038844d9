# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The running network state, from JSON only: ``ip -j``, ``bridge -j`` and
``networkctl --json``.  One :func:`observe` call takes a consistent-enough snapshot
of every link; the resources read the fields they manage from it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

IP_LINKS = ["ip", "-j", "-d", "link", "show"]
IP_ADDRESSES = ["ip", "-j", "address", "show"]
IP4_DEFAULT = ["ip", "-j", "-4", "route", "show", "default"]
IP6_DEFAULT = ["ip", "-j", "-6", "route", "show", "default"]
BRIDGE_PORTS = ["bridge", "-j", "link", "show"]
NETWORKCTL_LIST = ["networkctl", "--json=short", "list"]
NETWORKD_ACTIVE = ["systemctl", "is-active", "systemd-networkd.service"]

OBSERVE_COMMANDS = (IP_LINKS, IP_ADDRESSES, IP4_DEFAULT, IP6_DEFAULT, BRIDGE_PORTS, NETWORKCTL_LIST)


@dataclass
class Link:
    name: str
    kind: str | None = None          # bridge, vlan, bond, veth, ...; None for a NIC
    up: bool = False
    operstate: str = "UNKNOWN"
    mtu: int = 0
    min_mtu: int | None = None
    max_mtu: int | None = None
    master: str | None = None
    parent: str | None = None        # a VLAN's lower link
    info: dict = field(default_factory=dict)
    addresses: list = field(default_factory=list)  # global "address/prefixlen"
    port_state: str | None = None    # forwarding, listening, blocking, ... (bridge ports)
    network_file: str | None = None  # the .network file networkd applies
    admin_state: str | None = None   # networkd: configured, configuring, failed, unmanaged, ...


@dataclass
class Snapshot:
    links: dict
    default_routes: list  # [{"dev", "gateway", "family"}]

    def link(self, name):
        return self.links.get(name)

    def lower_of(self, name):
        """Links directly below ``name``: its ports or members, and a VLAN's parent."""
        below = {link.name for link in self.links.values() if link.master == name}
        link = self.links.get(name)
        if link is not None and link.parent:
            below.add(link.parent)
        return below

    def holders_of(self, address):
        """Links that hold ``address`` (no prefix length)."""
        return sorted(link.name for link in self.links.values()
                      if any(a.split("/")[0] == address for a in link.addresses))

    def gateway(self):
        """The first default gateway (IPv4 first), or None.

        An IPv6 router is usually link-local, and only reachable with its link named.
        """
        for route in self.default_routes:
            gateway = route.get("gateway")
            if gateway and gateway.lower().startswith("fe80:") and route.get("dev"):
                return f"{gateway}%{route['dev']}"
            if gateway:
                return gateway
        return None


def _link(entry):
    linkinfo = entry.get("linkinfo") or {}
    kind = linkinfo.get("info_kind")
    return Link(
        name=entry["ifname"],
        kind=kind,
        up="UP" in entry.get("flags", []),
        operstate=entry.get("operstate", "UNKNOWN"),
        mtu=entry.get("mtu", 0),
        min_mtu=entry.get("min_mtu"),
        max_mtu=entry.get("max_mtu"),
        master=entry.get("master"),
        # "link" names the lower device of a VLAN (absent when it lives in another netns).
        parent=entry.get("link") if kind == "vlan" else None,
        info=linkinfo.get("info_data") or {},
    )


def observe(runner):
    """Every link with its kind, MTU, master, addresses and networkd state."""
    links = {}
    for entry in runner.json(IP_LINKS):
        link = _link(entry)
        links[link.name] = link
    for entry in runner.json(IP_ADDRESSES):
        link = links.get(entry.get("ifname"))
        if link is None:
            continue
        link.addresses = [f"{a['local']}/{a['prefixlen']}" for a in entry.get("addr_info", [])
                          if a.get("scope") == "global" and "local" in a]
    for entry in runner.json(BRIDGE_PORTS):
        link = links.get(entry.get("ifname"))
        if link is not None:
            link.port_state = entry.get("state")
    routes = [{"dev": entry.get("dev"), "gateway": entry.get("gateway"), "family": "inet"}
              for entry in runner.json(IP4_DEFAULT)]
    # A kernel booted with ipv6.disable=1 refuses the query: no IPv6 default route then.
    ipv6 = runner.run(IP6_DEFAULT, check=False)
    if ipv6.rc == 0:
        routes += [{"dev": entry.get("dev"), "gateway": entry.get("gateway"), "family": "inet6"}
                   for entry in json.loads(ipv6.stdout or "[]")]
    for entry in runner.json(NETWORKCTL_LIST).get("Interfaces", []):
        link = links.get(entry.get("Name"))
        if link is not None:
            link.network_file = entry.get("NetworkFile")
            link.admin_state = entry.get("AdministrativeState")
    return Snapshot(links, routes)


def networkd_running(runner):
    return runner.run(NETWORKD_ACTIVE, check=False).stdout.strip() == "active"
