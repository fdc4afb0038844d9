# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake host for the network unit tests: links described in a few words become the
JSON that ``ip -j``, ``bridge -j`` and ``networkctl --json`` print.

``FakeNetHost`` answers the observe commands from ``links`` and switches to ``after``
(the kernel state networkd would produce) when ``networkctl reload`` runs, so the
wait-until-converged step sees a real before/after.  Every other command must be in
``table`` (or is accepted with rc 0 when ``accept`` lists its first words).
"""

from __future__ import annotations

import os
import subprocess

from ansible_collections.openblade.kvm.plugins.module_utils._net import observe as obs
from ansible_collections.openblade.kvm.plugins.module_utils._net.engine import Links
from ansible_collections.openblade.kvm.plugins.module_utils._net.units import Layout
from ansible_collections.openblade.kvm.plugins.module_utils._runner import CommandResult
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner

MGMT_ADDRESS = "10.0.2.15"


def link(name, kind=None, master=None, parent=None, mtu=1500, addresses=(), info=None,
         network_file=None, admin="configured", max_mtu=65535, vlan_id=None, port_state=None):
    return {"name": name, "kind": kind, "master": master, "parent": parent, "mtu": mtu,
            "addresses": list(addresses), "info": dict(info or {}, **({"id": vlan_id} if vlan_id else {})),
            "network_file": network_file, "admin": admin, "max_mtu": max_mtu,
            "port_state": port_state}


def lab_links(config_dir, *extra):
    """mgmt0 with the management address (its own foreign file) and two trunk NICs."""
    return [link("lo", mtu=65536), link("mgmt0", addresses=[f"{MGMT_ADDRESS}/24"],
                                        network_file=os.path.join(config_dir, "10-mgmt0.network")),
            link("trunk0", admin="unmanaged"), link("trunk1", admin="unmanaged"), *extra]


def answers(links, routes=()):
    ip_links, ip_addresses, ports, networkctl = [], [], [], []
    for item in links:
        entry = {"ifname": item["name"], "flags": ["BROADCAST", "UP"], "mtu": item["mtu"],
                 "operstate": "UP", "min_mtu": 68, "max_mtu": item["max_mtu"]}
        if item["master"]:
            entry["master"] = item["master"]
        if item["parent"]:
            entry["link"] = item["parent"]
        if item["kind"]:
            entry["linkinfo"] = {"info_kind": item["kind"], "info_data": item["info"]}
        ip_links.append(entry)
        ip_addresses.append({"ifname": item["name"], "addr_info": [
            {"family": "inet", "local": a.split("/")[0], "prefixlen": int(a.split("/")[1]), "scope": "global"}
            for a in item["addresses"]]})
        if item["master"]:
            ports.append({"ifname": item["name"], "master": item["master"],
                          "state": item["port_state"] or "forwarding"})
        networkctl.append({"Name": item["name"], "AdministrativeState": item["admin"],
                           "NetworkFile": item["network_file"]})
    return {
        tuple(obs.IP_LINKS): (0, ip_links, ""),
        tuple(obs.IP_ADDRESSES): (0, ip_addresses, ""),
        tuple(obs.BRIDGE_PORTS): (0, ports, ""),
        tuple(obs.IP4_DEFAULT): (0, [r for r in routes if ":" not in r.get("gateway", "")], ""),
        tuple(obs.IP6_DEFAULT): (0, [r for r in routes if ":" in r.get("gateway", "")], ""),
        tuple(obs.NETWORKCTL_LIST): (0, {"Interfaces": networkctl}, ""),
        tuple(obs.NETWORKD_ACTIVE): (0, "active\n", ""),
    }


class FakeNetHost(FakeRunner):
    def __init__(self, links, after=None, routes=(), table=None, accept=(), stub_bin=None):
        self.links, self.after, self.routes = links, after, routes
        self.extra = dict(table or {})
        self.accept = [tuple(words) for words in accept]
        self.stub_bin = stub_bin
        super().__init__({})
        self._refresh()

    def _refresh(self):
        self.table = answers(self.links, self.routes)
        self.table.update({tuple(key): value for key, value in self.extra.items()})
        self.binaries = {argv[0] for argv in self.table} | {"ip", "networkctl"}

    def _execute(self, argv, data):
        key = tuple(argv)
        if key == ("networkctl", "reload") and self.after is not None:
            self.links = self.after
            self._refresh()
        if len(key) > 1 and key[1].endswith("restore.py"):
            # The real restore script, with `ip` and `networkctl` stubs on PATH.
            self.calls.append(key)
            env = dict(os.environ, PATH=f"{self.stub_bin}:{os.environ['PATH']}")
            proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
            return CommandResult(proc.returncode, proc.stdout, proc.stderr)
        if key not in self.table and any(key[:len(words)] == words for words in self.accept):
            self.calls.append(key)
            self.inputs.append(data)
            return CommandResult(0, "", "")
        return super()._execute(argv, data)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def resource(host, tmp_path, specs, environ=None, clock=None, **options):
    """A Links on the fake host, with its files, backups and locks under tmp_path."""
    clock = clock or FakeClock()
    return Links(
        host, specs, layout=Layout(str(tmp_path / "etc")),
        environ={"SSH_CONNECTION": f"10.0.2.2 50000 {MGMT_ADDRESS} 22"} if environ is None else environ,
        backup_root=str(tmp_path / "backups"), lock_dir=str(tmp_path / "lock"),
        clock=clock, sleep=clock.sleep, **options)


def write_stubs(directory):
    """`ip` and `networkctl` stand-ins that log their argv, for the restore script."""
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "calls.log"
    for name in ("ip", "networkctl"):
        stub = directory / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\n')
        stub.chmod(0o755)
    return log
