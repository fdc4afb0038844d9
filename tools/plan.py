#!/usr/bin/env python
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print an inventory's placement and addresses without contacting any blade.

    tools/plan.py inventories/example

It reads the inventory as Ansible does (group_vars, host_vars) and runs the cluster
plan the cluster role runs, as for a cluster with no guests yet and empty ledgers.
"""

from __future__ import annotations

import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))

from ansible.inventory.manager import InventoryManager  # noqa: E402
from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.vars.manager import VariableManager  # noqa: E402

from ansible_collections.openblade.kvm.plugins.plugin_utils.cluster import plan  # noqa: E402

# The cluster role's defaults, which the inventory's variables override.
with open(os.path.join(ROOT, "roles", "cluster", "defaults", "main.yml")) as _handle:
    DEFAULTS = yaml.safe_load(_handle)


def blade_vars(inventory_path, hosts=None):
    """{blade: its variables} for the hosts of group ``blades``.

    ``hosts`` names the blades when the inventory has no hosts file of its own (the lab's
    is written by ``lab/lab up``); they then get the group's variables.
    """
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[inventory_path])
    if hosts:
        inventory.add_group("blades")
        for host in hosts:
            inventory.add_host(host, group="blades")
    variables = VariableManager(loader=loader, inventory=inventory)
    return {host.name: dict(DEFAULTS, **variables.get_vars(host=host))
            for host in inventory.groups["blades"].get_hosts()}


def inventory_plan(inventory_path, hosts=None, ledgers=None):
    """The cluster role's plan of the inventory, for blades with no guests yet and the
    given copies of the address ledger (none by default)."""
    blades = blade_vars(inventory_path, hosts)
    first = blades[sorted(blades)[0]]
    return plan(first["cluster_name"], first["cluster_guests"],
                {name: v["blade_capacity"] for name, v in blades.items()},
                first.get("network_partitions", []), first.get("storage_golden_images", []),
                first.get("storage_pools", []), ledgers=ledgers, cpu_ratio=first["cluster_cpu_ratio"],
                memory_reserve_mib=first["cluster_memory_reserve_mib"],
                address_offset=first["cluster_address_offset"], user_data=first["cluster_user_data"],
                blade_pools={name: v.get("storage_pools", []) for name, v in blades.items()})


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    print(inventory_plan(argv[1], argv[2:] or None)["table"])


if __name__ == "__main__":
    main(sys.argv)
