#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: offsite_check
short_description: Verify the off-site restic repository of the backups
version_added: 1.1.0
description:
  - Runs C(restic check --read-data-subset=SUBSET) on the repository O(repository) that M(openblade.kvm.offsite_copy) fills. It checks the
    repository's structure (index, snapshots, trees) and reads and decrypts the given part of its data packs, verifying their hashes.
  - A failed check fails the task with restic's last lines. The module only reads, so it never reports a change.
  - Scheduled with a different O(read_data_subset) each time (C(1/7) to C(7/7) over a week), every pack is read once a week.
  - O(guest) only selects which copies are listed in RV(copies); the check covers the whole repository.
author: openblade.kvm developers (@openblade)
options:
  read_data_subset:
    description: The part of the data to read, C(N/T) (part N of T) or a percentage such as C(5%).
    type: str
    default: 5%
extends_documentation_fragment:
  - openblade.kvm.attributes.info_module
  - openblade.kvm.offsite
seealso:
  - module: openblade.kvm.offsite_copy
  - module: openblade.kvm.offsite_restore
"""

EXAMPLES = r"""
- name: Check the off-site repository, reading today's seventh of its data
  openblade.kvm.offsite_check:
    guest: web1
    repository: sftp:backup@offsite.example.org:/srv/restic/dc1
    password: "{{ vault_offsite_restic_password }}"
    read_data_subset: "{{ now(utc=true, fmt='%u') }}/7"
"""

RETURN = r"""
checked: {description: True when the check passed (it fails the task otherwise)., returned: success, type: bool}
read_data_subset: {description: The part of the data that was read., returned: success, type: str}
copies:
  description: The copies of O(guest) in the repository, C(LABEL/DISK) and C(LABEL/definition).
  returned: success
  type: list
  elements: str
output:
  description: What restic check printed.
  returned: success
  type: list
  elements: str
guest: {description: The guest., returned: success, type: str}
repository: {description: The repository., returned: success, type: str}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._backup import offsite
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


def main():
    module = AnsibleModule(**offsite.module_kwargs(
        read_data_subset={"type": "str", "default": "5%"}))
    run_module(module, lambda module: offsite.OffsiteCheck(Runner(module), module.params))


if __name__ == "__main__":
    main()
