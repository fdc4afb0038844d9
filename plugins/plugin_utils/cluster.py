# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster plan: from the inventory's guests to each blade's clones and domains.

Pure and controller-side.  Given the inventory and what the blades report (where our
guests are defined, their copies of the address ledger) it decides placement and
addresses and writes out what the storage and guests roles apply.  Nothing here
touches a host, so a bad inventory fails before any change.
"""

from __future__ import annotations

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.identity import derive_mac
from ansible_collections.openblade.kvm.plugins.module_utils._validate import (
    ValidationError,
    domain_name,
    hostname,
    lvm_name,
    size_bytes,
)
from ansible_collections.openblade.kvm.plugins.plugin_utils import ipam
from ansible_collections.openblade.kvm.plugins.plugin_utils.placement import place_guests

GIB = 1024 ** 3
GUEST_KEYS = ("name", "image", "blade", "anti_affinity", "vcpus", "memory", "disk_size", "partitions",
              "state", "user_data", "domain")
# Domain options the plan writes itself; a guest's ``domain`` passthrough may not set them.
PLANNED_OPTIONS = ("name", "state", "vcpus", "memory", "disks", "nics", "cloud_init")
ROOT_SUFFIX = "-root"
DRAINED = "drained"  # the ledger's key: blades that receive no new guest
# Which existing guests the plan may move: none (site.yml's default: a changed pin is
# refused), drained (evacuate.yml: the guests of a drained blade), all (also changed pins).
MIGRATE = ("none", "drained", "all")
LIVE = ("running", "paused")  # guest_info states that guest_migrate moves live


class PlanError(ValueError):
    pass


def _golden_images(images, pools):
    """Image name -> where new clones come from: the last listed version of that name."""
    default_vg = pools[0]["vg"] if pools else None
    default_pool = pools[0].get("pool", "thinpool") if pools else None
    found = {}
    for image in images:
        vg = image.get("vg") or default_vg
        if not vg:
            raise PlanError(f"golden image {image['name']}: no volume group (set storage_pools or its vg)")
        found[image["name"]] = {
            "vg": vg, "pool": image.get("pool") or default_pool,
            "lv": f"{image['name']}-{image['version']}",
            "size": size_bytes(image["size"], f"storage_golden_images {image['name']}.size")
            if image.get("size") else None,
        }
    return found


def guest_problems(index, guest, golden, partitions, blades):
    """Every rule ``cluster_guests[index]`` breaks, one message each (an empty list if none)."""
    where = f"cluster_guests[{index}]"
    if not isinstance(guest, dict):
        return [f"{where}: {guest!r} is not a guest (a dict with name, image, ...)"]
    problems = []

    def rule(check, *args):
        try:
            check(*args)
        except (PlanError, ValidationError) as exc:
            problems.append(str(exc))
            return False
        return True

    unknown = sorted(set(guest) - set(GUEST_KEYS))
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(GUEST_KEYS)})")
    name = guest.get("name")
    # The name is the libvirt domain's, the guest's hostname and part of its disk's LV name.
    if rule(domain_name, name, f"{where}.name") and \
            rule(hostname, name, f"{where}.name (the guest's hostname)"):
        rule(lvm_name, name + ROOT_SUFFIX, f"{where}.name (as the disk's LV name {name}{ROOT_SUFFIX})")
    label = f"{where} ({name})" if isinstance(name, str) else where
    if guest.get("image") not in golden:
        problems.append(f"{label}.image: {guest.get('image')!r} is not a golden image of "
                        f"storage_golden_images (known: {', '.join(sorted(golden)) or 'none'})")
    for partition in guest.get("partitions") or []:
        if partition not in partitions:
            problems.append(f"{label}.partitions: {partition!r} is not in network_partitions "
                            f"(known: {', '.join(sorted(partitions)) or 'none'})")
    if guest.get("blade") and guest["blade"] not in blades:
        problems.append(f"{label}.blade: {guest['blade']!r} is not a blade of this inventory "
                        f"(blades: {', '.join(sorted(blades))})")
    clash = sorted(set(guest.get("domain") or {}) & set(PLANNED_OPTIONS))
    if clash:
        problems.append(f"{label}.domain: {', '.join(clash)} come from the cluster plan; set them "
                        "on the guest itself (vcpus, memory, partitions, image, user_data)")
    for key, unit in (("vcpus", "vCPUs"), ("memory", "MiB")):
        value = guest.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"{label}.{key}: {value!r} is not a valid number of {unit} (allowed: "
                            "integers from 1)")
    if guest.get("disk_size"):
        rule(size_bytes, guest["disk_size"], f"{label}.disk_size")
    elif guest.get("image") in golden and golden[guest["image"]]["size"] is None:
        problems.append(f"{label}: no disk size; set its disk_size, or the size of golden image "
                        f"{guest['image']} (placement counts it against the thin pool)")
    return problems


def _check_guest(index, guest, golden, partitions, blades):
    problems = guest_problems(index, guest, golden, partitions, blades)
    if problems:
        raise PlanError(problems[0])
    disk = guest.get("disk_size")
    return guest["name"], size_bytes(disk, "disk_size") if disk else golden[guest["image"]]["size"]


def inventory_problems(cluster, guests, blades, partitions, golden_images, pools):
    """Every problem of the cluster's own variables: its name and guests (not placement)."""
    problems = []
    try:
        domain_name(cluster, "cluster_name")  # it names the ledger file
    except ValidationError as exc:
        problems.append(str(exc))
    if not isinstance(guests, list):
        return problems + [f"cluster_guests: {guests!r} is not a list of guests"]
    golden = {}
    for image in golden_images if isinstance(golden_images, list) else []:
        if isinstance(image, dict) and isinstance(image.get("name"), str):
            try:
                golden.update(_golden_images([image], pools))
            except (PlanError, ValidationError, LookupError, TypeError):
                # The storage check reports what is wrong with the image itself.
                golden[image["name"]] = {"size": 0}
    partitions = {p.get("name"): p for p in partitions if isinstance(p, dict)}
    seen = set()
    for index, guest in enumerate(guests):
        problems += guest_problems(index, guest, golden, partitions, blades)
        name = guest.get("name") if isinstance(guest, dict) else None
        if isinstance(name, str) and name in seen:
            problems.append(f"cluster_guests[{index}].name: {name!r} is listed twice "
                            "(guest names are unique)")
        seen.add(name)
    return problems


