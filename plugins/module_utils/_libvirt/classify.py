# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Classify each difference between two sets of managed fields by when it can take effect.

======================================  =========================================================
change                                  class for a running (or paused) guest
======================================  =========================================================
memory (current), new value <= max      live: balloon, applied to the guest and its config
vcpus, more but <= max_vcpus            live: vCPU hotplug
(max = the limit the guest runs with)
vcpus, fewer                            next boot (unplug needs the guest's cooperation)
NIC added or removed                    live: hotplug
disk added or removed (virtio/scsi/usb) live: hotplug; on sata/ide buses next boot
max_memory, max_vcpus, cpu, kernel,     next boot: the persistent config is updated and
initrd, cmdline, serial console,        ``reboot_required`` is returned
domain_type, changed NIC or disk,
cloud-init seed, xml template,
machine version within one family
description, cluster, ownership marker  config: metadata only, nothing to reboot for
uuid                                    impossible: libvirt refuses to change a UUID
machine family (i440fx <-> q35)         impossible: the PCI topology differs and libvirt
                                        refuses the redefine
firmware (bios <-> uefi)                impossible: an installed guest boots through its
                                        firmware's loader and would not come up
======================================  =========================================================

The limits of a live change are the running guest's (its live XML), not the persistent
config's: after a change that waits for a reboot (say max_memory 192 -> 256 MiB), the
guest still runs with 192 MiB at most, so 224 MiB is a next-boot change, not a balloon
request libvirt would refuse after the config was already written.

``domain_type`` (kvm <-> qemu) is a next-boot change: libvirt accepts the redefine and
the guest sees the same virtual hardware, only slower or faster.  Impossible changes
fail with an explanation unless ``recreate: true``.  On a guest that is not running
every change simply lands in its persistent config.
"""

from __future__ import annotations

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import fields as _fields
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.fields import (  # noqa: F401 pylint: disable=unused-import
    CONFIG,
    IMPOSSIBLE,
    LIVE,
    NEXT_BOOT,
)

# The order fields are compared and reported in, so plans read the same every run.
FIELD_ORDER = _fields.COMPARED


def _keys_of_class(when):
    return tuple(key for key in FIELD_ORDER
                 if _fields.BY_KEY[key].when[key] == when and not _fields.BY_KEY[key].devices)


NEXT_BOOT_FIELDS = _keys_of_class(NEXT_BOOT)
CONFIG_FIELDS = _keys_of_class(CONFIG)


class Change:
    """One difference: a field (or one device of a list), its old and new value, and when
    it can take effect (``LIVE``, ``NEXT_BOOT``, ``CONFIG`` or ``IMPOSSIBLE``)."""

    def __init__(self, field, before, after, when, why=None, device=None):
        self.field = field
        self.before = before
        self.after = after
        self.when = when
        self.why = why
        self.device = device  # 'attach', 'detach' or 'modify' for disks and NICs

    @property
    def label(self):
        if self.field == "disks":
            disk = self.after or self.before
            return f"disk {disk['target']}"
        if self.field == "nics":
            nic = self.after or self.before
            return f"NIC {nic['mac']}"
        return self.field

    def __repr__(self):
        return f"Change({self.label}, {self.when})"


def classify(current, desired, running=None):
    """Changes turning ``current`` into ``desired``, over the keys ``desired`` holds.

    ``running`` is the live XML's fields of a running guest: live changes are judged
    against what it runs with (defaults to ``current``).
    """
    limits = running if running is not None else current
    changes = []
    for field in FIELD_ORDER:
        if field not in desired or desired[field] == current.get(field):
            continue
        before, after = current.get(field), desired[field]
        entry = _fields.BY_KEY[field]
        if entry.devices:
            key, hotpluggable = entry.devices
            changes += _device_changes(field, before or [], after, key, hotpluggable)
        else:
            when, why = entry.classify(field, before, after, limits)
            changes.append(Change(field, before, after, when, why))
    return changes


def _device_changes(field, before, after, key, hotpluggable):
    old = {device[key]: device for device in before}
    new = {device[key]: device for device in after}
    changes = []
    for ident, device in new.items():
        if ident not in old:
            when = LIVE if hotpluggable(device) else NEXT_BOOT
            changes.append(Change(field, None, device, when, device="attach"))
        elif old[ident] != device:
            changes.append(Change(field, old[ident], device, NEXT_BOOT, device="modify"))
    for ident, device in old.items():
        if ident not in new:
            when = LIVE if hotpluggable(device) else NEXT_BOOT
            changes.append(Change(field, device, None, when, device="detach"))
    return changes


def pending_reboot(live, inactive, fields=FIELD_ORDER):
    """Whether the persistent config holds changes the running guest does not have yet.

    Fields the persistent config leaves unset are skipped: libvirt fills some of them only
    into the live XML.  A field libvirt rewrites in the live XML (the CPU) is judged by its
    entry's own ``pending``.
    """
    wanted = {key: value for key, value in inactive.items()
              if key in fields and value is not None and _fields.BY_KEY[key].pending is None}
    if any(change.when in (NEXT_BOOT, IMPOSSIBLE) for change in classify(live, wanted)):
        return True
    return any(entry.pending(live, inactive) for entry in _fields.TABLE
               if entry.pending is not None and set(entry.keys) & set(fields))
