#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: libvirt_networks
short_description: libvirt networks of forward mode bridge, so guests attach by partition name
version_added: 1.0.0
description:
  - Defines, starts and autostarts one libvirt network of forward mode C(bridge) per entry, on an existing host bridge.
  - A guest then attaches with C(<source network='sales'/>) and never needs to know the bridge's name.
  - A network this module defines has a UUID derived from its name, which marks it as ours.
    A network of the same name defined by something else is refused, never changed.
  - A network whose bridge changes is stopped, redefined and started again. Guests keep their tap devices on the host bridge.
author: openblade.kvm developers (@openblade)
options:
  networks:
    description: The networks.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The network's name, usually the partition's.
        type: str
        required: true
      bridge:
        description: The host bridge the network's guests attach to.
        type: str
        required: true
      autostart:
        description: Start the network when libvirtd starts.
        type: bool
        default: true
  prune:
    description: Remove the networks this module defined earlier that O(networks) no longer lists. Other networks are never touched.
    type: bool
    default: false
  uri:
    description: The libvirt connection URI.
    type: str
    default: qemu:///system
extends_documentation_fragment:
  - openblade.kvm.attributes
requirements:
  - libvirt-python on the target (Debian C(python3-libvirt))
"""

EXAMPLES = r"""
- name: One libvirt network per partition bridge
  openblade.kvm.libvirt_networks:
    networks:
      - {name: sales, bridge: br-sales}
      - {name: shared, bridge: br-shared}
    prune: true
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["define libvirt network sales (forward mode bridge on br-sales)", "enable autostart of libvirt network sales", "start libvirt network sales"]
networks:
  description: The names of the networks that exist after the change.
  returned: always
  type: list
  elements: str
  sample: [sales, shared]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._net.libvirt_networks import (
    LibvirtNetworks,
    connector,
)
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            networks=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                bridge=dict(type="str", required=True),
                autostart=dict(type="bool", default=True),
            )),
            prune=dict(type="bool", default=False),
            uri=dict(type="str", default="qemu:///system"),
        ),
        supports_check_mode=True,
    )
    run_module(module, lambda m: LibvirtNetworks(connector(m.params["uri"]), m.params["networks"],
                                                 m.params["prune"]))


if __name__ == "__main__":
    main()
