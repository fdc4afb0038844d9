#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lvm_clone
short_description: A guest disk as a thin clone of a golden image, in constant time whatever the image size
version_added: 1.0.0
description:
  - Creates O(name) as a thin snapshot of the golden image LV O(origin) (made by M(openblade.kvm.golden_image)).
    No data is copied, so a clone of a 1 TiB image costs the same as one of a 1 GiB image; the clone uses pool space only for what the guest writes.
  - Creates it active and without LVM's activation-skip flag, so the guest's disk is there after a reboot too.
    An existing clone that carries the flag or is inactive is fixed.
  - Grows the clone to O(size) when given. Shrinking is refused; use M(openblade.kvm.lvm_volume) with C(force) for that.
  - Tags the clone with its owner guest and origin (C(ob_owner=), C(ob_origin=), C(ob_image=), C(ob_version=)), so its provenance survives the golden
    image's removal.
  - An existing clone of the same origin is left alone (apart from activation and growth).
    An existing volume with a different origin is reported (O(on_origin_mismatch)) and never replaced.
  - A clone that would push the pool past its C(max_overcommit) is refused unless O(allow_overcommit) is set.
author: openblade.kvm developers (@openblade)
options:
  name:
    description: Name of the clone, for example C(web1-root).
    type: str
    required: true
  origin:
    description:
      - The golden image LV to clone, C(NAME-VERSION) as M(openblade.kvm.golden_image) named it (its result's C(image.lv)).
      - It must carry the golden tag and a complete import; other LVs are refused.
    type: str
    required: true
  owner:
    description:
      - The guest (libvirt domain name) this disk belongs to, recorded in the tag C(ob_owner).
      - An existing clone that belongs to another guest is an error.
    type: str
  size:
    description:
      - Virtual size of the clone, at least the golden image's size (the default).
      - An existing clone is grown to it; a larger one is an error (shrinking loses data).
    type: str
  on_origin_mismatch:
    description:
      - What to do when O(name) exists but is not a clone of O(origin), for example after the inventory moved to a newer golden image version.
      - C(warn) leaves it alone and reports it in a warning and in RV(origin_mismatch); C(fail) fails the task. It is never replaced.
    type: str
    choices: [warn, fail]
    default: warn
extends_documentation_fragment:
  - openblade.kvm.attributes
  - openblade.kvm.lvm
  - openblade.kvm.lvm.overcommit
seealso:
  - module: openblade.kvm.lvm_clones
    description: All the clones of a host in one task, and their removal.
  - module: openblade.kvm.golden_image
  - module: openblade.kvm.lvm_snapshot
"""

EXAMPLES = r"""
- name: Root disk of web1, 40 GiB, from the Debian 12 golden image
  openblade.kvm.lvm_clone:
    vg: vg_guests
    name: web1-root
    origin: debian12-20240601
    owner: web1
    size: 40g
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode.
  returned: always
  type: list
  elements: str
  sample: ["create thin clone vg_guests/web1-root of golden image vg_guests/debian12-20240601 for guest web1",
           "extend vg_guests/web1-root from 2 GiB to 40 GiB"]
origin_mismatch:
  description: Whether O(name) exists with another origin than O(origin) (and was left alone).
  returned: success
  type: bool
clone:
  description: The clone after the run (in check mode, as it is now); empty when it does not exist. Sizes are in bytes.
  returned: success
  type: dict
  contains:
    vg: {description: The volume group., type: str, returned: when the clone exists}
    name: {description: The clone's LV name., type: str, returned: when the clone exists}
    path: {description: The device path for the guest's disk., type: str, returned: when the clone exists}
    pool: {description: The thin pool., type: str, returned: when the clone exists}
    size: {description: The virtual size., type: int, returned: when the clone exists}
    origin: {description: The golden image LV it was cloned from., type: str, returned: when the clone exists}
    owner: {description: The owner guest from the C(ob_owner) tag., type: str, returned: when the clone exists}
    image: {description: The golden image's name., type: str, returned: when the clone exists}
    version: {description: The golden image's version., type: str, returned: when the clone exists}
    active: {description: Whether the clone is active., type: bool, returned: when the clone exists}
    read_only: {description: Whether the clone is read-only., type: bool, returned: when the clone exists}
    tags: {description: The LV tags., type: list, elements: str, returned: when the clone exists}
  sample: {vg: vg_guests, name: web1-root, path: /dev/vg_guests/web1-root, pool: thinpool, size: 42949672960,
           origin: debian12-20240601, owner: web1, image: debian12, version: "20240601", active: true, read_only: false,
           tags: [ob_clone, ob_image=debian12, ob_origin=debian12-20240601, ob_owner=web1, ob_version=20240601, openblade.kvm]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.clone import Clone
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


def main():
    module = AnsibleModule(
        argument_spec=dict(
            vg=dict(type="str", required=True),
            name=dict(type="str", required=True),
            origin=dict(type="str", required=True),
            owner=dict(type="str"),
            size=dict(type="str"),
            on_origin_mismatch=dict(type="str", choices=["warn", "fail"], default="warn"),
            allow_overcommit=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    run_module(module, lambda m: Clone(Runner(m), m.params))


if __name__ == "__main__":
    main()