def existing_placement(domains_by_blade, cluster):
    """{guest: blade} for our guests of ``cluster`` that the blades report (guest_info)."""
    where = {}
    for blade in sorted(domains_by_blade):
        for domain in domains_by_blade[blade] or []:
            if not domain.get("managed") or domain.get("cluster") != cluster:
                continue
            if domain["name"] in where:
                raise PlanError(f"guest {domain['name']} is defined on both {where[domain['name']]} and "
                                f"{blade}; undefine one of them before running the cluster plan")
            where[domain["name"]] = blade
    return where


def _network_config(cluster, name, nics, partitions, ledger):
    """cloud-init network-config v2: each NIC found by its (derived) MAC, with its address."""
    ethernets = {}
    routed = False
    for index, partition in enumerate(nics):
        entry = {"match": {"macaddress": derive_mac(cluster, name, index)}, "set-name": f"eth{index}",
                 "addresses": [ipam.interface(ledger, partitions, partition, name)]}
        gateway = partitions[partition].get("gateway")
        if gateway and not routed:
            entry["routes"] = [{"to": "default", "via": gateway}]
            routed = True
        ethernets[f"eth{index}"] = entry
    return {"version": 2, "ethernets": ethernets}


def placement_capacities(blades, pools, blade_pools=None):
    """Each blade's capacity for placement: its ``blade_capacity``, whose ``max_overcommit``
    defaults to that of the blade's first pool (``blade_pools``, else the cluster's
    ``pools``), else 1."""
    capacities = {}
    for name, capacity in blades.items():
        own_pools = (blade_pools or {}).get(name) or pools
        pool_limit = own_pools[0].get("max_overcommit") if own_pools else None
        overcommit = capacity.get("max_overcommit") or pool_limit or 1.0
        capacities[name] = dict(capacity, max_overcommit=overcommit)
    return capacities


def drained_blades(ledgers, blades, drain=None, undrain=None):
    """The drained blades: those any copy of the ledger marks, plus ``drain``, minus ``undrain``.

    A union, so a copy that missed the last write errs on the safe side (nothing new is
    placed on a blade one copy still calls drained); return-to-service writes every copy.
    """
    for option, blade in (("drain", drain), ("undrain", undrain)):
        if blade and blade not in blades:
            raise PlanError(f"{option}: {blade!r} is not a blade of this inventory "
                            f"(blades: {', '.join(sorted(blades))})")
    if drain and drain == undrain:
        raise PlanError(f"{drain} cannot be drained and returned to service in the same run")
    marked = set()
    for ledger in (ledgers or {}).values():
        marked.update((ledger or {}).get(DRAINED) or [])
    return sorted((marked | ({drain} if drain else set())) - {undrain})


