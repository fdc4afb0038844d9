#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_info
short_description: What the cluster plan needs from one blade, in one call
version_added: 1.0.0
description:
  - Returns the guests of one cluster that are defined on this blade (with the collection's marker), and this blade's copy of the cluster's address ledger.
  - A blade without libvirtd (not yet a hypervisor) reports no guests instead of failing, so a plan of new blades works.
  - The C(cluster) role's plan play calls it once per blade.
author: openblade.kvm developers (@openblade)
options:
  cluster:
    description: The cluster's name (C(cluster_name)); it scopes the guests and names the ledger file.
    type: str
    required: true
  ledger_dir:
    description: Where the blade keeps the ledger, as C(<cluster>.json).
    type: path
    default: /var/lib/openblade/ipam
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
extends_documentation_fragment:
  - openblade.kvm.attributes.info_module
requirements:
  - python3-libvirt and python3-lxml on the target host, once libvirtd is installed
seealso:
  - module: openblade.kvm.cluster_ledger
  - module: openblade.kvm.guest_info
"""

EXAMPLES = r"""
- name: What this blade holds of the cluster
  openblade.kvm.cluster_info:
    cluster: city-dc1
  register: here
"""

RETURN = r"""
guests:
  description: The cluster's guests defined on this blade, with the fields M(openblade.kvm.guest_info) returns.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "web1", "cluster": "city-dc1", "managed": true, "state": "running", "memory": 2048}]
ledger:
  description: This blade's copy of the address ledger, or null when the blade has none yet.
  returned: always
  type: dict
  sample: {"web1": {"office": "10.20.10.11"}}
ledger_path:
  description: The ledger file that was read.
  returned: always
  type: str
  sample: /var/lib/openblade/ipam/city-dc1.json
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._cluster import ClusterView
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import (
    Hypervisor,
    require_libraries,
)
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.resources import GuestInventory
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            cluster=dict(type="str", required=True),
            ledger_dir=dict(type="path", default="/var/lib/openblade/ipam"),
            uri=dict(type="str", default="qemu:///system"),
        ),
        supports_check_mode=True,
    )

    def guest_inventory():
        require_libraries(module)  # only once libvirtd is there: a new blade has neither
        return GuestInventory(Hypervisor(module.params["uri"]), managed_only=True)

    run_module(module, lambda m: ClusterView(m.params["cluster"], m.params["ledger_dir"], guest_inventory))


if __name__ == "__main__":
    main()
