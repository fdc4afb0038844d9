# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate user input before the first command runs.

Every function takes ``(value, option)``, returns the normalised value, and raises
:class:`ValidationError` with a message that names the option, the bad value and the
rule, e.g. ``vlan: 4095 is not a valid VLAN ID (allowed: integers 1-4094; ...)``.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
import re
import unicodedata
from fractions import Fraction

from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
)

try:
    import netaddr
except ImportError:  # reported by cidr() when it is used; other validators work without it
    netaddr = None


class ValidationError(ReconcileError):
    """A user-supplied value breaks a rule.  ``details['option']`` names the option."""


def _refuse(option, value, problem, rule):
    raise ValidationError(f"{option}: {value!r} {problem} ({rule})", option=option)


def _listed(items):
    return " ".join(repr(item) for item in items)


def _require_str(value, option, problem):
    if not isinstance(value, str) or not value:
        _refuse(option, value, problem, "a non-empty string is required")


def one_of(value, option, choices):
    if value not in choices:
        _refuse(option, value, "is not a valid choice",
                "allowed: " + ", ".join(repr(choice) for choice in choices))
    return value


# --- names -------------------------------------------------------------------------------

# lvm(8) VALID NAMES and lvm2's lib/misc/lvm-string.c (NAME_LEN 128 including the NUL).
LVM_NAME_MAX = 127
LVM_RESERVED_PREFIXES = ("snapshot", "pvmove")
LVM_RESERVED_PARTS = (
    "_cdata", "_cmeta", "_corig", "_mimage", "_mlog", "_pmspare", "_rimage", "_rmeta",
    "_tdata", "_tmeta", "_vdata", "_vorigin", "_wcorig",
)
_LVM_CHAR = re.compile(r"[A-Za-z0-9+_.-]")


def lvm_name(value, option, kind="lv"):
    """A VG (``kind="vg"``) or LV name.  The reserved prefixes and parts apply to LVs only."""
    if kind not in ("lv", "vg"):
        raise ValueError(f"kind must be 'lv' or 'vg', not {kind!r}")
    problem = f"is not a valid LVM {kind.upper()} name"
    _require_str(value, option, problem)
    bad = sorted({char for char in value if not _LVM_CHAR.fullmatch(char)})
    if bad:
        _refuse(option, value, problem,
                f"allowed characters: A-Z a-z 0-9 + _ . -; found {_listed(bad)}")
    if len(value) > LVM_NAME_MAX:
        _refuse(option, value, problem,
                f"at most {LVM_NAME_MAX} characters, this has {len(value)}")
    if value.startswith("-"):
        _refuse(option, value, problem, "it must not start with '-'")
    if value in (".", ".."):
        _refuse(option, value, problem, "'.' and '..' are not allowed")
    if kind == "lv":
        for prefix in LVM_RESERVED_PREFIXES:
            if value.startswith(prefix):
                _refuse(option, value, problem, f"LVM reserves LV names starting with {prefix!r}")
        for part in LVM_RESERVED_PARTS:
            if part in value:
                _refuse(option, value, problem,
                        f"LVM reserves LV names containing {part!r} for its internal volumes")
    return value


def domain_name(value, option):
    """A libvirt domain name; it becomes a file name under /etc/libvirt and /run/libvirt."""
    problem = "is not a valid libvirt domain name"
    _require_str(value, option, problem)
    for char in "/,":
        if char in value:
            _refuse(option, value, problem, f"{char!r} is not allowed in domain names")
    if value.startswith("."):
        _refuse(option, value, problem, "it must not start with '.'")
    if any(unicodedata.category(char) == "Cc" for char in value):
        _refuse(option, value, problem, "control characters are not allowed")
    return value


HOSTNAME_MAX = 63
_HOSTNAME = re.compile(r"[a-z0-9-]+")


