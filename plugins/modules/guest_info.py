#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: guest_info
short_description: The guests of a host, with their state, managed fields, disks and NICs
version_added: 1.0.0
description:
  - Lists the libvirt guests of a host with their state, the fields M(openblade.kvm.guest) manages
    (read the same way it reads them), their disks and their NICs (with MAC and partition), whether
    they carry our ownership marker, and whether a reboot is pending.
  - A reboot is pending when a running guest's persistent config differs from its live one in a field
    that only takes effect at the next boot.
author: openblade.kvm developers (@openblade)
options:
  names:
    description:
      - Only these guests. All guests when omitted.
    type: list
    elements: str
  managed_only:
    description:
      - Only guests that carry the openblade.kvm ownership marker.
    type: bool
    default: false
extends_documentation_fragment:
  - openblade.kvm.guest.info
  - openblade.kvm.attributes.info_module
requirements:
  - python3-libvirt and python3-lxml on the target host
seealso:
  - module: openblade.kvm.guest
  - module: openblade.kvm.guests
"""

EXAMPLES = r"""
- name: All guests of this blade
  openblade.kvm.guest_info:
  register: info

- name: Guests waiting for a reboot
  ansible.builtin.debug:
    msg: "{{ info.guests | selectattr('reboot_pending') | map(attribute='name') | list }}"
"""

RETURN = r"""
guests:
  description: One entry per guest, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The guest's name.
      type: str
    uuid:
      description: The guest's UUID.
      type: str
    state:
      description: C(running), C(paused) or C(stopped).
      type: str
    persistent:
      description: Whether the guest is defined (false for a transient guest).
      type: bool
    autostart:
      description: Whether the guest starts with the host.
      type: bool
    managed:
      description: Whether the guest carries the openblade.kvm ownership marker.
      type: bool
    cluster:
      description: The cluster recorded in the marker.
      type: str
    reboot_pending:
      description: Whether the guest runs with an older config than its persistent one.
      type: bool
    domain_type:
      description: C(kvm) or C(qemu).
      type: str
    machine:
      description: The canonical machine type.
      type: str
    firmware:
      description: C(bios) or C(uefi).
      type: str
    memory:
      description: Memory in MiB (current).
      type: int
    max_memory:
      description: Boot memory in MiB.
      type: int
    vcpus:
      description: vCPUs (current).
      type: int
    max_vcpus:
      description: Maximum vCPUs.
      type: int
    cpu_mode:
      description: libvirt's CPU mode, when set.
      type: str
    cpu_model:
      description: The CPU model, when set.
      type: str
    cpu_features:
      description: The CPU features added to or taken from the model, by name, each with its policy; null when none.
      type: list
      elements: dict
    kernel:
      description: The directly booted kernel, when set.
      type: str
    initrd:
      description: The initramfs, when set.
      type: str
    cmdline:
      description: The kernel command line, when set.
      type: str
    description:
      description: The description, when set.
      type: str
    serial_console:
      description: Whether the guest has a serial console.
      type: bool
    serial_log:
      description: The host file the serial console is logged to.
      type: str
    seed:
      description: Digest of the cloud-init seed the guest was given.
      type: str
    template:
      description: Digest of the XML template the guest was defined from.
      type: str
    disks:
      description: The disks, by target.
      type: list
      elements: dict
      sample: [{"target": "vda", "bus": "virtio", "device": "disk", "type": "block", "path": "/dev/vg/web1",
                "format": "raw", "cache": "none", "readonly": false, "boot_order": 1}]
    nics:
      description: The NICs with MAC, partition (libvirt network) or bridge, and model.
      type: list
      elements: dict
      sample: [{"mac": "52:54:3a:91:0c:7e", "partition": "office", "bridge": null, "model": "virtio"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import (
    Hypervisor,
    require_libraries,
)
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.resources import GuestInventory
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            uri=dict(type="str", default="qemu:///system"),
            names=dict(type="list", elements="str"),
            managed_only=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    require_libraries(module)
    run_module(module, lambda m: GuestInventory(Hypervisor(m.params["uri"]), m.params["names"],
                                                m.params["managed_only"]))


if __name__ == "__main__":
    main()
