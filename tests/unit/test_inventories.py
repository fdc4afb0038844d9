# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shipped inventories: valid against every role's argument spec, and they plan.

The example inventory's placement is printed in README.md; the test keeps it true.
"""

from __future__ import annotations

import os

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.openblade.kvm.plugins.filter.cluster_check import cluster_check
from ansible_collections.openblade.kvm.tests.integration import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = ("cluster", "hypervisor", "network", "storage", "guests")
# The lab's hosts file is written by `lab/lab up`; without it the blades are these.
INVENTORIES = {"example": None, "lab": ["blade1", "blade2", "blade3"]}


PLAN_TOOL = harness.plan_tool()


def role_spec(role):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(INVENTORIES))
def test_inventory_is_valid_against_the_role_argument_spec(name, role):
    spec = role_spec(role)
    blades = PLAN_TOOL.blade_vars(os.path.join(ROOT, "inventories", name), INVENTORIES[name])
    assert len(blades) == 3
    for blade, variables in blades.items():
        # As Ansible validates a role: the variables its spec names, as the host has them.
        provided = {key: variables[key] for key in spec if key in variables}
        result = ArgumentSpecValidator(spec).validate(provided)
        assert not result.error_messages, (blade, role, result.error_messages)


@pytest.mark.parametrize("name", sorted(INVENTORIES))
def test_inventory_passes_the_plan_plays_check(name):
    blades = PLAN_TOOL.blade_vars(os.path.join(ROOT, "inventories", name), INVENTORIES[name])
    first = next(iter(blades.values()))
    assert cluster_check(first["cluster_guests"], first["cluster_name"], blades, first["network_partitions"],
                         first["storage_golden_images"], first["storage_pools"]) == []


@pytest.mark.parametrize("name", sorted(INVENTORIES))
def test_inventory_has_the_production_shape(name):
    blades = PLAN_TOOL.blade_vars(os.path.join(ROOT, "inventories", name), INVENTORIES[name])
    first = next(iter(blades.values()))
    assert len(first["network_trunk"]) == 2  # a bonded trunk
    partitions = first["network_partitions"]
    assert len(partitions) == 4 and sum(bool(p.get("shared")) for p in partitions) == 1
    assert len({image["name"] for image in first["storage_golden_images"]}) == 2
    guests = first["cluster_guests"]
    assert len(guests) == 9
    groups = [g["anti_affinity"] for g in guests if g.get("anti_affinity")]
    assert any(groups.count(group) == 2 for group in groups)


@pytest.mark.parametrize("name", sorted(INVENTORIES))
def test_inventory_places_every_guest_and_honours_anti_affinity(name):
    result = PLAN_TOOL.inventory_plan(os.path.join(ROOT, "inventories", name), INVENTORIES[name])
    blades = PLAN_TOOL.blade_vars(os.path.join(ROOT, "inventories", name), INVENTORIES[name])
    guests = next(iter(blades.values()))["cluster_guests"]
    assert set(result["placement"]) == {g["name"] for g in guests}
    by_group = {}
    for guest in guests:
        if guest.get("anti_affinity"):
            by_group.setdefault(guest["anti_affinity"], []).append(result["placement"][guest["name"]])
    for group, where in by_group.items():
        assert len(where) == len(set(where)), group


def test_readme_shows_the_example_placement():
    table = PLAN_TOOL.inventory_plan(os.path.join(ROOT, "inventories", "example"))["table"]
    with open(os.path.join(ROOT, "README.md")) as handle:
        assert table in handle.read(), "README.md: paste the output of tools/plan.py inventories/example"
