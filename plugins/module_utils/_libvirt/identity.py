# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deterministic guest identity: the same inventory always yields the same UUIDs and MACs.

Both are derived from the cluster name plus the guest name (and NIC index), so a guest
rebuilt from the inventory on another blade, or after being undefined, comes back with
the UUID and MACs its DHCP leases, licences and monitoring already know.
"""

from __future__ import annotations

import hashlib
import uuid

# A fixed namespace of our own, so our UUIDs never collide with other uuid5 users.
GUEST_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:openblade:kvm:guest")

# 52:54 is the locally administered, unicast range QEMU and libvirt use for guests.
# We derive the other four octets (32 bits) rather than libvirt's three, so that
# collisions stay unlikely across a whole estate, not only one host.
MAC_PREFIX = (0x52, 0x54)


def derive_uuid(cluster, name):
    return str(uuid.uuid5(GUEST_NAMESPACE, f"{cluster}/{name}"))


def derive_mac(cluster, name, index):
    digest = hashlib.sha256((f"{cluster}/{name}/nic{index}").encode()).digest()
    return ":".join(f"{octet:02x}" for octet in MAC_PREFIX + tuple(digest[:4]))