def hostname(value, option):
    """A name a guest can take as its hostname: one DNS label (RFC 1123).

    cloud-init writes it into the seed's ``local-hostname`` and the hostname; the
    kernel and DNS take at most 63 characters per label.  Lower case only, because
    hostnames compare case-insensitively and the guest would report another spelling
    than the inventory's.
    """
    problem = "cannot be a hostname"
    _require_str(value, option, problem)
    if len(value) > HOSTNAME_MAX:
        _refuse(option, value, problem,
                f"a DNS label has at most {HOSTNAME_MAX} characters, this has {len(value)}")
    bad = sorted({char for char in value if not _HOSTNAME.fullmatch(char)})
    if bad:
        _refuse(option, value, problem,
                f"a DNS label allows a-z 0-9 and '-' only; found {_listed(bad)}")
    if value.startswith("-") or value.endswith("-"):
        _refuse(option, value, problem, "a DNS label must not start or end with '-'")
    return value


IFNAMSIZ = 16


def ifname(value, option):
    """A kernel network interface name that systemd-networkd also accepts.

    The kernel allows 1-15 bytes without '/', ':' or whitespace, and not '.' or '..'.
    systemd-networkd, which persists our links, also refuses non-printable or non-ASCII
    characters, '%', all-digit names (they read as ifindexes) and 'all'/'default'.
    A leading '-' would read as an option to ip(8).
    """
    problem = "is not a valid interface name"
    _require_str(value, option, problem)
    bad = sorted({char for char in value if not "!" <= char <= "~" or char in "/:%"})
    if bad:
        _refuse(option, value, problem, "printable ASCII without spaces, '/', ':' or '%' is "
                f"allowed; found {_listed(bad)}")
    # ASCII only by now, so characters are bytes; IFNAMSIZ counts the trailing NUL.
    if len(value) > IFNAMSIZ - 1:
        _refuse(option, value, problem, f"at most {IFNAMSIZ - 1} characters (kernel IFNAMSIZ)")
    if value in (".", "..", "all", "default") or value.isdigit():
        _refuse(option, value, problem, "'.', '..', 'all', 'default' and all-digit names are "
                "reserved")
    if value.startswith("-"):
        _refuse(option, value, problem, "it must not start with '-'")
    return value


# --- numbers -----------------------------------------------------------------------------

