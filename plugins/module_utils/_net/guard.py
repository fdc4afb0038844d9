# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The management guard: a network change that touches the management path is applied
with a probe and an automatic rollback, and one that would remove the management address
with nothing taking it over is refused."""

from __future__ import annotations

from ansible_collections.openblade.kvm.plugins.module_utils._net.management import Probe
from ansible_collections.openblade.kvm.plugins.module_utils._net.transaction import Guard
from ansible_collections.openblade.kvm.plugins.module_utils._net.validation import MASTER_ROLES
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError


def management_guard(mgmt, snapshot, specs, defined, touched, probe=None, allow_change=False):
    """The :class:`Guard` for a change that touches the management path ``mgmt`` (the links
    in ``touched``), None when it does not; refuses a change that would cut the host off."""
    address = mgmt.address
    takes_over = sorted(spec.name for spec in defined.values()
                        if address and any(a.split("/")[0] == address for a in spec.addresses))
    hit = mgmt.touched(touched) + [name for name in takes_over if name not in mgmt.links]
    removed = _address_removals(mgmt, snapshot, specs, defined) if address else []
    if removed and not takes_over and not allow_change:
        raise ReconcileError(
            f"refusing a change that removes the management address {address} "
            f"({'; '.join(removed)}) with nothing in this change taking it over: the host "
            f"would be cut off. Put {address} in the addresses of the bridge that takes over "
            "the path, or set allow_management_change: true if another path remains",
            management=mgmt.as_dict())
    if not hit:
        return None
    if probe is None and snapshot.gateway():
        probe = Probe(snapshot.gateway(), option="default gateway")
    if probe is None:
        raise ReconcileError(
            f"this change touches the management path ({', '.join(hit)}), which is applied "
            "with a probe and an automatic rollback, but the host has no default gateway to "
            "probe: set probe to an address that must answer afterwards (e.g. a router or a "
            "peer on the management network)", management=mgmt.as_dict())
    expected = address if address and (takes_over or not removed) else None
    return Guard(probe, expected, hit)


def _address_removals(mgmt, snapshot, specs, defined):
    address = mgmt.address
    removed = []
    for holder in mgmt.holders:
        spec = next((s for s in specs if s.name == holder), None)
        if spec is not None and not spec.present:
            removed.append(f"{holder} is deleted")
        elif spec is not None and spec.kind == "bridge" and not any(
                a.split("/")[0] == address for a in spec.addresses):
            removed.append(f"{holder} no longer carries it")
        else:
            for master in defined.values():
                link = snapshot.link(holder)
                if (master.attach_role in MASTER_ROLES and holder in master.lower_links()
                        and link.master != master.name):
                    removed.append(f"{holder} becomes a {master.attach_role} port of {master.name}")
    return removed
