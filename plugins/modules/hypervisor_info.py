#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: hypervisor_info
short_description: Tell whether a host can run KVM guests, and how
version_added: 1.0.0
description:
  - Reads the CPU virtualisation flag, C(/dev/kvm), CPU count and memory, and asks libvirtd which x86_64 domain types it offers.
  - C(virt_type) is C(kvm) only when the CPU flag is present and libvirt offers kvm;
    otherwise C(qemu) (TCG software emulation), or null when the host cannot run guests at all.
author: openblade.kvm developers (@openblade)
options:
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
extends_documentation_fragment:
  - openblade.kvm.attributes.info_module
requirements:
  - python3-libvirt and python3-lxml on the target host
"""

EXAMPLES = r"""
- name: Find out what this blade can run
  openblade.kvm.hypervisor_info:
  register: hv

- name: Refuse to continue on a host that cannot run guests
  ansible.builtin.assert:
    that: hv.hypervisor.can_run_guests
    fail_msg: "{{ hv.hypervisor.problems | join('; ') }}"
"""

RETURN = r"""
hypervisor:
  description: What the host offers.
  returned: always
  type: dict
  contains:
    virt_type:
      description: C(kvm), C(qemu) (TCG) or null.
      type: str
      sample: kvm
    can_run_guests:
      description: Whether libvirt can start a guest here at all.
      type: bool
    cpu_virtualization_flag:
      description: C(vmx), C(svm) or null.
      type: str
    kvm_device:
      description: Whether C(/dev/kvm) exists.
      type: bool
    cpu_count:
      description: Logical CPUs.
      type: int
    memory_mib:
      description: Total memory in MiB.
      type: int
    libvirt_version:
      description: Version of the libvirt library libvirtd runs.
      type: str
      sample: 9.0.0
    qemu_emulator:
      description: The emulator binary libvirt uses for x86_64 guests.
      type: str
    domain_types:
      description: Domain types libvirt offers for x86_64.
      type: list
      elements: str
    problems:
      description: Why the host is slow or unusable, in words.
      type: list
      elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._files import read_text
from ansible_collections.openblade.kvm.plugins.module_utils._host import hypervisor_facts, libvirt_connector
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import bindings


def main():
    module = AnsibleModule(argument_spec=dict(uri=dict(type="str", default="qemu:///system")),
                           supports_check_mode=True)
    if bindings() is None:
        module.fail_json(msg="python3-libvirt is missing on the target; the hypervisor role installs it")
    facts = hypervisor_facts(read_text, libvirt_connector(module.params["uri"]))
    module.exit_json(changed=False, hypervisor=facts)


if __name__ == "__main__":
    main()