def as_int(value):
    """An int from an int or a decimal string (Ansible may pass either); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?[0-9]+\s*", value):
        return int(value)
    return None


def _int_in_range(value, option, minimum, maximum, problem, note=""):
    number = as_int(value)
    if number is None or not minimum <= number <= maximum:
        _refuse(option, value, problem, f"allowed: integers {minimum}-{maximum}{note}")
    return number


def vlan_id(value, option):
    return _int_in_range(
        value, option, 1, 4094, "is not a valid VLAN ID",
        "; the kernel also accepts 0, but 0 is the 802.1p priority tag, not a VLAN, "
        "and 4095 is reserved",
    )


def mtu(value, option, minimum=68, maximum=65535):
    return _int_in_range(value, option, minimum, maximum, "is not a valid MTU")


# Powers of 1024, as LVM uses them.  A plain number is bytes, like an int, because
# Ansible turns a YAML int into a string for type='str' options.
_SIZE = re.compile(r"\s*([-+]?[0-9]+(?:\.[0-9]+)?)\s*(?:([kmgtp])(?:i?b)?|b)?\s*", re.IGNORECASE)
_SIZE_UNITS = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5}
_SIZE_RULE = ("allowed: a positive number of bytes, or a number with a unit b, k, m, g, t or p "
              "in powers of 1024, e.g. '10g', '1.5TiB', '512M'")


def _parse_size(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    unit = (match.group(2) or "").lower()
    return Fraction(match.group(1)) * 1024 ** _SIZE_UNITS.get(unit, 0)


def size_bytes(value, option):
    """A size as an int of bytes, rounded up to a whole byte ('0.5k' is 512)."""
    number = _parse_size(value)
    if number is None:
        _refuse(option, value, "is not a size", _SIZE_RULE)
    if number <= 0:
        _refuse(option, value, "is not a positive size", _SIZE_RULE)
    return math.ceil(number)


# --- addresses ---------------------------------------------------------------------------

_MAC = re.compile(r"[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}", re.IGNORECASE)


def mac(value, option):
    """A unicast MAC address, returned as lower-case 'aa:bb:cc:dd:ee:ff'."""
    if not isinstance(value, str) or not _MAC.fullmatch(value):
        _refuse(option, value, "is not a MAC address",
                "allowed: six hex octets separated by ':' or '-', e.g. '52:54:00:12:34:56'")
    octets = [int(octet, 16) for octet in re.split("[:-]", value)]
    if octets[0] & 1:
        _refuse(option, value, "is not a unicast MAC address",
                "the I/G bit of the first octet is set, which makes it multicast or broadcast")
    if not any(octets):
        _refuse(option, value, "is not a usable MAC address", "all-zero is not allowed")
    return ":".join(f"{octet:02x}" for octet in octets)


_CIDR_RULE = "allowed: an IPv4 or IPv6 network in prefix form, e.g. '10.0.0.0/24' or 'fd00::/64'"


def cidr(value, option):
    """A network in CIDR form without host bits, returned as a ``netaddr.IPNetwork``."""
    if netaddr is None:
        raise ValidationError(f"{option}: the netaddr Python library is required to check "
                              "networks", option=option)
    if isinstance(value, netaddr.IPNetwork):
        network = value
    else:
        # A bare address would silently become a /32 or /128 network.
        if not isinstance(value, str) or "/" not in value:
            _refuse(option, value, "is not a network in CIDR form", _CIDR_RULE)
        try:
            network = netaddr.IPNetwork(value.strip())
        except (netaddr.AddrFormatError, ValueError, TypeError):
            _refuse(option, value, "is not a network in CIDR form", _CIDR_RULE)
    if network.ip != network.network:
        _refuse(option, value, "has host bits set",
                f"a network address has all host bits zero; did you mean '{network.cidr}'?")
    return network.cidr


def cidr_overlaps(mapping):
    """Check that the named networks ``{name: cidr}`` are disjoint; return them parsed."""
    networks = {name: cidr(value, name) for name, value in mapping.items()}
    overlaps = [
        f"{name_a} {net_a} and {name_b} {net_b}"
        for (name_a, net_a), (name_b, net_b) in itertools.combinations(networks.items(), 2)
        if net_a.version == net_b.version
        and net_a.first <= net_b.last and net_b.first <= net_a.last
    ]
    if overlaps:
        raise ValidationError(
            f"overlapping networks: {'; '.join(overlaps)} "
            "(each network must be disjoint from the others)",
            option=", ".join(networks),
        )
    return networks


def ip_address(value, option):
    """A single IPv4 or IPv6 address (no prefix, no host name), returned as a string.

    The standard library suffices here, so finding the management address never
    depends on netaddr being installed.
    """
    rule = "allowed: an IPv4 or IPv6 address, e.g. '10.0.2.2' or 'fd00::1'; no host names"
    if not isinstance(value, str) or "/" in value:
        _refuse(option, value, "is not an IP address", rule)
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        _refuse(option, value, "is not an IP address", rule)


def ip_interface(value, option):
    """A host address with its prefix length ('10.77.1.1/24'), as an interface carries it.

    Unlike :func:`cidr`, host bits are the point; the network and (IPv4) broadcast
    addresses of a subnet are refused because no host can hold them.
    """
    rule = "allowed: an address with its prefix length, e.g. '10.77.1.1/24' or 'fd00::1/64'"
    if not isinstance(value, str) or "/" not in value:
        _refuse(option, value, "is not an interface address", rule)
    address, _sep, prefix = value.strip().partition("/")
    if netaddr is None:
        raise ValidationError(f"{option}: the netaddr Python library is required to check "
                              "addresses", option=option)
    try:
        host = netaddr.IPAddress(ip_address(address, option))
    except ValidationError:
        host = None
    if host is None or not prefix.isdigit() or int(prefix) > host.netmask_bits():
        _refuse(option, value, "is not an interface address", rule)
    network = netaddr.IPNetwork(f"{host}/{prefix}")
    if host.version == 4 and network.prefixlen < 31 and host in (network.network, network.broadcast):
        _refuse(option, value, "is not a host address",
                f"it is the network or broadcast address of {network.cidr}")
    return f"{host}/{network.prefixlen}"
