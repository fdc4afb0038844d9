# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option docs shared by openblade.kvm.domain, openblade.kvm.guests and domain_info.

The per-guest options are written once, in GUEST_OPTIONS.  The domain module uses
them as its own options (DOCUMENTATION); the guests module gets them as the
suboptions of its ``guests`` list (GUESTS), indented here rather than copied.
"""

from __future__ import annotations

import textwrap

CONNECTION = r"""
options:
  uri:
    description:
      - The libvirt connection URI of the host.
    type: str
    default: qemu:///system
"""

CLUSTER = r"""
options:
  cluster:
    description:
      - The cluster this guest belongs to.
      - With the guest name (and the NIC index) it derives the guest's UUID and the MACs of
        its NICs, so the same inventory always yields the same identities. It is also recorded
        in the ownership metadata, and C(prune) only removes guests of the same cluster.
      - An existing guest keeps the UUID and MACs it already has.
    type: str
    default: default
"""

# Options of one guest, at the indentation of a module's top-level options (2 spaces).
GUEST_OPTIONS = r"""
name:
  description:
    - The name of the guest (libvirt domain).
  type: str
  required: true
state:
  description:
    - V(present) defines the guest and leaves it running or stopped as it is (a new guest stays stopped).
    - V(running), V(stopped) and V(paused) define it and bring it into that state.
    - V(stopped) is graceful, see O(force_stop).
    - V(absent) stops and undefines the guest. Its disks are never removed. A guest with snapshots,
      a managed save image or UEFI NVRAM, or one without our ownership metadata, is refused
      unless O(force=true).
  type: str
  choices: [present, running, stopped, paused, absent]
  default: present
uuid:
  description:
    - The UUID of the guest. By default it is derived from O(cluster) and O(name); an existing
      guest keeps its own.
    - Changing the UUID of an existing guest is impossible in place, see O(recreate).
  type: str
domain_type:
  description:
    - V(kvm) for hardware virtualisation, V(qemu) for software emulation (TCG).
    - A change is applied at the next boot.
  type: str
  choices: [kvm, qemu]
  default: kvm
