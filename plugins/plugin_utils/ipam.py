# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest addresses: deterministic, and never handed to a second guest.

The ledger is ``{"cluster": NAME, "partitions": {PARTITION: {GUEST: ADDRESS}}}``.  Every
blade keeps a copy; a run reads all copies, merges them, allocates for the guests that
have no address yet, and writes the merged ledger back to every blade.

An entry is never removed when its guest leaves the inventory: the address stays
reserved for that guest name (the guest gets it back if it returns), so firewall rules,
DNS records and ARP caches that still name the old address never reach a new guest.
New guests take the lowest free address, in name order, so the same inventory and
ledger always give the same addresses.
"""

from __future__ import annotations

try:
    import netaddr
except ImportError:  # the cluster_plan filter says so when it is used (HAS_NETADDR)
    netaddr = None
    HAS_NETADDR = False
else:
    HAS_NETADDR = True


class AddressError(ValueError):
    pass


def merge_ledgers(copies, cluster):
    """Merge the ledger copies ``{blade: ledger or None}`` into one; disagreement is an error."""
    merged = {}
    owner = {}  # (partition, address) -> (guest, blade), to find an address given twice
    for blade in sorted(copies):
        ledger = copies[blade]
        if not ledger:
            continue
        if ledger.get("cluster") not in (None, cluster):
            raise AddressError(f"the address ledger on {blade} belongs to cluster {ledger.get('cluster')!r}, "
                               f"not {cluster!r}")
        for partition, entries in (ledger.get("partitions") or {}).items():
            known = merged.setdefault(partition, {})
            for guest, address in entries.items():
                if known.get(guest, address) != address:
                    raise AddressError(f"the ledgers disagree: {guest} on partition {partition} has "
                                       f"{known[guest]} on one blade and {address} on {blade}")
                holder = owner.setdefault((partition, address), (guest, blade))
                if holder[0] != guest:
                    raise AddressError(f"the ledgers disagree: {address} on partition {partition} belongs "
                                       f"to {holder[0]} ({holder[1]}) and to {guest} ({blade})")
                known[guest] = address
    return {"cluster": cluster, "partitions": {p: dict(sorted(e.items())) for p, e in sorted(merged.items())}}


def _reserved(partition):
    """Addresses of a partition that no guest may get: the host's and the router's."""
    reserved = set()
    if partition.get("host_address"):
        reserved.add(netaddr.IPNetwork(partition["host_address"]).ip)
    if partition.get("gateway"):
        reserved.add(netaddr.IPAddress(partition["gateway"]))
    return reserved


def _candidates(network, offset):
    """Host addresses of ``network`` from the ``offset``-th on, lowest first."""
    width = 32 if network.version == 4 else 128
    first = network.first + (1 if network.prefixlen < width - 1 else 0) + offset
    last = network.last - (1 if network.version == 4 and network.prefixlen < 31 else 0)
    return (netaddr.IPAddress(value, network.version) for value in range(first, last + 1))


def allocate(ledger, partitions, members, offset=10):
    """Give every guest an address on each partition it joins.

    ``partitions`` maps a partition name to its entry (``subnet``, optional ``host_address``
    and ``gateway``); ``members`` maps a partition name to the guest names on it.  Returns
    the new ledger; the input is not modified.  Addresses of guests that are no longer
    members stay reserved.
    """
    result = {"cluster": ledger.get("cluster"), "partitions": {}}
    for name in sorted(set(members) | set(ledger.get("partitions", {}))):
        entries = dict(ledger.get("partitions", {}).get(name, {}))
        guests = sorted(set(members.get(name, ())))
        if guests and name not in partitions:
            raise AddressError(f"partition {name!r} (of guest {guests[0]}) is not in network_partitions")
        if name in partitions:
            network = netaddr.IPNetwork(partitions[name]["subnet"])
            for guest, address in entries.items():
                if netaddr.IPAddress(address) not in network:
                    raise AddressError(f"the ledger gives {guest} {address} on partition {name}, outside its "
                                       f"subnet {network}; the subnet changed under existing guests "
                                       "(renumbering is not automatic: fix the ledger or the inventory)")
            taken = {netaddr.IPAddress(address) for address in entries.values()} | _reserved(partitions[name])
            free = (address for address in _candidates(network, offset) if address not in taken)
            for guest in guests:
                if guest in entries:
                    continue
                address = next(free, None)
                if address is None:
                    raise AddressError(f"partition {name} ({network}) has no free address left for {guest} "
                                       f"(addresses below the {offset + 1}th and those of former guests stay "
                                       "reserved)")
                entries[guest] = str(address)
        result["partitions"][name] = dict(sorted(entries.items()))
    return result


def interface(ledger, partitions, partition, guest):
    """'10.77.1.11/24': the guest's address on ``partition`` with the subnet's prefix length."""
    address = ledger["partitions"][partition][guest]
    return f"{address}/{netaddr.IPNetwork(partitions[partition]['subnet']).prefixlen}"
