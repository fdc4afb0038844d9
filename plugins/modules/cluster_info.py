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
  cpu_target:
    description:
      - The guests' domain type, arch and machine. When set, the module also returns RV(host_cpu), the CPU this blade's hypervisor
        offers a C(host-model) guest of that kind (the C(cluster) role's C(cluster_cpu_baseline) reads it).
    type: dict
    suboptions:
      domain_type:
        description: V(kvm) or V(qemu) (TCG).
        type: str
        default: kvm
        choices: [kvm, qemu]
      arch:
        description: The guests' architecture.
        type: str
        default: x86_64
      machine:
        description: The guests' machine type (for example V(pc) or V(q35)); the hypervisor's default when omitted.
        type: str
  cpu_baseline:
    description:
      - Every blade's RV(host_cpu), by blade name. With O(cpu_target), the module also returns RV(cpu_baseline), the baseline of
        those CPUs that this blade's libvirt computes (C(virConnectBaselineHypervisorCPU)).
      - A blade that reports no host-model CPU (no libvirtd yet, or none for O(cpu_target)) fails the computation, naming the blade.
    type: dict
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

- name: Also the CPU this blade offers TCG guests of machine type pc
  openblade.kvm.cluster_info:
    cluster: city-dc1
    cpu_target: {domain_type: qemu, machine: pc}
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
host_cpu:
  description:
    - With O(cpu_target), what this blade offers a host-model guest, or null when it has no libvirtd yet.
    - C(xml) is the domain capabilities' host-model CPU as a guest CPU definition (null when the hypervisor offers none); C(emulator),
      C(machine), C(arch) and C(domain_type) are the domain capabilities' own.
  returned: when O(cpu_target) is set
  type: dict
  sample: {"xml": "<cpu mode=\"custom\" match=\"exact\"><model fallback=\"forbid\">Skylake-Client-IBRS</model></cpu>",
           "emulator": "/usr/bin/qemu-system-x86_64", "machine": "pc-i440fx-7.2", "arch": "x86_64", "domain_type": "kvm"}
cpu_baseline:
  description: With O(cpu_target) and O(cpu_baseline), the blades' baseline CPU, as the O(openblade.kvm.guest#module:cpu) option of a guest.
  returned: when O(cpu_baseline) is set
  type: dict
  sample: {"mode": "custom", "model": "Nehalem", "features": [{"name": "vme", "policy": "require"}]}
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
            cpu_target=dict(type="dict", options=dict(
                domain_type=dict(type="str", default="kvm", choices=["kvm", "qemu"]),
                arch=dict(type="str", default="x86_64"),
                machine=dict(type="str"),
            )),
            cpu_baseline=dict(type="dict"),
        ),
        supports_check_mode=True,
    )

    def guest_inventory():
        require_libraries(module)  # only once libvirtd is there: a new blade has neither
        return GuestInventory(Hypervisor(module.params["uri"]), managed_only=True)

    run_module(module, lambda m: ClusterView(m.params["cluster"], m.params["ledger_dir"], guest_inventory,
                                             cpu_target=m.params["cpu_target"], cpu_baseline=m.params["cpu_baseline"]))


if __name__ == "__main__":
    main()