def plan(cluster, guests, blades, partitions, golden_images, pools, domains_by_blade=None, ledgers=None,
         cpu_ratio=4.0, memory_reserve_mib=2048, address_offset=10, user_data=None, blade_pools=None,
         drain=None, undrain=None, migrate="none", cpu_baseline=None):
    """Return the plan: placement, moves, ledger, the guests role's list and each blade's clones.

    ``blades`` is each blade's ``blade_capacity``; ``blade_pools`` each blade's own
    ``storage_pools`` where they differ from the cluster's ``pools``.  ``drain`` and
    ``undrain`` mark a blade drained or return it to service (the mark lives in the
    ledger).  ``migrate`` says which existing guests may move (see :data:`MIGRATE`).
    ``cpu_baseline`` (the blades' baseline CPU, as the domain module's ``cpu`` option) is
    the CPU of every guest whose ``domain`` sets none.
    """
    if migrate not in MIGRATE:
        raise PlanError(f"migrate: {migrate!r} is not one of {', '.join(MIGRATE)}")
    try:
        drained = drained_blades(ledgers, blades, drain, undrain)
        return _plan(cluster, guests, placement_capacities(blades, pools, blade_pools), partitions,
                     golden_images, pools, domains_by_blade or {}, ledgers or {}, cpu_ratio,
                     memory_reserve_mib, address_offset, user_data or {}, drained, migrate, cpu_baseline)
    except (ValidationError, ipam.AddressError) as exc:
        raise PlanError(str(exc)) from None


def planned_moves(guests, existing, drained, migrate):
    """{guest: pinned destination, or None for placement to choose} of the guests that move.

    A guest moves when its pin names another blade (``migrate='all'``), or when it is on a
    drained blade (``'drained'`` or ``'all'``).  Without ``migrate`` a changed pin is
    refused as it always was, and guests on a drained blade stay until evacuated.
    """
    moving = {}
    for guest in guests:
        name, pin, where = guest["name"], guest.get("blade"), existing.get(guest["name"])
        if pin in drained and where != pin:
            raise PlanError(f"guest {name} is pinned to {pin}, which is drained and receives no guest; "
                            f"pin it to another blade, or return {pin} to service first")
        if where is None:
            continue
        if pin and pin != where:
            if migrate != "all":
                raise PlanError(f"guest {name} is defined on {where} but the inventory pins it to {pin}; "
                                "guests are not moved automatically (migrate it first, or drop the pin)")
            moving[name] = pin
        elif where in drained and migrate != "none":
            if pin:
                raise PlanError(f"guest {name} is pinned to {where}, which is being drained; pin it to "
                                "another blade, or drop the pin, before it can move")
            moving[name] = None
    return moving


