#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lvm_clones
short_description: Every guest disk of a host as thin clones of golden images, in one task
version_added: 1.0.0
description:
  - The batch form of M(openblade.kvm.lvm_clone). Creates, grows, activates or removes all the clones listed in O(clones) in one module call,
    so a playbook needs one task per host instead of one per disk, and a re-run takes the same time for 2 guests or 200.
  - The volume group is locked once and its logical volumes are read once for the whole list.
    Every item is validated (names, duplicates, owners) and the whole plan is built before the first command runs; if any item is refused, nothing is changed.
  - Items are handled in list order. A clone that would push the pool past its C(max_overcommit) is refused unless O(allow_overcommit) is set,
    counting what the items before it add (and what removals before it free).
  - With C(state=present), an item behaves exactly like M(openblade.kvm.lvm_clone) with the same options.
  - With C(state=absent), the clone is removed, but only a volume that carries the collection's clone tags (C(openblade.kvm) and C(ob_clone));
    any other volume of that name is refused.
    Removal is refused while the clone is open, mounted, held by another device or referenced by a libvirt domain
    (running or not; O(force) overrides only a domain that is not running).
author: openblade.kvm developers (@openblade)
options:
  clones:
    description: The clones to manage, all in O(vg).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the clone, for example C(web1-root). Each name may appear once.
        type: str
        required: true
      origin:
        description:
          - The golden image LV to clone, C(NAME-VERSION) as M(openblade.kvm.golden_image) named it.
          - It must carry the golden tag and a complete import; other LVs are refused.
        type: str
        required: true
      owner:
        description:
          - The guest (libvirt domain name) this disk belongs to, recorded in the tag C(ob_owner).
          - An existing clone that belongs to another guest is an error, for C(state=absent) too.
        type: str
      size:
        description:
          - Virtual size of the clone, at least the golden image's size (the default).
          - An existing clone is grown to it; a larger one is an error (shrinking loses data).
        type: str
      state:
        description: Whether the clone should exist.
        type: str
        choices: [present, absent]
        default: present
  on_origin_mismatch:
    description:
      - What to do when a listed clone exists but is not a clone of its O(clones[].origin), for example after the inventory moved to a newer golden
        image version.
      - C(warn) leaves it alone and names it in a warning and in RV(origin_mismatch); C(fail) fails the task before anything changes. It is never replaced.
    type: str
    choices: [warn, fail]
    default: warn
  force:
    description:
      - Allow removing a clone (C(state=absent)) that a libvirt domain which is not running references; the domain is left with a missing disk.
      - Never overrides a clone that is in use right now.
    type: bool
    default: false
extends_documentation_fragment:
  - openblade.kvm.attributes
  - openblade.kvm.lvm
  - openblade.kvm.lvm.overcommit
seealso:
  - module: openblade.kvm.lvm_clone
  - module: openblade.kvm.golden_image
"""

EXAMPLES = r"""
- name: Every guest disk of this blade, in one task
  openblade.kvm.lvm_clones:
    vg: vg_guests
    clones:
      - name: web1-root
        origin: debian12-20240601
        owner: web1
        size: 40g
      - name: web2-root
        origin: debian12-20240601
        owner: web2
        size: 40g

- name: Retire web2 (refused while any libvirt domain still references its disk)
  openblade.kvm.lvm_clones:
    vg: vg_guests
    clones:
      - name: web2-root
        origin: debian12-20240601
        state: absent
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["create thin clone vg_guests/web1-root of golden image vg_guests/debian12-20240601 for guest web1",
           "extend vg_guests/web1-root from 2 GiB to 40 GiB",
           "remove thin clone vg_guests/old1-root"]
origin_mismatch:
  description: Names of listed clones that exist with another origin than the one listed (and were left alone).
  returned: success
  type: list
  elements: str
  sample: [web3-root]
clones:
  description:
    - Every listed clone by name, after the run (in check mode, as it is now), with the facts M(openblade.kvm.lvm_clone) returns as C(clone).
    - Empty for a clone that does not exist. Sizes are in bytes.
  returned: success
  type: dict
  sample:
    web1-root: {vg: vg_guests, name: web1-root, path: /dev/vg_guests/web1-root, pool: thinpool, size: 42949672960,
                origin: debian12-20240601, owner: web1, image: debian12, version: "20240601", active: true, read_only: false,
                tags: [ob_clone, ob_image=debian12, ob_origin=debian12-20240601, ob_owner=web1, ob_version=20240601, openblade.kvm]}
    old1-root: {}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.clone import Clones
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


def main():
    module = AnsibleModule(
        argument_spec=dict(
            vg=dict(type="str", required=True),
            clones=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                origin=dict(type="str", required=True),
                owner=dict(type="str"),
                size=dict(type="str"),
                state=dict(type="str", choices=["present", "absent"], default="present"),
            )),
            on_origin_mismatch=dict(type="str", choices=["warn", "fail"], default="warn"),
            force=dict(type="bool", default=False),
            allow_overcommit=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    run_module(module, lambda m: Clones(Runner(m), m.params))


if __name__ == "__main__":
    main()
