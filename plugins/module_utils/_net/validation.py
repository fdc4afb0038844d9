# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of a network change against the running links: a port enslaved elsewhere or
claimed by another of our masters, a VLAN on a bond member, an MTU the kernel refuses.
It runs before the first action, so a refusal changes nothing."""

from __future__ import annotations

import os

from ansible_collections.openblade.kvm.plugins.module_utils import _validate as validate
from ansible_collections.openblade.kvm.plugins.module_utils._net import units

MASTER_ROLES = ("bridge", "bond")


def check_runtime(files):
    """Refuse what the running links make impossible, before anything changes; returns
    warnings for what is only worth saying (a port that does not exist yet).  ``files`` is
    the :class:`.files.FilePlan`: it reads what observe saw, never the disk."""
    warnings = []
    for spec in files.defined.values():
        option = {"bridge": "ports", "bond": "members", "vlan": "parent"}[spec.attach_role]
        for lower in spec.lower_links():
            link = files.snapshot.link(lower)
            if link is None:
                if lower not in files.defined and files.view.read(files.layout.netdev(lower)) is None:
                    warnings.append(f"{option}: {lower} does not exist (yet); {spec.name} "
                                    f"picks it up when it appears")
                continue
            master = files.snapshot.link(link.master) if link.master else None
            if spec.attach_role in MASTER_ROLES:
                if master is not None and link.master != spec.name:
                    raise validate.ValidationError(
                        f"{option}: {lower} is already enslaved to {link.master} (a "
                        f"{master.kind or 'link'}); an interface has one master, release it "
                        "from there first", option=option)
                _refuse_other_master_dropins(files, spec, lower, option)
            elif master is not None and master.kind == "bond":
                raise validate.ValidationError(
                    f"parent: {lower} is a member of bond {link.master}; put the VLAN on "
                    f"{link.master} instead", option="parent")
        _check_mtu(files, spec)
    return warnings


def _refuse_other_master_dropins(files, spec, lower, option):
    main = files.layout.network(lower)
    mine = os.path.basename(files.layout.dropin(main, spec.attach_role, spec.name))
    for path in files.view.dropins_of(main):
        name = os.path.basename(path)
        claimed = any(name.startswith(f"{units.DROPIN_PREFIX}{role}-") for role in MASTER_ROLES)
        if claimed and name != mine and files.after.get(path, "kept") is not None:
            raise validate.ValidationError(
                f"{option}: {lower} is already claimed by "
                f"{units.owner_of(files.view.read(path)) or path} ({path}); release it there "
                "first", option=option)


def _check_mtu(files, spec):
    if not spec.mtu:
        return
    link = files.snapshot.link(spec.name)
    if link is not None and link.max_mtu and not (link.min_mtu or 0) <= spec.mtu <= link.max_mtu:
        raise validate.ValidationError(
            f"mtu: {spec.mtu} is outside what the kernel allows for {spec.name} "
            f"({link.min_mtu}-{link.max_mtu})", option="mtu")
    for lower in spec.lower_links():
        link = files.snapshot.link(lower)
        if spec.kind == "vlan":
            parent = files.defined.get(lower)
            limit = parent.mtu if parent is not None and parent.mtu else link.mtu if link else None
            if limit and spec.mtu > limit:
                raise validate.ValidationError(
                    f"mtu: {spec.mtu} is above the MTU of the parent {lower} ({limit}); the "
                    "kernel caps a VLAN at its parent's MTU, raise the parent's first",
                    option="mtu")
        elif link is not None and link.max_mtu and spec.mtu > link.max_mtu:
            raise validate.ValidationError(
                f"mtu: {spec.mtu} is above what {lower} supports (at most {link.max_mtu})",
                option="mtu")
