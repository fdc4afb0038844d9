# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deterministic, capacity-aware guest placement across blades (controller side).

Used by the ``place`` filter and by the cluster plan; it never contacts a host.
"""

from __future__ import annotations


class PlacementError(ValueError):
    pass


def _capacity(name, blade, cpu_ratio, memory_reserve_mib):
    try:
        return {
            "vcpus": int(blade["cores"]) * float(cpu_ratio),
            "memory_mib": int(blade["memory_mib"]) - int(memory_reserve_mib),
            "disk_gib": float(blade.get("pool_gib", 0)) * float(blade.get("max_overcommit", 1.0)),
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise PlacementError(f"blade {name}: needs numeric cores and memory_mib ({exc})") from None


def _demand(guest):
    try:
        return {
            "vcpus": int(guest["vcpus"]),
            "memory_mib": int(guest["memory_mib"]),
            "disk_gib": float(guest.get("disk_gib", 0)),
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise PlacementError(f"guest {guest.get('name')!r}: needs numeric vcpus and memory_mib ({exc})") from None


def _table(blades, capacity, used, unplaced):
    rows = ["| blade | vCPUs used/capacity | memory MiB used/capacity | disk GiB used/capacity |",
            "| --- | --- | --- | --- |"]
    for name in blades:
        cap, use = capacity[name], used[name]
        rows.append(f"| {name} | {use['vcpus']:g}/{cap['vcpus']:g} | {use['memory_mib']:g}/{cap['memory_mib']:g} "
                    f"| {use['disk_gib']:g}/{cap['disk_gib']:g} |")
    demand = {key: sum(_demand(g)[key] for g in unplaced) for key in ("vcpus", "memory_mib", "disk_gib")}
    rows.append(f"| (not placed: {', '.join(g['name'] for g in unplaced)}) | {demand['vcpus']:g} "
                f"| {demand['memory_mib']:g} | {demand['disk_gib']:g} |")
    return "\n".join(rows)


def place_guests(guests, blades, existing=None, cpu_ratio=4.0, memory_reserve_mib=2048, drained=()):
    """Return {guest name: blade name}; raise PlacementError when the guests don't fit.

    ``drained`` blades keep what is pinned or exists there (and count it) but receive
    nothing new: they are being emptied for maintenance.
    """
    existing = existing or {}
    if not blades:
        raise PlacementError("no blades to place guests on")
    names = sorted(blades)
    capacity = {n: _capacity(n, blades[n], cpu_ratio, memory_reserve_mib) for n in names}
    used = {n: {"vcpus": 0, "memory_mib": 0, "disk_gib": 0.0} for n in names}
    groups = {n: set() for n in names}  # anti-affinity groups present on each blade
    seen = set()
    for guest in guests:
        if guest.get("name") in seen:
            raise PlacementError(f"guest {guest.get('name')!r} is listed twice")
        seen.add(guest.get("name"))

    def fits(blade, guest):
        demand = _demand(guest)
        group = guest.get("anti_affinity")
        return (all(used[blade][k] + demand[k] <= capacity[blade][k] for k in demand
                    if demand[k] or k != "disk_gib")
                and not (group and group in groups[blade]))

    def assign(blade, guest):
        for key, value in _demand(guest).items():
            used[blade][key] += value
        if guest.get("anti_affinity"):
            groups[blade].add(guest["anti_affinity"])
        placement[guest["name"]] = blade

    placement = {}
    pinned = [g for g in guests if g.get("blade") or existing.get(g["name"])]
    free = [g for g in guests if not (g.get("blade") or existing.get(g["name"]))]
    # Pinned guests are where they are (or must be); a pinned guest that does not fit is
    # still an error, because the plan would overcommit that blade.
    for guest in sorted(pinned, key=lambda g: g["name"]):
        blade = guest.get("blade") or existing[guest["name"]]
        if blade not in blades:
            raise PlacementError(f"guest {guest['name']!r}: blade {blade!r} is not in the cluster "
                                 f"(blades: {', '.join(names)})")
        if not fits(blade, guest):
            raise PlacementError(f"guest {guest['name']!r} does not fit on its blade {blade}:\n"
                                 + _table(names, capacity, used, [guest]))
        assign(blade, guest)
    # Largest first, name as tie-breaker, so the result depends only on the inventory.
    order = sorted(free, key=lambda g: (-_demand(g)["memory_mib"], -_demand(g)["vcpus"], g["name"]))
    unplaced = []
    for guest in order:
        candidates = [b for b in names if b not in drained and fits(b, guest)]
        if not candidates:
            unplaced.append(guest)
            continue
        # Spread: the blade with the most free memory, then fewest vCPUs used, then by name.
        best = min(candidates, key=lambda b: (-(capacity[b]["memory_mib"] - used[b]["memory_mib"]),
                                              used[b]["vcpus"], b))
        assign(best, guest)
    if unplaced:
        reasons = [f"{g['name']}: anti-affinity group {g['anti_affinity']!r} is already on every blade "
                   "with room" for g in unplaced
                   if g.get("anti_affinity") and any(fits(b, dict(g, anti_affinity=None))
                                                     for b in names if b not in drained)]
        if drained:
            reasons.append(f"drained blades (they receive no guest): {', '.join(sorted(drained))}")
        raise PlacementError("these guests do not fit on the blades (capacity after placing the others):\n"
                             + _table(names, capacity, used, unplaced)
                             + "".join("\n" + reason for reason in reasons))
    return placement
