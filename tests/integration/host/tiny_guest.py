# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host tier's names and the tiny guest's recipe (imported by conftest and the tests;
a module of its own because pytest's conftest modules are not importable by name)."""

from __future__ import annotations

CACHE = "/var/tmp/openblade-test"
URI = "qemu:///system"
PREFIX = "obt-"  # every guest these tests create starts with it
CLUSTER = "obt-cluster"
BRIDGE = "obtbr0"
PARTITION = "obt-partition"
GUEST_MARKER = "OPENBLADE-GUEST-UP"

# Load order matters: each module needs the ones before it (modinfo 'depends').
VIRTIO_MODULES = ["virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev",
                  "virtio_pci", "virtio_balloon"]
INIT_SCRIPT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys
for m in {}; do insmod /mods/$m.ko; done
echo {}
while true; do sleep 3600; done
""".format(" ".join(VIRTIO_MODULES), GUEST_MARKER)
