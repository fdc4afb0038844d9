#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: guest
short_description: One KVM guest, described by structured options, reconciled accurately
version_added: 1.0.0
description:
  - Defines, changes, starts, stops and removes one libvirt guest (domain).
  - The desired domain XML is generated with lxml and only the managed fields are compared with
    libvirt's inactive XML, both read the same way. Everything else in the guest's XML (PCI addresses,
    controllers, devices added by hand) is kept.
  - "Each difference is classified by when it can take effect on a running guest.
    B(live): memory up to O(max_memory), more vCPUs up to O(max_vcpus) (the limits the guest runs with, not
    a pending new value), adding or removing a NIC or a hotpluggable disk; applied to the running guest and
    to its persistent config.
    B(next boot): everything else, such as O(max_memory), O(max_vcpus), O(cpu), a machine type version,
    O(domain_type), kernel, changed NICs and disks; the persistent config is updated and
    RV(reboot_required) is returned. The guest is only restarted with O(restart_if_required=true).
    B(impossible in place): the UUID, O(firmware), or the machine family (i440fx and q35 have different
    PCI topologies and libvirt refuses the redefine); the task fails and explains, unless O(recreate=true)."
  - Guests it creates carry an ownership marker in libvirt's C(<metadata>); guests without it are only
    changed or removed with O(force=true).
  - One run holds the guest's lock from reading its state to its last action, so two runs on one guest take
    turns; a run that waits longer than 120 seconds fails and names the process holding the lock.
  - Stopping is graceful, an ACPI shutdown request, then up to O(shutdown_timeout) seconds of waiting.
    A guest that is still running is powered off only with O(force_stop=true).
  - To manage all guests of a host in one call, use M(openblade.kvm.guests), which is much faster than
    a loop over this module.
author: openblade.kvm developers (@openblade)
extends_documentation_fragment:
  - openblade.kvm.guest
  - openblade.kvm.attributes
requirements:
  - python3-libvirt and python3-lxml on the target host
  - genisoimage on the target host, for O(cloud_init)
notes:
  - A running guest is never restarted unless O(restart_if_required=true); check RV(reboot_required).
  - Disks are never created or deleted here; see the storage modules of this collection.
seealso:
  - module: openblade.kvm.guests
  - module: openblade.kvm.guest_info
  - name: libvirt domain XML format
    description: The meaning of every element this module writes.
    link: https://libvirt.org/formatdomain.html
"""

EXAMPLES = r"""
- name: A Debian guest on a thin LV, in the office partition, with a cloud-init seed
  openblade.kvm.guest:
    name: web1
    cluster: city-dc1
    state: running
    vcpus: 2
    max_vcpus: 8
    memory: 2048
    max_memory: 8192
    machine: q35
    cpu:
      mode: host-passthrough
    disks:
      - path: /dev/vg_guests/web1
        boot_order: 1
    nics:
      - partition: office
    cloud_init:
      user_data:
        users:
          - name: admin
            ssh_authorized_keys: ["ssh-ed25519 AAAA... admin@example"]
    autostart: true
    description: Public web server

- name: Give it more memory; applied live because it stays below max_memory
  openblade.kvm.guest:
    name: web1
    cluster: city-dc1
    state: running
    vcpus: 2
    max_vcpus: 8
    memory: 4096
    max_memory: 8192
    machine: q35
    cpu:
      mode: host-passthrough
    disks:
      - path: /dev/vg_guests/web1
        boot_order: 1
    nics:
      - partition: office
  register: web1

- name: Report a pending reboot instead of rebooting
  ansible.builtin.debug:
    msg: "web1 needs a reboot for: {{ web1.changes | selectattr('when', 'eq', 'next_boot') | map(attribute='field') | join(', ') }}"
  when: web1.reboot_required

- name: Stop a guest, powering it off if it ignores ACPI for 60 seconds
  openblade.kvm.guest:
    name: legacy1
    state: stopped
    force_stop: true
    shutdown_timeout: 60

- name: Remove a guest (its disks stay)
  openblade.kvm.guest:
    name: old1
    state: absent
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["update the persistent config of web1: memory", "set memory of running web1 to 4096 MiB"]
changes:
  description: Each managed field (or disk or NIC) that differed, and when the change takes effect.
  returned: always
  type: list
  elements: dict
  contains:
    field:
      description: The field, or C(disk <target>) / C(NIC <mac>).
      type: str
      sample: memory
    when:
      description: C(live), C(next_boot), C(config) (metadata only) or C(impossible).
      type: str
      sample: live
  sample: [{"field": "memory", "when": "live"}]
reboot_required:
  description:
    - Whether the guest runs and its persistent config holds changes that take effect only at its next
      boot (from this run or an earlier one).
  returned: always
  type: bool
state:
  description: The state of the guest after the run (C(running), C(paused), C(stopped) or C(absent)).
  returned: always
  type: str
  sample: running
uuid:
  description: The UUID of the guest.
  returned: unless the guest is and stays absent
  type: str
  sample: 8e4fd9b4-6b8d-5f6a-9d57-3d1f1b0e4a11
macs:
  description: The MAC of each NIC, in the order of O(nics).
  returned: always
  type: list
  elements: str
  sample: ["52:54:3a:91:0c:7e"]
diff:
  description: The managed fields before and after, with C(state) and (when managed) C(autostart).
  returned: when diff mode is on
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import (
    Hypervisor,
    require_libraries,
)
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.resources import Guest
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.spec import (
    domain_argument_spec,
    names_are_not_secret,
)
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


def main():
    module = AnsibleModule(argument_spec=domain_argument_spec(), supports_check_mode=True)
    require_libraries(module)
    names_are_not_secret(module)
    run_module(module, lambda m: Guest(Hypervisor(m.params["uri"]), Runner(m), m.params))


if __name__ == "__main__":
    main()
