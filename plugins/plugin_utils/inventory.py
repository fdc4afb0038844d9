# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole inventory, checked on the controller before any blade is touched.

site.yml's plan play runs this first, so a bad partition, pool, golden image or guest
stops the run before the hypervisor play installs a package or writes a file.  The
rules are not restated here, they are the ones the later plays apply:

- types, required keys and choices: the network and storage roles' own argument specs
  (``roles/*/meta/argument_specs.yml``), over those roles' defaults, for every blade;
- partitions: the partitions module's layout check (VLAN IDs, subnets, MTUs, names);
- pools and golden images: the lvm_thinpool and golden_image modules' constructors,
  which validate without running anything;
- guests: the cluster plan's rules, including the name as hostname.

Every problem is collected (not only the first), as one line naming the field, the
value and the rule; a problem that only some blades have names them.
"""

from __future__ import annotations

import os

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.golden import GoldenImage
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.thinpool import ThinPool
from ansible_collections.openblade.kvm.plugins.module_utils._net.partitions import (
    partition_entry,
    partition_layout,
)
from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError

ROLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles")
# The roles whose variables the plan play checks for the later plays; the role's
# variable of each module option is the prefix plus the option (network_bond_name).
CHECKED = {"network": "network_", "storage": "storage_"}
# Set by the cluster plan itself, not by the inventory.
PLANNED = ("storage_clones",)


def _role_file(role, *path):
    with open(os.path.join(ROLES, role, *path), encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def role_spec(role):
    """The options of ``role``'s main entry point, as its argument spec declares them."""
    options = _role_file(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    return {name: option for name, option in options.items() if name not in PLANNED}


def role_defaults(role):
    return _role_file(role, "defaults", "main.yml")


def _spec_errors(spec, params, where):
    """Type, required and choice errors of ``params`` against ``spec``, one line each.

    Lists of dicts are checked item by item, so each message names its item's index; an
    item with such an error is None in the validated lists (its index stays), so the
    modules' rules can still judge the others.  Validated is None after an error in a
    variable itself (a list that is not one).
    """
    top = {name: {k: v for k, v in option.items() if k != "options"} for name, option in spec.items()}
    result = ArgumentSpecValidator(top).validate(params)
    errors = [_spec_message(error, where) for error in result.errors.errors]
    if errors:
        return errors, None
    validated = result.validated_parameters
    for name, option in spec.items():
        if "options" not in option or not isinstance(validated.get(name), list):
            continue
        items = []
        for index, item in enumerate(validated[name]):
            item_where = f"{where}{name}[{index}]"
            if not isinstance(item, dict):
                errors.append(f"{item_where}: {item!r} is not a dict (allowed keys: "
                              f"{', '.join(sorted(option['options']))})")
                items.append(None)
                continue
            checked = ArgumentSpecValidator(option["options"]).validate(item)
            found = [_spec_message(error, item_where + ": ") for error in checked.errors.errors]
            errors += found
            items.append(None if found else checked.validated_parameters)
        validated[name] = items
    return errors, validated


def _spec_message(error, where):
    if isinstance(error, UnsupportedError):
        return f"{where}unknown key {error.msg}"
    return f"{where}{error.msg}"


def network_message(exc):
    """A partitions-module message as the network role's variable: 'partitions[0].vlan: ...'
    becomes 'network_partitions[0].vlan: ...'; one that names no option is about the partitions."""
    message = str(exc)
    if message.startswith(("partitions", "trunk", "bond_", "bridge_prefix")):
        return CHECKED["network"] + message
    return f"{CHECKED['network']}partitions: {message}"


def network_errors(params):
    """The partitions module's rules over the network role's variables."""
    prefix = CHECKED["network"]
    options = {name[len(prefix):]: value for name, value in params.items()}
    keys = ("bond_name", "bond_mode", "bond_miimon", "bond_xmit_hash_policy", "bridge_prefix")
    settings = {key: options.get(key) for key in keys}
    try:
        # The trunk and bond first, alone: a partition's names depend on them.
        trunk_if = partition_layout(options["trunk"], [], **settings)["trunk"]
    except ValidationError as exc:
        return [network_message(exc)]
    errors = []
    for index, entry in enumerate(options["partitions"]):
        try:
            if entry is not None:  # None: its argument spec error is reported already
                partition_entry(index, entry, trunk_if, settings["bridge_prefix"])
        except ValidationError as exc:
            errors.append(network_message(exc))
    if errors or None in options["partitions"]:
        return errors
    try:  # what needs every partition: duplicates, overlapping subnets, the trunk's MTU
        partition_layout(options["trunk"], options["partitions"], trunk_mtu=options.get("trunk_mtu"),
                         **settings)
    except ValidationError as exc:
        return [network_message(exc)]
    return []


def storage_errors(params):
    """The lvm_thinpool and golden_image modules' rules over the storage role's variables."""
    errors = []
    pools = params.get("storage_pools") or []
    for index, pool in enumerate(pools):
        try:
            if pool is not None:  # None: its argument spec error is reported already
                ThinPool(None, pool)
        except ValidationError as exc:
            errors.append(f"storage_pools[{index}].{exc}")
    default = dict(pools[0] or {}) if pools else {}
    if pools and (pools[0] is None or errors and errors[0].startswith("storage_pools[0].")):
        # Its own message says what is wrong; the images that go there are judged without it.
        default.update(vg="vg", pool="thinpool")
    for index, image in enumerate(params.get("storage_golden_images") or []):
        where = f"storage_golden_images[{index}]"
        if image is None:
            continue
        # As the storage role: an image without vg or pool goes to the first pool.
        image = dict(image, vg=image.get("vg") or default.get("vg"),
                     pool=image.get("pool") or default.get("pool") or "thinpool")
        if not image["vg"]:
            errors.append(f"{where}.vg: None is not a volume group (set it, or list a pool in "
                          "storage_pools: images go to the first pool by default)")
            continue
        try:
            GoldenImage(None, image)
        except ValidationError as exc:
            errors.append(f"{where}.{exc}")
    return errors


def blade_errors(blade_vars):
    """Every problem of one blade's network and storage variables (its hostvars)."""
    errors = []
    for role in CHECKED:
        spec = role_spec(role)
        params = {name: value for name, value in role_defaults(role).items() if name in spec}
        params.update({name: blade_vars[name] for name in spec if name in blade_vars})
        found, validated = _spec_errors(spec, params, "")
        errors += found
        if validated is not None:
            errors += network_errors(validated) if role == "network" else storage_errors(validated)
    return errors


def cluster_errors(blades_vars, other_errors=()):
    """Every blade's problems, merged: a problem some blades have names them.

    ``blades_vars`` maps each blade to its variables; ``other_errors`` (the guests')
    come first, as they are.
    """
    found = {}
    for blade in sorted(blades_vars):
        for message in blade_errors(blades_vars[blade]):
            found.setdefault(message, []).append(blade)
    merged = list(other_errors)
    for message, blades in found.items():
        merged.append(message if len(blades) == len(blades_vars) else f"{', '.join(blades)}: {message}")
    return merged
