# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which links carry the management path, and how to tell it still works.

The management path is the link that holds the management address (the local end of
the SSH connection Ansible arrived on, unless given), the link of the default route,
and every link below them: a bridge's ports, a bond's members, a VLAN's parent.  A
change to any of them can cut the host off, so it is applied with a rollback.
"""

from __future__ import annotations

import socket

from ansible_collections.openblade.kvm.plugins.module_utils import _validate as validate


def management_address(option, environ):
    """The management address: the option, else the local address of SSH_CONNECTION.

    sshd sets SSH_CONNECTION to "client_ip client_port server_ip server_port"; the
    module runs inside that session (also with pipelining), so server_ip is the address
    this host was reached on.  None when not reached over SSH (local connection).
    """
    if option:
        return validate.ip_address(option, "management_address")
    words = environ.get("SSH_CONNECTION", "").split()
    if len(words) == 4:
        try:
            return validate.ip_address(words[2], "SSH_CONNECTION")
        except validate.ValidationError:
            return None
    return None


class ManagementPath:
    def __init__(self, snapshot, address):
        self.address = address
        self.holders = snapshot.holders_of(address) if address else []
        self.route_links = sorted({r["dev"] for r in snapshot.default_routes if r.get("dev")})
        links = set()
        pending = set(self.holders) | set(self.route_links)
        while pending:
            name = pending.pop()
            if name not in links:
                links.add(name)
                pending |= snapshot.lower_of(name)
        self.links = links

    def touched(self, names):
        return sorted(self.links & set(names))

    def as_dict(self):
        return {"address": self.address, "holders": self.holders,
                "default_route_links": self.route_links, "links": sorted(self.links)}


class Probe:
    """``10.0.2.2`` pings an address; ``10.0.2.2:22`` (``[fd00::1]:22``) opens a TCP connection.

    Addresses only, no host names: the change being probed may be what breaks DNS.
    """

    def __init__(self, target, option="probe"):
        self.target = target
        text = str(target).strip()
        self.port = None
        if text.startswith("["):
            host, _sep, rest = text[1:].partition("]")
            if not rest.startswith(":"):
                raise validate.ValidationError(
                    f"{option}: {target!r} is not an address or address:port (write IPv6 with a "
                    "port as '[fd00::1]:22')", option=option)
            self.port = rest[1:]
        elif text.count(":") == 1:
            host, self.port = text.split(":")
        else:
            host = text
        self.host = validate.ip_address(host, option)
        if self.port is not None:
            number = validate.as_int(self.port)
            if number is None or not 1 <= number <= 65535:
                raise validate.ValidationError(
                    f"{option}: {target!r} has an invalid port (allowed: 1-65535)", option=option)
            self.port = number

    def __str__(self):
        if self.port is None:
            return f"ping {self.host}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"TCP connect to {host}:{self.port}"

    def argv(self):
        return ["ping", "-n", "-c", "1", "-W", "1", self.host]

    def once(self, runner, connect=socket.create_connection):
        if self.port is None:
            return runner.run(self.argv(), check=False).rc == 0
        try:
            connect((self.host, self.port), timeout=1).close()
        except OSError:
            return False
        return True