def _plan(cluster, guests, blades, partitions, golden_images, pools, domains_by_blade, ledgers,
          cpu_ratio, memory_reserve_mib, address_offset, user_data, drained, migrate, cpu_baseline=None):
    partitions = {p["name"]: p for p in partitions}
    golden = _golden_images(golden_images, pools)
    disks = {}
    for index, guest in enumerate(guests):
        name, disk_bytes = _check_guest(index, guest, golden, partitions, blades)
        if name in disks:
            raise PlanError(f"cluster_guests: {name} is listed twice")
        disks[name] = disk_bytes

    existing = existing_placement(domains_by_blade, cluster)
    moving = planned_moves(guests, existing, drained, migrate)
    demand = [{"name": g["name"], "vcpus": g.get("vcpus", 1), "memory_mib": g.get("memory", 1024),
               "disk_gib": disks[g["name"]] / GIB, "blade": g.get("blade"),
               "anti_affinity": g.get("anti_affinity")} for g in guests]
    # A moving guest is placed afresh (on its pin, or by the rule), counted only there.
    staying = {n: b for n, b in existing.items() if n in disks and n not in moving}
    placement = place_guests(demand, blades, staying, cpu_ratio, memory_reserve_mib, drained)
    group_of = {g["name"]: g["anti_affinity"] for g in guests if g.get("anti_affinity")}
    # guest_migrate checks the group again on the destination, when the move runs.
    moves = [{"guest": name, "source": existing[name], "destination": placement[name],
              "mode": "live" if _state(domains_by_blade, existing[name], name) in LIVE else "cold",
              "anti_affinity_guests": sorted(other for other, group in group_of.items()
                                             if other != name and group == group_of.get(name))}
             for name in sorted(moving)]

    members = {}
    for guest in guests:
        for partition in guest.get("partitions") or []:
            members.setdefault(partition, []).append(guest["name"])
    ledger = ipam.allocate(ipam.merge_ledgers(ledgers, cluster), partitions, members, address_offset)

    if drained:
        ledger[DRAINED] = list(drained)

    guests_list, clones = [], {blade: [] for blade in sorted(blades)}
    for guest in guests:
        name, blade, image = guest["name"], placement[guest["name"]], golden[guest["image"]]
        if name in moving:
            # Moved by guest_migrate in this run (the moves play, before storage and guests):
            # handing it over too would clone and define it on the destination in check mode.
            # Other changes to it apply on the next run.
            continue
        nics = list(guest.get("partitions") or [])
        clones[blade].append({"vg": image["vg"], "name": name + ROOT_SUFFIX, "origin": image["lv"],
                              "owner": name, "size": str(disks[name])})
        domain = dict(guest.get("domain") or {})
        if cpu_baseline and not domain.get("cpu"):
            domain["cpu"] = cpu_baseline
        domain.update(
            host=blade, name=name, state=guest.get("state", "running"),
            vcpus=guest.get("vcpus", 1), memory=guest.get("memory", 1024),
            disks=[{"path": f"/dev/{image['vg']}/{name}{ROOT_SUFFIX}", "boot_order": 1}],
            nics=[{"partition": partition} for partition in nics],
            cloud_init={
                "user_data": {"hostname": name, "preserve_hostname": False, **user_data,
                              **(guest.get("user_data") or {})},
                "network_config": _network_config(cluster, name, nics, partitions, ledger),
            })
        guests_list.append(domain)
    table = placement_table(guests, placement, disks, ledger, moves)
    if drained:
        table += f"\n\ndrained (no new guest goes there): {', '.join(drained)}"
    if cpu_baseline:
        table += "\n\n" + baseline_line(cpu_baseline)
    if moves:
        table += "\n\n" + moves_table(moves)
    return {"placement": dict(sorted(placement.items())), "ledger": ledger, "guests_list": guests_list,
            "clones": clones, "moves": moves, "drained": list(drained), "table": table}


def baseline_line(cpu):
    """The baseline CPU in the plan's output: the model, and the features it adds or removes."""
    changes = [("-" if feature["policy"] == "disable" else "+") + feature["name"]
               for feature in cpu.get("features") or []]
    return (f"CPU baseline of the blades (guests without their own cpu): {cpu['model']}"
            + (f" {' '.join(changes)}" if changes else ""))


def moves_table(moves):
    rows = ["| move | from | to | mode |", "| --- | --- | --- | --- |"]
    rows += [f"| {m['guest']} | {m['source']} | {m['destination']} | {m['mode']} |" for m in moves]
    return "\n".join(rows)


def _state(domains_by_blade, blade, name):
    return next((d.get("state") for d in domains_by_blade.get(blade) or [] if d.get("name") == name), None)


def placement_table(guests, placement, disks, ledger, moves=()):
    """The plan as a Markdown table, for the play's output and the README; a moving guest's
    blade reads ``blade2 (moves live from blade1)``."""
    moved = {move["guest"]: move for move in moves}
    rows = ["| guest | blade | vCPUs | memory MiB | disk GiB | partitions: addresses |",
            "| --- | --- | ---: | ---: | ---: | --- |"]
    for guest in sorted(guests, key=lambda g: (placement[g["name"]], g["name"])):
        name = guest["name"]
        blade = placement[name]
        if name in moved:
            blade += f" (moves {moved[name]['mode']} from {moved[name]['source']})"
        addresses = ", ".join(f"{p}: {ledger['partitions'][p][name]}" for p in guest.get("partitions") or [])
        rows.append(f"| {name} | {blade} | {guest.get('vcpus', 1)} | {guest.get('memory', 1024)} "
                    f"| {disks[name] / GIB:g} | {addresses} |")
    return "\n".join(rows)
