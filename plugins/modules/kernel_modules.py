#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: kernel_modules
short_description: Load kernel modules now and at every boot
version_added: 1.0.0
description:
  - Loads each listed kernel module with C(modprobe) unless it is already loaded or built into the kernel.
  - Writes the list to a C(modules-load.d) file that this module owns, so systemd loads the same modules at boot.
  - The file is rewritten as a whole; it carries a header that marks it as managed.
author: openblade.kvm developers (@openblade)
options:
  names:
    description:
      - Kernel module names, for example C(8021q), C(dm_thin_pool), C(bridge).
      - C(-) and C(_) are equivalent, as they are to the kernel.
    type: list
    elements: str
    required: true
  persist_file:
    description: The C(modules-load.d) file that lists the modules; it must end in C(.conf).
    type: path
    default: /etc/modules-load.d/openblade-kvm.conf
extends_documentation_fragment:
  - openblade.kvm.attributes
notes:
  - Unloading is not offered on purpose. Removing C(8021q) or C(dm_thin_pool) under running guests cuts their network or storage.
"""

EXAMPLES = r"""
- name: Hypervisor kernel modules, now and after reboot
  openblade.kvm.kernel_modules:
    names: [8021q, dm_thin_pool, bridge]
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode.
  returned: always
  type: list
  elements: str
  sample: ["load kernel module 8021q", "create /etc/modules-load.d/openblade-kvm.conf"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._host import KernelModules
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


def main():
    module = AnsibleModule(
        argument_spec=dict(
            names=dict(type="list", elements="str", required=True),
            persist_file=dict(type="path", default="/etc/modules-load.d/openblade-kvm.conf"),
        ),
        supports_check_mode=True,
    )
    run_module(module, lambda m: KernelModules(Runner(m), m.params["names"], m.params["persist_file"]))


if __name__ == "__main__":
    main()
