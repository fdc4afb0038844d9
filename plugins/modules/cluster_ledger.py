#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_ledger
short_description: Keep a blade's copy of the cluster's address ledger
version_added: 1.0.0
description:
  - Writes the address ledger the cluster plan computed to C(<ledger_dir>/<cluster>.json), mode C(0644), creating the directory.
  - Every blade keeps the same copy, so losing a blade loses no address allocation.
  - The file is written atomically and only when its text or mode differs; the same ledger always gives the same bytes (sorted keys).
author: openblade.kvm developers (@openblade)
options:
  cluster:
    description: The cluster's name; it names the file.
    type: str
    required: true
  ledger:
    description: The merged ledger, as the C(openblade.kvm.cluster_plan) filter returns it in C(ledger).
    type: dict
    required: true
  ledger_dir:
    description: The directory that holds the ledger.
    type: path
    default: /var/lib/openblade/ipam
extends_documentation_fragment:
  - openblade.kvm.attributes
seealso:
  - module: openblade.kvm.cluster_info
"""

EXAMPLES = r"""
- name: Record the addresses in the ledger
  openblade.kvm.cluster_ledger:
    cluster: city-dc1
    ledger: "{{ cluster_plan.ledger }}"
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode.
  returned: always
  type: list
  elements: str
  sample: ["update /var/lib/openblade/ipam/city-dc1.json"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._cluster import LedgerCopy
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            cluster=dict(type="str", required=True),
            ledger=dict(type="dict", required=True),
            ledger_dir=dict(type="path", default="/var/lib/openblade/ipam"),
        ),
        supports_check_mode=True,
    )
    run_module(module, lambda m: LedgerCopy(m.params["cluster"], m.params["ledger_dir"], m.params["ledger"]))


if __name__ == "__main__":
    main()
