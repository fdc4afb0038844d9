# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt networks of forward mode ``bridge``, one per partition, so a guest attaches
with ``<interface type='network'><source network='sales'/>`` instead of naming a bridge.

Ownership: a network we define gets a UUID derived from its name in a namespace of our
own, so "ours" needs no metadata element (network ``<metadata>`` is newer than the
libvirt of Debian 12).  A network of the same name with another UUID was defined by
someone else and is never changed or pruned.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET

from ansible_collections.openblade.kvm.plugins.module_utils import _validate as validate
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import Hypervisor
from ansible_collections.openblade.kvm.plugins.module_utils._lock import resource_lock
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    Plan,
    ReconcileError,
    Resource,
)

NETWORK_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:openblade:kvm:network")
NETWORK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
LOCK_TIMEOUT = 60


def network_uuid(name):
    return str(uuid.uuid5(NETWORK_NAMESPACE, name))


def network_xml(name, bridge):
    root = ET.Element("network")
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "uuid").text = network_uuid(name)
    ET.SubElement(root, "forward", mode="bridge")
    ET.SubElement(root, "bridge", name=bridge)
    return ET.tostring(root, encoding="unicode")


def _fields(xml):
    root = ET.fromstring(xml)
    forward = root.find("forward")
    bridge = root.find("bridge")
    return {"forward": forward.get("mode", "nat") if forward is not None else None,
            "bridge": bridge.get("name") if bridge is not None else None}


class LibvirtNetworks(Resource):
    """The listed networks exist, are ours, active and autostarted; with ``prune``, our
    networks that are not listed are removed."""

    def __init__(self, connect, networks, prune=False, lock_dir=None):
        self.connect = connect  # () -> a connection.Hypervisor
        self.prune = bool(prune)
        self.lock_dir = lock_dir
        self.wanted = {}
        for index, entry in enumerate(networks or []):
            name = entry.get("name")
            if not isinstance(name, str) or not NETWORK_NAME.fullmatch(name):
                raise validate.ValidationError(
                    f"networks[{index}].name: {name!r} is not a valid network name (letters, digits, "
                    "'.', '-' and '_', starting with a letter or digit)", option="networks")
            if name in self.wanted:
                raise validate.ValidationError(f"networks: {name!r} is listed more than once",
                                               option="networks")
            bridge = validate.ifname(entry.get("bridge"), f"networks[{index}].bridge")
            self.wanted[name] = {"forward": "bridge", "bridge": bridge, "active": True,
                                 "autostart": bool(entry.get("autostart", True))}

    def lock(self):
        kwargs = {"lock_dir": self.lock_dir} if self.lock_dir else {}
        return resource_lock("libvirt-networks", "all", timeout=LOCK_TIMEOUT, **kwargs)

    def observe(self):
        self.hypervisor = self.connect()
        self.handles, self.ours = {}, set()
        state = {}
        for network in self.hypervisor.networks("libvirt: cannot list networks"):
            name = network.name()
            mine = network.UUIDString() == network_uuid(name)
            if name not in self.wanted and not (self.prune and mine):
                continue
            self.handles[name] = network
            if mine:
                self.ours.add(name)
            state[name] = dict(_fields(self._call(f"read network {name}", network.XMLDesc, 0)),
                               active=bool(network.isActive()), autostart=bool(network.autostart()))
        for name in self.wanted:
            state.setdefault(name, None)
        return state

    def desired(self, current):
        foreign = sorted(name for name in self.wanted if current.get(name) and name not in self.ours)
        if foreign:
            raise ReconcileError(
                f"libvirt network(s) {', '.join(foreign)} exist but were not defined by openblade.kvm "
                "(their UUID is not ours); refusing to change them. Rename the partition or remove "
                "the network", networks=foreign)
        return {name: self.wanted.get(name) for name in current}

    def plan(self, current, desired):
        plan = Plan()
        for name in sorted(desired):
            have, want = current[name], desired[name]
            if want is None:
                if have["active"]:
                    plan.add(f"stop libvirt network {name}", self._step("stop", name, "destroy"))
                plan.add(f"remove libvirt network {name}", self._step("remove", name, "undefine"))
                continue
            define = have is None or (have["forward"], have["bridge"]) != (want["forward"], want["bridge"])
            if define:
                if have is not None and have["active"]:
                    # A running network keeps its old definition until restarted.
                    plan.add(f"stop libvirt network {name} to redefine it",
                             self._step("stop", name, "destroy"))
                verb = "define" if have is None else "redefine"
                plan.add(f"{verb} libvirt network {name} (forward mode bridge on {want['bridge']})",
                         lambda name=name, bridge=want["bridge"]: self._define(name, bridge))
            if have is None or have["autostart"] != want["autostart"]:
                verb = "enable" if want["autostart"] else "disable"
                plan.add(f"{verb} autostart of libvirt network {name}",
                         lambda name=name, on=want["autostart"]: self._call(
                             f"set autostart of {name}", self.handles[name].setAutostart, int(on)))
            if define or not have["active"]:
                plan.add(f"start libvirt network {name}", self._step("start", name, "create"))
        return plan

    def _step(self, what, name, method):
        return lambda: self._call(f"{what} network {name}", getattr(self.handles[name], method))

    def _define(self, name, bridge):
        self.handles[name] = self.hypervisor.define_network(network_xml(name, bridge),
                                                            f"libvirt: cannot define network {name}")

    def _call(self, what, function, *args):
        return self.hypervisor.call(f"libvirt: cannot {what}", function, *args)

    def result(self, current, desired, plan, applied):
        return {"networks": sorted(name for name, want in desired.items() if want is not None)}


def connector(uri):
    """The ``connect`` of :class:`LibvirtNetworks` for the libvirt at ``uri``."""
    return lambda: Hypervisor(uri)
