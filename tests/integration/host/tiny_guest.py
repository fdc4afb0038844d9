# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host tier's names and the tiny guest's recipe (imported by conftest and the tests;
a module of its own because pytest's conftest modules are not importable by name)."""

from __future__ import annotations

import time

import pytest

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


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.25)


def serial_output(args):
    try:
        with open(args["serial_log"]) as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def wait_until_booted(args, timeout):
    # /init loads the balloon driver before it prints the marker, so after this the
    # guest can take live memory changes.
    wait_for(lambda: GUEST_MARKER in serial_output(args), timeout,
             f"{GUEST_MARKER} on the serial console of {args['name']}")


def xml(dom, inactive=False):
    import libvirt  # pylint: disable=import-outside-toplevel  # conftest skips the tier without it
    from lxml import etree  # pylint: disable=import-outside-toplevel

    return etree.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0).encode())