machine:
  description:
    - The machine type, such as V(pc), V(q35) or V(pc-i440fx-7.2). Aliases are resolved to the
      canonical versioned name through the host's capabilities.
    - Not managed when omitted (libvirt's default is used for a new guest).
    - A new version of the same family (V(pc-i440fx-7.1) to V(pc-i440fx-7.2)) is applied at the next
      boot. A change of family (i440fx to q35) is impossible in place, see O(recreate).
  type: str
firmware:
  description:
    - V(bios) or V(uefi). Not managed when omitted (a new guest gets BIOS).
    - Changing the firmware of an existing guest is impossible in place, see O(recreate).
  type: str
  choices: [bios, uefi]
vcpus:
  description:
    - The number of vCPUs the guest runs with.
    - An increase up to O(max_vcpus) is hotplugged into a running guest; a decrease is applied at
      the next boot.
  type: int
  default: 1
max_vcpus:
  description:
    - The most vCPUs the guest can have without a reboot. Defaults to O(vcpus).
    - A change is applied at the next boot.
  type: int
memory:
  description:
    - The memory of the guest in MiB (libvirt's C(currentMemory)).
    - Any value up to O(max_memory) is applied to a running guest through the balloon driver.
  type: int
  default: 1024
max_memory:
  description:
    - The memory the guest boots with in MiB (libvirt's C(memory)), the most O(memory) can be raised to
      without a reboot. Defaults to O(memory).
    - A change is applied at the next boot.
  type: int
cpu:
  description:
    - The CPU the guest sees. Not managed when omitted.
    - A change is applied at the next boot.
  type: dict
  suboptions:
    mode:
      description:
        - libvirt's CPU mode.
      type: str
      choices: [host-passthrough, host-model, custom, maximum]
      default: host-model
    model:
      description:
        - The CPU model for O(cpu.mode=custom), for example V(EPYC) or V(Skylake-Server).
      type: str
kernel:
  description:
    - A kernel on the host to boot directly, instead of a boot loader on a disk. Not managed when omitted.
  type: path
initrd:
  description:
    - The initramfs for O(kernel). Not managed when omitted.
  type: path
cmdline:
  description:
    - The kernel command line for O(kernel). Not managed when omitted.
  type: str
disks:
  description:
    - The guest's disks, matched to existing ones by target name. Disks not listed are detached
      (never deleted).
    - Adding or removing a disk on a V(virtio), V(scsi) or V(usb) bus is applied live; other
      changes at the next boot.
  type: list
  elements: dict
  default: []
  suboptions:
    path:
      description:
        - The block device, logical volume (V(/dev/vg/lv)) or image file.
      type: path
      required: true
    type:
      description:
        - V(block) for devices, V(file) for image files. V(auto) picks V(block) for paths under
          C(/dev) and V(file) otherwise.
      type: str
      choices: [auto, file, block]
      default: auto
    device:
      description:
        - V(disk) or V(cdrom).
      type: str
      choices: [disk, cdrom]
      default: disk
    format:
      description:
        - The image format.
      type: str
      choices: [raw, qcow2]
      default: raw
    bus:
      description:
        - The bus. Defaults to V(virtio) for disks and V(sata) for CD-ROMs.
      type: str
      choices: [virtio, scsi, sata, ide, usb]
    cache:
      description:
        - The host cache mode. V(default) leaves the choice to the hypervisor.
      type: str
      choices: [default, none, writethrough, writeback, directsync, unsafe]
      default: default
    target:
      description:
        - The device name the guest sees, such as V(vdb). Assigned in order per bus when omitted
          (V(vda), V(vdb), ... for virtio).
      type: str
    boot_order:
      description:
        - The position of this disk in the boot order (1 boots first).
      type: int
    readonly:
      description:
        - Attach the disk read-only. CD-ROMs always are.
      type: bool
      default: false
nics:
  description:
    - The guest's network interfaces, in order.
    - A NIC without O(nics[].mac) keeps the MAC of the existing NIC at the same position; a new one
      gets a MAC derived from O(cluster), O(name) and its position (C(52:54:xx:xx:xx:xx)). To remove
      a NIC from the middle of the list and keep the others, give them explicit MACs.
    - Adding or removing a NIC is applied live; changing one at the next boot.
  type: list
  elements: dict
  default: []
  suboptions:
    partition:
      description:
        - The libvirt network (network partition) to join. Exactly one of O(nics[].partition) and
          O(nics[].bridge) is required.
      type: str
    bridge:
      description:
        - The host bridge to join.
      type: str
    model:
      description:
        - The NIC model the guest sees.
      type: str
      default: virtio
    mac:
      description:
        - The MAC address. Derived when omitted, see O(nics).
      type: str
cloud_init:
  description:
    - A cloud-init NoCloud seed. It is built on the host with C(genisoimage) as a small ISO labelled
      C(cidata) and attached as a SATA CD-ROM after the listed disks.
    - The ISO is rebuilt when its content changes, which takes effect at the next boot.
  type: dict
  suboptions:
    user_data:
      description:
        - The user-data. A string is used as written; a dict becomes C(#cloud-config).
      type: raw
    meta_data:
      description:
        - The meta-data. Defaults to C(instance-id) and C(local-hostname) set to O(name).
      type: raw
    network_config:
      description:
        - The network-config (version 1 or 2), as a string or a dict. Left out when omitted.
      type: raw
    iso_path:
      description:
        - Where to write the ISO. Defaults to C(/var/lib/libvirt/boot/<name>-cidata.iso).
      type: path
serial_console:
  description:
    - Give the guest a serial console (a pty, reachable with C(virsh console)).
    - A change is applied at the next boot.
  type: bool
  default: true
serial_log:
  description:
    - Also log the serial console to this file on the host (through virtlogd). Implies O(serial_console).
  type: path
autostart:
  description:
    - Start the guest when the host boots. Not managed when omitted.
  type: bool
description:
  description:
    - A human-readable description, stored in the domain XML. Not managed when omitted.
  type: str
xml:
  description:
    - The escape hatch, a complete libvirt domain XML used as the starting point of a new guest.
      The structured options are written on top of it; everything else in it is kept as given.
    - A digest of it is kept in the ownership metadata. When the template changes, the guest
      is redefined from the new template (with its UUID and MACs), at the next boot.
  type: str
restart_if_required:
  description:
    - When a change can only take effect at the next boot, shut the running guest down gracefully
      and start it again. Otherwise the guest is never restarted, and RV(reboot_required) reports the pending reboot.
  type: bool
  default: false
recreate:
  description:
    - Allow changes that are impossible in place (UUID, firmware, machine family) by undefining
      the guest and defining it afresh. Disks, NVRAM, UUID and MACs are kept; a running guest
      keeps running and picks the new definition up at its next boot.
  type: bool
  default: false
force:
  description:
    - Allow removing (or recreating) a guest that has snapshots, a managed save image or UEFI NVRAM,
      and changing or removing a guest without our ownership metadata. Disks are never removed.
  type: bool
  default: false
force_stop:
  description:
    - When a guest has not shut down O(shutdown_timeout) seconds after the ACPI shutdown request,
      power it off. Without it the task fails and reports that the guest is still running.
  type: bool
  default: false
shutdown_timeout:
  description:
    - Seconds to wait for a guest to shut down after the ACPI shutdown request.
  type: int
  default: 120
"""


def _options(text, indent):
    return textwrap.indent(text.strip("\n"), " " * indent) + "\n"


def _as_list_items(text):
    """Option references O(x) become O(guests[].x), except the module-wide O(cluster).

    The guests module reports a pending reboot per host in RV(summary.reboot_required),
    where the domain module returns RV(reboot_required).
    """
    text = text.replace("O(", "O(guests[].").replace("O(guests[].cluster", "O(cluster")
    return text.replace("RV(reboot_required)", "RV(summary.reboot_required)")


class ModuleDocFragment:
    DOCUMENTATION = CONNECTION + CLUSTER.replace("options:", "", 1) + _options(GUEST_OPTIONS, 2)

    # The guests module: the same options as suboptions of each list item.
    GUESTS = CONNECTION + CLUSTER.replace("options:", "", 1) + r"""
  guests:
    description:
      - Every guest this host should have, each with the options of M(openblade.kvm.domain).
    type: list
    elements: dict
    required: true
    suboptions:
""" + _options(_as_list_items(GUEST_OPTIONS), 6)

    INFO = CONNECTION
