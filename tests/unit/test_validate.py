# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every validator: values it accepts (and how it normalises them), values it refuses,
and refusal messages that name the option, the value and the rule."""

from __future__ import annotations

import functools

import netaddr
import pytest

from ansible_collections.openblade.kvm.plugins.module_utils import _validate as v
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
)

vg_name = functools.partial(v.lvm_name, kind="vg")
choice = functools.partial(v.one_of, choices=["present", "absent"])
ipv6_mtu = functools.partial(v.mtu, minimum=1280, maximum=9000)

ACCEPTED = [
    # (validator, value, normalised)
    (v.lvm_name, "web1", "web1"),
    (v.lvm_name, "a+b_c.d-e", "a+b_c.d-e"),
    (v.lvm_name, "x" * 127, "x" * 127),
    (v.lvm_name, "my_snapshot", "my_snapshot"),  # only the prefix is reserved
    (vg_name, "snapshots", "snapshots"),  # LV-only rules do not apply to VGs
    (vg_name, "vg_tmeta", "vg_tmeta"),
    (v.hostname, "web-01", "web-01"),
    (v.hostname, "x" * 63, "x" * 63),
    (v.hostname, "1", "1"),
    (v.domain_name, "web-01.example", "web-01.example"),
    (v.domain_name, "my guest (test)", "my guest (test)"),
    (v.ifname, "eth0", "eth0"),
    (v.ifname, "bond0.100", "bond0.100"),
    (v.ifname, "br-" + "x" * 12, "br-" + "x" * 12),
    (v.vlan_id, 1, 1),
    (v.vlan_id, 4094, 4094),
    (v.vlan_id, "100", 100),
    (v.mac, "52:54:00:AB:cd:01", "52:54:00:ab:cd:01"),
    (v.mac, "52-54-00-ab-cd-01", "52:54:00:ab:cd:01"),
    (v.mac, "02:00:00:00:00:00", "02:00:00:00:00:00"),
    (v.mtu, 1500, 1500),
    (v.mtu, "9000", 9000),
    (v.mtu, 68, 68),
    (ipv6_mtu, 1280, 1280),
    (v.cidr, "10.0.0.0/24", netaddr.IPNetwork("10.0.0.0/24")),
    (v.cidr, " fd00:1::/64 ", netaddr.IPNetwork("fd00:1::/64")),
    (v.cidr, netaddr.IPNetwork("192.168.0.0/16"), netaddr.IPNetwork("192.168.0.0/16")),
    (v.size_bytes, 4096, 4096),
    (v.size_bytes, "4096", 4096),
    (v.size_bytes, "10g", 10 * 1024 ** 3),
    (v.size_bytes, "10G", 10 * 1024 ** 3),
    (v.size_bytes, "10GiB", 10 * 1024 ** 3),
    (v.size_bytes, "512 MB", 512 * 1024 ** 2),
    (v.size_bytes, "1.5t", 3 * 1024 ** 4 // 2),
    (v.size_bytes, "2p", 2 * 1024 ** 5),
    (v.size_bytes, "7b", 7),
    (v.size_bytes, "0.1k", 103),  # rounded up to a whole byte
    (choice, "absent", "absent"),
]

REFUSED = [
    # (validator, value, words the rule part of the message must contain)
    (v.lvm_name, "", "non-empty string"),
    (v.lvm_name, 42, "non-empty string"),
    (v.lvm_name, "vg/lv", "allowed characters: A-Z a-z 0-9 + _ . -; found '/'"),
    (v.lvm_name, "a b", "found ' '"),
    (v.lvm_name, "dätä", "found 'ä'"),
    (v.lvm_name, "x" * 128, "at most 127 characters, this has 128"),
    (v.lvm_name, "-x", "must not start with '-'"),
    (v.lvm_name, "..", "'.' and '..' are not allowed"),
    (vg_name, ".", "'.' and '..' are not allowed"),
    (v.lvm_name, "snapshot1", "reserves LV names starting with 'snapshot'"),
    (v.lvm_name, "pvmove", "reserves LV names starting with 'pvmove'"),
    (v.lvm_name, "pool_tmeta", "containing '_tmeta'"),
    (v.lvm_name, "a_rimage_0", "containing '_rimage'"),
    (v.lvm_name, "x_wcorig", "containing '_wcorig'"),
    (v.domain_name, "", "non-empty string"),
    (v.hostname, "", "non-empty string"),
    (v.hostname, None, "non-empty string"),
    (v.hostname, "x" * 64, "a DNS label has at most 63 characters, this has 64"),
    (v.hostname, "Web1", "a DNS label allows a-z 0-9 and '-' only; found 'W'"),
    (v.hostname, "web_1.lan", "a DNS label allows a-z 0-9 and '-' only; found '.' '_'"),
    (v.hostname, "-web", "must not start or end with '-'"),
    (v.hostname, "web-", "must not start or end with '-'"),
    (v.domain_name, "a/b", "'/' is not allowed"),
    (v.domain_name, "a,b", "',' is not allowed"),
    (v.domain_name, ".hidden", "must not start with '.'"),
    (v.domain_name, "web\n1", "control characters"),
    (v.ifname, "", "non-empty string"),
    (v.ifname, "x" * 16, "at most 15 characters"),
    (v.ifname, "brücke0", "found 'ü'"),
    (v.ifname, "eth\t0", "found '\\t'"),
    (v.ifname, "eth0:1", "found ':'"),
    (v.ifname, "a/b", "found '/'"),
    (v.ifname, "br 0", "found ' '"),
    (v.ifname, "eth%d", "found '%'"),
    (v.ifname, "..", "reserved"),
    (v.ifname, "default", "reserved"),
    (v.ifname, "1234", "all-digit"),
    (v.ifname, "-eth0", "must not start with '-'"),
    (v.vlan_id, 0, "integers 1-4094; the kernel also accepts 0, but 0 is the 802.1p priority tag"),
    (v.vlan_id, 4095, "integers 1-4094"),
    (v.vlan_id, -1, "integers 1-4094"),
    (v.vlan_id, True, "integers 1-4094"),
    (v.vlan_id, "10x", "integers 1-4094"),
    (v.vlan_id, 10.5, "integers 1-4094"),
    (v.mac, "52:54:00:ab:cd", "six hex octets"),
    (v.mac, "52:54:00-ab:cd:01", "six hex octets"),  # mixed separators
    (v.mac, "5254.00ab.cd01", "six hex octets"),
    (v.mac, "01:00:5e:00:00:01", "I/G bit"),
    (v.mac, "ff:ff:ff:ff:ff:ff", "multicast or broadcast"),
    (v.mac, "00:00:00:00:00:00", "all-zero"),
    (v.mtu, 67, "integers 68-65535"),
    (v.mtu, 65536, "integers 68-65535"),
    (ipv6_mtu, 1279, "integers 1280-9000"),
    (v.cidr, "10.0.0.1/24", "host bits zero; did you mean '10.0.0.0/24'?"),
    (v.cidr, "fd00::1/64", "did you mean 'fd00::/64'?"),
    (v.cidr, "10.0.0.1", "prefix form"),  # a bare address is not a network
    (v.cidr, "10.0.0.0/33", "prefix form"),
    (v.cidr, "banana/8", "prefix form"),
    (v.cidr, 167772160, "prefix form"),
    (v.size_bytes, 0, "positive number of bytes"),
    (v.size_bytes, -1, "positive number of bytes"),
    (v.size_bytes, "-1g", "positive number of bytes"),
    (v.size_bytes, "0g", "positive number of bytes"),
    (v.size_bytes, "10x", "unit b, k, m, g, t or p"),
    (v.size_bytes, "g", "unit b, k, m, g, t or p"),
    (v.size_bytes, "10bb", "unit b, k, m, g, t or p"),
    (v.size_bytes, 1.5, "unit b, k, m, g, t or p"),
    (v.size_bytes, True, "unit b, k, m, g, t or p"),
    (choice, "gone", "allowed: 'present', 'absent'"),
]


def _id(case):
    validator, value = case[0], case[1]
    name = getattr(validator, "__name__", None) or validator.func.__name__
    return f"{name}-{value!r}"[:60]


@pytest.mark.parametrize("validator, value, expected", ACCEPTED, ids=map(_id, ACCEPTED))
def test_accepts_and_normalises(validator, value, expected):
    result = validator(value, "opt")
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("validator, value, rule", REFUSED, ids=map(_id, REFUSED))
def test_refuses_naming_option_value_and_rule(validator, value, rule):
    with pytest.raises(v.ValidationError) as caught:
        validator(value, "guests[0].opt")
    message = str(caught.value)
    assert message.startswith(f"guests[0].opt: {value!r} ")
    assert rule in message
    assert caught.value.details == {"option": "guests[0].opt"}


def test_validation_error_is_a_reconcile_error():
    # run_module() turns ReconcileError into fail_json, so validation fails the same way.
    assert issubclass(v.ValidationError, ReconcileError)


def test_vlan_message_matches_the_documented_shape():
    with pytest.raises(v.ValidationError, match=r"^vlan: 4095 is not a valid VLAN ID \(allowed: "
                                                r"integers 1-4094;"):
        v.vlan_id(4095, "vlan")


def test_lvm_name_kind_must_be_lv_or_vg():
    with pytest.raises(ValueError):
        v.lvm_name("x", "name", kind="pv")


def test_disjoint_networks_are_returned_parsed():
    nets = v.cidr_overlaps({"mgmt": "10.0.0.0/24", "storage": "10.0.1.0/24", "v6": "::/0"})
    assert nets == {"mgmt": netaddr.IPNetwork("10.0.0.0/24"),
                    "storage": netaddr.IPNetwork("10.0.1.0/24"),
                    "v6": netaddr.IPNetwork("::/0")}


def test_overlapping_networks_are_listed_by_name_and_network():
    with pytest.raises(v.ValidationError) as caught:
        v.cidr_overlaps({"mgmt": "10.0.0.0/24", "storage": "10.0.1.0/24",
                         "all": "10.0.0.0/16", "guest": "10.0.1.128/25"})
    assert str(caught.value) == (
        "overlapping networks: mgmt 10.0.0.0/24 and all 10.0.0.0/16; "
        "storage 10.0.1.0/24 and all 10.0.0.0/16; storage 10.0.1.0/24 and guest 10.0.1.128/25; "
        "all 10.0.0.0/16 and guest 10.0.1.128/25 (each network must be disjoint from the others)"
    )


def test_overlap_check_validates_each_network_by_name():
    with pytest.raises(v.ValidationError, match=r"^storage: '10.0.1.1/24' has host bits set"):
        v.cidr_overlaps({"mgmt": "10.0.0.0/24", "storage": "10.0.1.1/24"})
