# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-guest options: the argument spec shared by the domain and guests modules, and
their validation and normalisation into the managed fields of :mod:`.model`."""

from __future__ import annotations

import os
import re
import string
import uuid as uuidlib

from ansible_collections.openblade.kvm.plugins.module_utils import _validate as validate
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import fields, identity, model, seed
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.fields import (  # noqa: F401 pylint: disable=unused-import
    CACHE_MODES,
    CLOUD_INIT_SPEC,
    CPU_MODES,
    DISK_BUSES,
    DISK_SPEC,
    NIC_SPEC,
)

STATES = ("present", "running", "stopped", "paused", "absent")

# Target name prefixes, as libvirt and the guest kernel name the disks of each bus.
_TARGET_PREFIX = {"virtio": "vd", "scsi": "sd", "sata": "sd", "usb": "sd", "ide": "hd"}

# Options of one guest, the same in the domain module and in each item of guests: its
# name and state, the options of the managed fields (declared in the field table), and
# how the change is carried out.
GUEST_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=list(STATES)),
    **fields.options(),
    autostart=dict(type="bool"),
    restart_if_required=dict(type="bool", default=False),
    recreate=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
    force_stop=dict(type="bool", default=False),
    shutdown_timeout=dict(type="int", default=120),
)

CONNECTION_SPEC = dict(
    uri=dict(type="str", default="qemu:///system"),
    cluster=dict(type="str", default="default"),
)


def domain_argument_spec():
    spec = dict(CONNECTION_SPEC)
    spec.update(GUEST_SPEC)
    return spec


def guests_argument_spec():
    spec = dict(CONNECTION_SPEC)
    spec.update(
        guests=dict(type="list", elements="dict", required=True, options=GUEST_SPEC),
        prune=dict(type="bool", default=False),
        prune_force=dict(type="bool", default=False),
        prune_force_stop=dict(type="bool", default=False),
        prune_shutdown_timeout=dict(type="int", default=120),
    )
    return spec


def names_are_not_secret(module):
    """Let the guests' names show in the result although user data holds them too.

    Ansible hides every string of a no_log option wherever it appears in the result, even
    inside other strings.  The cluster plan puts each guest's name into its user data (as
    its hostname), and user data often holds short words such as a user called "ops":
    every action would read "define ********" or "define ********1".  A name, and any
    part of one, is in the result by design, so it is not hidden; everything else stays so.
    """
    params = module.params
    names = [guest["name"] for guest in params["guests"]] if "guests" in params else [params["name"]]
    module.no_log_values.difference_update(
        {value for value in module.no_log_values if any(value in name for name in names)})


def option_defaults():
    """Every per-guest option at its default, for guests built in code (pruning, tests)."""
    return {name: option.get("default") for name, option in GUEST_SPEC.items()}


def target_name(prefix, index):
    """'vd', 0 -> 'vda'; 25 -> 'vdz'; 26 -> 'vdaa' (libvirt's disk naming)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = string.ascii_lowercase[rest] + letters
    return prefix + letters


class GuestSpec:
    """The options of one guest, validated; :meth:`fields` turns them into managed fields.

    All validation happens in the constructor, so a bad value fails before anything
    on the host is touched.
    """

    def __init__(self, params, cluster):
        self.params = params
        self.cluster = cluster
        self.name = validate.domain_name(params["name"], "name")
        self.state = params["state"]
        if self.state == "absent":
            return
        where = f"guest {self.name}: "
        if params.get("uuid"):
            try:
                self.uuid = str(uuidlib.UUID(params["uuid"]))
            except ValueError:
                raise validate.ValidationError(
                    f"{where}uuid: {params['uuid']!r} is not a UUID (allowed: 32 hex digits, e.g. "
                    "'c7a5fdbd-cdaf-9455-926a-d65c16db1809')",
                    option="uuid") from None
        else:
            self.uuid = None
        self.memory = self._positive(params["memory"], "memory")
        self.max_memory = self._positive(params.get("max_memory") or self.memory, "max_memory")
        if self.memory > self.max_memory:
            raise validate.ValidationError(
                f"{where}memory: {self.memory} MiB is more than max_memory {self.max_memory} MiB "
                "(the balloon can only shrink below the boot memory)",
                option="memory")
        self.vcpus = self._positive(params["vcpus"], "vcpus")
        self.max_vcpus = self._positive(params.get("max_vcpus") or self.vcpus, "max_vcpus")
        if self.vcpus > self.max_vcpus:
            raise validate.ValidationError(
                f"{where}vcpus: {self.vcpus} is more than max_vcpus {self.max_vcpus}",
                option="vcpus")
        self.disks = self._disks(params.get("disks") or [])
        self.nic_params = self._nics(params.get("nics") or [])
        self.seed_files = None
        self.seed_path = None
        if params.get("cloud_init") is not None:
            if params["cloud_init"].get("meta_data") is None:  # the name becomes the hostname
                validate.hostname(self.name, "name (the seed's local-hostname)")
            self.seed_files = seed.render_seed(self.name, params["cloud_init"])
            self.seed_path = params["cloud_init"].get("iso_path") or seed.default_iso_path(self.name)
            self._absolute(self.seed_path, "cloud_init.iso_path")
            self.disks.append(self._seed_disk())
        for option in ("kernel", "initrd", "serial_log"):
            if params.get(option):
                self._absolute(params[option], option)
        self.template = None
        if params.get("xml"):
            try:
                self.template = model.parse(params["xml"])
                self.template_digest = model.fingerprint(params["xml"])
            except model.XMLError as exc:
                raise validate.ValidationError(f"{where}xml: {exc}", option="xml") from None
        fields.check(self, params)
        if (params.get("shutdown_timeout") or 0) < 0:
            raise validate.ValidationError(f"{where}shutdown_timeout: must be 0 or more seconds",
                                           option="shutdown_timeout")

    def _positive(self, value, option):
        if value is None or value < 1:
            raise validate.ValidationError(
                f"guest {self.name}: {option}: {value!r} must be a positive integer", option=option)
        return value

    def _absolute(self, path, option):
        if not os.path.isabs(path):
            raise validate.ValidationError(
                f"guest {self.name}: {option}: {path!r} must be an absolute path", option=option)

    def _disks(self, disks):
        normalised = []
        for index, disk in enumerate(disks):
            option = f"disks[{index}]"
            self._absolute(disk["path"], option + ".path")
            device = disk.get("device") or "disk"
            kind = disk.get("type") or "auto"
            if kind == "auto":
                # Block devices live under /dev (LVs are /dev/<vg>/<lv>); anything else is a file.
                kind = "block" if disk["path"].startswith("/dev/") else "file"
            normalised.append({
                "target": disk.get("target"),
                "bus": disk.get("bus") or ("sata" if device == "cdrom" else "virtio"),
                "device": device,
                "type": kind,
                "path": disk["path"],
                "format": disk.get("format") or "raw",
                "cache": disk.get("cache") or "default",
                "readonly": bool(disk.get("readonly")) or device == "cdrom",
                "boot_order": disk.get("boot_order"),
            })
        self._assign_targets(normalised)
        return normalised

    def _assign_targets(self, disks):
        taken = [disk["target"] for disk in disks if disk["target"]]
        duplicates = sorted({target for target in taken if taken.count(target) > 1})
        if duplicates:
            raise validate.ValidationError(
                f"guest {self.name}: disks: target {', '.join(duplicates)} is used twice", option="disks")
        for disk in disks:
            if disk["target"]:
                if not re.match(r"^[a-z]{2}[a-z]+$", disk["target"]):
                    raise validate.ValidationError(
                        f"guest {self.name}: disks: target {disk['target']!r} is not a disk name "
                        "like 'vdb' or 'sda'", option="disks")
                continue
            prefix = _TARGET_PREFIX[disk["bus"]]
            index = 0
            while target_name(prefix, index) in taken:
                index += 1
            disk["target"] = target_name(prefix, index)
            taken.append(disk["target"])
        orders = [disk["boot_order"] for disk in disks if disk["boot_order"] is not None]
        if len(orders) != len(set(orders)):
            raise validate.ValidationError(
                f"guest {self.name}: disks: boot_order values must be unique", option="disks")

    def _seed_disk(self):
        taken = [disk["target"] for disk in self.disks]
        index = 0
        while target_name("sd", index) in taken:
            index += 1
        return {"target": target_name("sd", index), "bus": "sata", "device": "cdrom",
                "type": "file", "path": self.seed_path, "format": "raw", "cache": "default",
                "readonly": True, "boot_order": None}

    def _nics(self, nics):
        normalised = []
        for index, nic in enumerate(nics):
            option = f"nics[{index}]"
            mac = validate.mac(nic["mac"], option + ".mac") if nic.get("mac") else None
            if nic.get("bridge"):
                validate.ifname(nic["bridge"], option + ".bridge")
            normalised.append({"mac": mac, "partition": nic.get("partition"),
                               "bridge": nic.get("bridge"), "model": nic.get("model") or "virtio"})
        explicit = [nic["mac"] for nic in normalised if nic["mac"]]
        duplicates = sorted({mac for mac in explicit if explicit.count(mac) > 1})
        if duplicates:
            raise validate.ValidationError(
                f"guest {self.name}: nics: MAC {', '.join(duplicates)} is given twice", option="nics")
        return normalised

    # --- identity and fields --------------------------------------------------------------------

    def managed_keys(self):
        return fields.managed_keys(self.params)

    def resolve_macs(self, current_nics):
        """MACs for the NICs: given ones first; otherwise the one the NIC at the same
        position already has; otherwise derived from cluster, name and position."""
        explicit = {nic["mac"] for nic in self.nic_params if nic["mac"]}
        used = set(explicit)
        macs = []
        for index, nic in enumerate(self.nic_params):
            mac = nic["mac"]
            if mac is None and index < len(current_nics):
                existing = current_nics[index]["mac"]
                if existing and existing not in used:
                    mac = existing
            if mac is None:
                mac = identity.derive_mac(self.cluster, self.name, index)
                if mac in used:
                    raise validate.ValidationError(
                        f"guest {self.name}: nics[{index}]: the derived MAC {mac} is already in use "
                        "by another NIC; give this NIC a mac", option="nics")
            used.add(mac)
            macs.append(mac)
        return macs

    def fields(self, current):
        """The managed fields to write, given the guest's current fields (or None)."""
        return fields.values(self, current)
