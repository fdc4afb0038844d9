#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: hypervisor_host
short_description: Make a Debian host a KVM hypervisor in one call, and report what it can run
version_added: 1.0.0
description:
  - Installs the missing Debian packages with C(apt-get) (packages already installed are left as they are; nothing is upgraded).
  - Loads the kernel modules and lists them in a C(modules-load.d) file, as M(openblade.kvm.kernel_modules) does.
  - Writes a libvirtd drop-in that clears Debian's C(--timeout 120), so libvirtd keeps running instead of exiting when idle, then enables and starts
    libvirtd. A new drop-in or new packages restart it; running guests keep running.
  - Then reads the facts M(openblade.kvm.hypervisor_info) reads, in the same call.
  - A converged host costs one remote call and runs only reads (C(dpkg-query), C(systemctl show)).
author: openblade.kvm developers (@openblade)
options:
  packages:
    description: Debian packages that must be installed.
    type: list
    elements: str
    default: []
  update_cache:
    description:
      - Run C(apt-get update) before installing. Only when a package is missing, so a converged host is not touched.
      - Needs a reachable mirror.
    type: bool
    default: false
  kernel_modules:
    description: Kernel modules to load now and at every boot.
    type: list
    elements: str
    default: []
  persist_file:
    description: The C(modules-load.d) file that lists the modules; it must end in C(.conf).
    type: path
    default: /etc/modules-load.d/openblade-kvm.conf
  uri:
    description: libvirt connection URI for the facts.
    type: str
    default: qemu:///system
extends_documentation_fragment:
  - openblade.kvm.attributes
notes:
  - Debian 12 (systemd, apt). Package names are checked against Debian's naming rule before any command runs;
    a well-formed name the archive lacks fails the install with apt's message.
seealso:
  - module: openblade.kvm.hypervisor_info
  - module: openblade.kvm.kernel_modules
"""

EXAMPLES = r"""
- name: A KVM blade
  openblade.kvm.hypervisor_host:
    packages: [libvirt-daemon-system, qemu-system-x86, python3-libvirt, python3-lxml, lvm2]
    kernel_modules: [8021q, dm_thin_pool, bridge]
  register: hv

- name: Refuse a host that cannot run guests
  ansible.builtin.assert:
    that: hv.hypervisor.can_run_guests or hv.facts_pending
    fail_msg: "{{ hv.hypervisor.problems | join('; ') }}"
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode.
  returned: always
  type: list
  elements: str
  sample: ["install packages lvm2", "create /etc/systemd/system/libvirtd.service.d/openblade-kvm.conf",
           "reload systemd units", "restart libvirtd"]
hypervisor:
  description: What the host offers, read after the changes; the same keys as M(openblade.kvm.hypervisor_info) returns.
  returned: always
  type: dict
  sample: {"virt_type": "kvm", "can_run_guests": true, "cpu_virtualization_flag": "vmx", "kvm_device": true,
           "cpu_count": 32, "memory_mib": 257675, "libvirt_version": "9.0.0",
           "qemu_emulator": "/usr/bin/qemu-system-x86_64", "domain_types": ["kvm", "qemu"], "problems": []}
facts_pending:
  description:
    - True in check mode when packages would be installed or libvirtd started first, so C(hypervisor) describes the host before those changes.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._hypervisor_host import HypervisorHost
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


def main():
    module = AnsibleModule(
        argument_spec=dict(
            packages=dict(type="list", elements="str", default=[]),
            update_cache=dict(type="bool", default=False),
            kernel_modules=dict(type="list", elements="str", default=[]),
            persist_file=dict(type="path", default="/etc/modules-load.d/openblade-kvm.conf"),
            uri=dict(type="str", default="qemu:///system"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    run_module(module, lambda m: HypervisorHost(
        Runner(m), params["packages"], params["kernel_modules"], update_cache=params["update_cache"],
        persist_file=params["persist_file"], uri=params["uri"]))


if __name__ == "__main__":
    main()
