"""The cluster suite's fixture: the three lab blades as testinfra hosts, the inventory,
and what the converged cluster holds (ledger, placement)."""

from __future__ import annotations

import json
import os

import pytest
import testinfra
import yaml

from ansible_collections.openblade.kvm.tests.integration import harness

INVENTORY = os.path.join(harness.REPO, "inventories", "lab")
SITE = os.path.join(harness.REPO, "playbooks", "site.yml")
BLADES = ("blade1", "blade2", "blade3")


# Runs on a blade: each guest's state, disks, NICs (MAC -> libvirt network) and the
# user-data and network-config of its cloud-init seed.
GUESTS_SNAPSHOT = """
import json, subprocess, xml.etree.ElementTree as ET
def out(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout
guests = {}
for name in out("virsh", "-q", "list", "--all", "--name").split():
    root = ET.fromstring(out("virsh", "dumpxml", name))
    iso = "/var/lib/libvirt/boot/%s-cidata.iso" % name
    guests[name] = {
        "state": out("virsh", "domstate", name).strip(),
        "disks": [s.get("dev") for s in root.iter("source") if s.get("dev")],
        "nics": {i.find("mac").get("address"): i.find("source").get("network")
                 for i in root.iter("interface")},
        "user_data": out("isoinfo", "-R", "-i", iso, "-x", "/user-data"),
        "network_config": out("isoinfo", "-R", "-i", iso, "-x", "/network-config"),
    }
print(json.dumps(guests))
"""


class Cluster:
    blades = BLADES

    def __init__(self):
        with open(os.path.join(INVENTORY, "group_vars", "blades.yml")) as handle:
            self.inventory = yaml.safe_load(handle)
        self.name = self.inventory["cluster_name"]
        self._hosts = {}

    def host(self, name):
        # One testinfra host per blade for the session (the cache is the point), each over
        # plain SSH with one master connection: a new SSH handshake costs a TCG blade
        # seconds, and testinfra only multiplexes when given a control path.
        if name not in self._hosts:
            self._hosts[name] = self._connect(name)
        return self._hosts[name]

    @staticmethod
    def _connect(name):
        with open(os.path.join(INVENTORY, "hosts.yml")) as handle:
            blade = yaml.safe_load(handle)["all"]["children"]["blades"]["hosts"][name]
        return testinfra.get_host(
            f"ssh://{blade['ansible_user']}@{blade['ansible_host']}:{blade['ansible_port']}",
            ssh_identity_file=blade["ansible_ssh_private_key_file"],
            controlpath=f"/tmp/openblade-testinfra-{name}",
            ssh_extra_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")

    def run(self, name, command):
        """Run ``command`` on blade ``name``; a non-zero status fails the test."""
        result = self.host(name).run(command)
        assert result.rc == 0, f"{name}: {command}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def guests(self, name):
        """Every guest on blade ``name`` as its XML and seed files show it, in one SSH call."""
        return json.loads(self.run(name, "python3 - <<'EOF'\n" + GUESTS_SNAPSHOT + "EOF\n"))

    def ping(self, name, namespace, address):
        return self.host(name).run(f"ip netns exec {namespace} ping -c 2 -W 2 {address}").rc == 0

    def ledger(self, name="blade1"):
        return json.loads(self.run(name, f"cat /var/lib/openblade/ipam/{self.name}.json"))

    def placement(self):
        """Where each guest is defined, as the blades report it."""
        return {guest: name for name in BLADES
                for guest in self.run(name, "virsh -q list --all --name").split()}

    def site(self, check=False, diff=False, strategy=None):
        """playbooks/site.yml on every blade; every task result (see harness)."""
        return harness.ansible_playbook(SITE, check=check, diff=diff, strategy=strategy)

    @staticmethod
    def changed(results):
        """{(host, task name)} of the results that changed something."""
        return {(r["_host"], r["_task"]) for r in results if r.get("changed")}


@pytest.fixture(scope="session")
def cluster():
    return Cluster()
