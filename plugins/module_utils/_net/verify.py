# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verification after a network change: what still differs between the kernel and the
configuration.  The transaction waits until nothing does (or rolls back)."""

from __future__ import annotations

from ansible_collections.openblade.kvm.plugins.module_utils._net.observe import observe
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError


def differences(runner, specs, layout):
    """What still differs between the kernel and the configuration (empty: converged)."""
    snapshot = observe(runner)
    pending = []
    for spec in specs:
        link = snapshot.link(spec.name)
        if not spec.present:
            if link is not None:
                pending.append(f"{spec.name} still exists")
            continue
        if spec.kind == "vlan" and snapshot.link(spec.parent) is None:
            continue  # created by networkd once the parent appears (warned about)
        if link is None:
            pending.append(f"{spec.name} does not exist")
            continue
        if link.admin_state == "failed":
            raise ReconcileError(f"systemd-networkd failed to configure {spec.name} "
                                 "(see journalctl -u systemd-networkd)", interface=spec.name)
        want = spec.runtime(set(snapshot.links))
        have = spec.observed(link, snapshot, set(spec.lower_links()))
        pending += [f"{spec.name} {key} is {have.get(key)!r}, wanted {value!r}"
                    for key, value in want.items() if have.get(key) != value]
        expected = layout.network(spec.name)
        if link.network_file != expected:
            pending.append(f"networkd applies {link.network_file or 'no file'} to {spec.name}, "
                           f"not {expected}")
    return pending
