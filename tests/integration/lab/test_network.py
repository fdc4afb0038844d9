"""Network partitions on two real blades joined by the trunk segment.

The network role builds three partitions (one shared) on a bond of trunk0 and trunk1 on
both blades.  Network namespaces with veth pairs on the partition bridges stand in for
guests, and prove that a partition reaches across blades, that partitions do not reach
each other at layer 2 (even with an address of the other's subnet), and that the shared
partition is reached only through a NIC on it.  Then: bad inventories fail before any
change; a broken change on blade2's management path is refused, then rolled back by the
module, then rolled back by the timer after the module is killed; blade2 reboots and
comes back with its partitions; and a re-run changes nothing.

Addresses (10.77.x.0/24) exist only on the lab's isolated trunk segment; the probe of
the management tests is 10.0.2.2, slirp's own address, which answers ping itself with
restrict=on (measured), so no packet leaves this machine.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time

import harness
import pytest

PARTITIONS = [
    {"name": "shared", "vlan": 100, "subnet": "10.77.0.0/24", "shared": True},
    {"name": "sales", "vlan": 101, "subnet": "10.77.1.0/24"},
    {"name": "hr", "vlan": 102, "subnet": "10.77.2.0/24"},
]
ROLE_VARS = {"network_trunk": ["trunk0", "trunk1"], "network_partitions": PARTITIONS}
BRIDGES = ["br-shared", "br-sales", "br-hr"]
VLANS = ["bond0.100", "bond0.101", "bond0.102"]
LOCK_FILE = "/run/lock/openblade-kvm/network-systemd-networkd.lock"
# slirp's host address: with restrict=on it still answers ping itself (and only that).
PROBE = "10.0.2.2"
BROKEN = {"name": "br-mgmt", "ports": ["mgmt0"], "probe": PROBE, "rollback_timeout": 10}

# Everything this suite creates on a blade, removed by name or by our header.
CLEANUP = r"""
for ns in ob-sales ob-hr ob-shared; do ip netns del $ns 2>/dev/null; done
systemctl stop ob-test-killer.service 'openblade-kvm-network-rollback-*.timer' 2>/dev/null
for net in shared sales hr; do
  virsh -q net-destroy $net >/dev/null 2>&1; virsh -q net-undefine $net >/dev/null 2>&1; done
grep -rlZ '^# Managed by openblade.kvm' /etc/systemd/network | xargs -0r rm -f
find /etc/systemd/network -name '*.network.d' -type d -empty -delete
for link in br-shared br-sales br-hr br-mgmt br-k990 obk-porta bond0.100 bond0.101 bond0.102 bond0; do
  ip link del $link 2>/dev/null; done
networkctl reload
ip link set trunk0 down; ip link set trunk1 down
rm -rf /var/lib/openblade-kvm/network-backups; rmdir /var/lib/openblade-kvm 2>/dev/null
ip -br addr show mgmt0
"""

# Stand-in guests on blade $1: every partition's guest has a NIC on its partition and,
# except the shared server itself, a second NIC on the shared partition.
STANDINS = r"""
set -e
b=$1
nic() {
  ip link add "$2" type veth peer name "$3" netns "$1"
  ip link set "$2" master "$4" up
  ip -n "$1" addr add "$5" dev "$3"
  ip -n "$1" link set "$3" up
}
for ns in ob-sales ob-hr ob-shared; do ip netns add $ns; ip -n $ns link set lo up; done
nic ob-sales obh-sales eth0 br-sales 10.77.1.1$b/24
nic ob-sales obs-sales eth1 br-shared 10.77.0.2$b/24
nic ob-hr obh-hr eth0 br-hr 10.77.2.1$b/24
nic ob-hr obs-hr eth1 br-shared 10.77.0.3$b/24
nic ob-shared obh-shared eth0 br-shared 10.77.0.10$b/24
"""

# One line per probe: "<netns> <nic> <target> yes|no".  Reachability first, then the
# isolation probes, each next to a control that still must succeed from the same NIC.
PROBES = r"""
p() {
  if ip netns exec "$1" ping -n -c 3 -i 0.2 -W 2 -I "$2" "$3" >/dev/null 2>&1; then r=yes; else r=no; fi
  echo "$1 $2 $3 $r"
}
p ob-sales eth0 10.77.1.12
p ob-hr eth0 10.77.2.12
p ob-sales eth1 10.77.0.102
p ob-sales eth1 10.77.0.101
p ob-hr eth1 10.77.0.102
p ob-shared eth0 10.77.0.22
p ob-shared eth0 10.77.0.32
# sales gets an address in hr's subnet on its sales NIC: hr stays out of reach.
ip -n ob-sales addr add 10.77.2.201/24 dev eth0
p ob-sales eth0 10.77.2.12
p ob-sales eth0 10.77.2.11
p ob-sales eth0 10.77.1.12
# Without its shared NIC, sales cannot reach the shared servers through its own NIC.
ip -n ob-sales link set eth1 down
ip -n ob-sales addr add 10.77.0.201/24 dev eth0
p ob-sales eth0 10.77.0.102
p ob-sales eth0 10.77.0.101
# The shared server cannot reach into a partition either.
ip -n ob-shared addr add 10.77.1.250/24 dev eth0
p ob-shared eth0 10.77.1.12
p ob-shared eth0 10.77.1.11
p ob-shared eth0 10.77.0.32
"""

EXPECTED_PROBES = {
    ("ob-sales", "eth0", "10.77.1.12"): True,   # sales reaches sales on the other blade
    ("ob-hr", "eth0", "10.77.2.12"): True,      # hr reaches hr on the other blade
    ("ob-sales", "eth1", "10.77.0.102"): True,  # shared services, across the trunk
    ("ob-sales", "eth1", "10.77.0.101"): True,  # and on the same blade
    ("ob-hr", "eth1", "10.77.0.102"): True,
    ("ob-shared", "eth0", "10.77.0.22"): True,  # the shared server answers sales' shared NIC
    ("ob-shared", "eth0", "10.77.0.32"): True,  # and hr's
    ("ob-sales", "eth0", "10.77.2.12"): False,  # other partition, other blade
    ("ob-sales", "eth0", "10.77.2.11"): False,  # other partition, same blade
    ("ob-sales", "eth0", "10.77.0.102"): False,  # shared only through the shared NIC
    ("ob-sales", "eth0", "10.77.0.101"): False,
    ("ob-shared", "eth0", "10.77.1.12"): False,  # the shared partition cannot reach into sales
    ("ob-shared", "eth0", "10.77.1.11"): False,
}


def run_role(blades, variables, check=False, timeout=900):
    """ansible-playbook with the network role on ``blades`` only (the lab may run more,
    which this suite neither configures nor cleans); (rc, {host: recap counts}, task
    results, output)."""
    hosts = ":".join(blade.name for blade in blades)
    with tempfile.TemporaryDirectory(prefix="openblade-network-") as tmp:
        play = os.path.join(tmp, "play.yml")
        with open(play, "w") as handle:
            handle.write(f"- hosts: {hosts}\n  gather_facts: false\n  roles:\n"
                         "    - role: openblade.kvm.network\n")
        with open(os.path.join(tmp, "vars.json"), "w") as handle:
            json.dump(variables, handle)
        results = os.path.join(tmp, "results.json")
        argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                "-i", harness.LAB_INVENTORY, play, "-e", f"@{tmp}/vars.json"]
        if check:
            argv += ["--check", "--diff"]
        env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_CALLBACKS_ENABLED="result_file",
                   ANSIBLE_CALLBACK_PLUGINS=harness.CALLBACKS, OPENBLADE_RESULT_FILE=results,
                   ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=os.path.join(harness.REPO, "ansible.cfg"))
        proc = subprocess.run(argv, cwd=harness.REPO, env=env, check=False, capture_output=True, text=True,
                              timeout=timeout)
        lines = open(results).read().splitlines() if os.path.exists(results) else []
    recap = {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
             for m in re.finditer(r"^(blade\d+)\s+:\s+(.*)$", proc.stdout, re.M)}
    return proc.returncode, recap, [json.loads(line) for line in lines], proc.stdout + proc.stderr


def module_results(results, key):
    """The results of one of our modules, recognised by a key only it returns."""
    return [r for r in results if key in r]


def script(text, *args):
    """A shell command line that runs the script ``text`` with ``args``."""
    return shlex.join(["bash", "-c", text, "script", *map(str, args)])


def on_all(blades, function):
    """Run ``function(blade)`` on every blade at once (each call is seconds of SSH)."""
    outcome = {}
    threads = [threading.Thread(target=lambda b=b: outcome.__setitem__(b.name, function(b)))
               for b in blades]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome


def state_of(blade):
    """What a change could touch: our files, links, bridge ports, libvirt networks."""
    return blade.run("ls -R /etc/systemd/network; ip -br link | awk '{print $1}' | sort; "
                     "bridge link | awk '{print $2, $7}' | sort; virsh -q net-list --all --name").stdout


def wait_until(what, condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout}s")
        time.sleep(3)


def partitions_up(blade):
    """Every partition device exists and every libvirt network is active."""
    out = blade.run("ip -br link; virsh -q net-list --name", check=False).stdout
    names = {line.split()[0].split("@")[0] for line in out.splitlines() if line.split()}
    return set(BRIDGES + VLANS + ["bond0"]) <= names and {"shared", "sales", "hr"} <= names


def wait_for_ssh(blade, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if blade.run("true", check=False, timeout=30).returncode == 0:
            return
        time.sleep(5)
    pytest.fail(f"{blade} did not answer SSH within {timeout}s")


@pytest.fixture(scope="module")
def pair(blades):
    if len(blades) < 2:
        pytest.fail("the network suite needs two blades: lab/lab up --blades 2")
    pair = blades[:2]
    on_all(pair, lambda b: b.run(CLEANUP, check=False))
    yield pair
    left = on_all(pair, lambda b: b.run(CLEANUP, check=False).stdout)
    for name, mgmt in left.items():
        assert "10.0.2.15/24" in mgmt, f"{name}: mgmt0 lost its address: {mgmt}"


@pytest.fixture(scope="module")
def partitions(pair):
    """The role in check mode, then for real; both must plan the same."""
    started = time.monotonic()
    rc, check_recap, check_results, output = run_role(pair, ROLE_VARS, check=True)
    assert rc == 0, output[-3000:]
    rc, recap, results, output = run_role(pair, ROLE_VARS)
    assert rc == 0, output[-3000:]
    print(f"network role: check + apply on two blades in {time.monotonic() - started:.0f}s")
    on_all(pair, lambda b: b.run(script(STANDINS, b.index)))
    return {"check": (check_recap, check_results), "apply": (recap, results)}


# A management-path change that never converges: the bridge takes a port that holds the
# (given) management address, and its probe target does not exist, so the module sits in its
# probe, holding the lock, until it is killed.  Nothing leaves the blade.
PORT = ("ip link del obk-porta 2>/dev/null; ip link add obk-porta type veth peer name obk-portb && "
        "ip address add 10.78.0.1/24 dev obk-porta && ip link set obk-porta up && ip link set obk-portb up")
KILLED = {"name": "br-k990", "ports": ["obk-porta"], "management_address": "10.78.0.1",
          "allow_management_change": True, "probe": "10.78.0.99", "rollback_timeout": 300}
LATER = {"name": "br-k990", "ports": ["obk-porta"], "mtu": 1400}
BACKUPS = "/var/lib/openblade-kvm/network-backups"


def test_a_killed_change_never_rolls_back_a_later_one(pair):
    """Change A is SIGKILLed (by its PID, from the lock file) while it waits for its probe;
    change B (the same bridge with MTU 1400) commits before A's timer fires.  Past A's timer,
    B's files and bridge must still be there: B restored A first, and A's timer stood down."""
    _blade1, blade2 = pair
    blade2.run(PORT)
    killer = ("systemd-run --unit ob-test-killer --collect sh -c 'for i in $(seq 1 3000); do "
              "ip link show br-k990 >/dev/null 2>&1 && break; sleep 0.2; done; sleep 1; "
              f"kill -9 $(cat {LOCK_FILE})'")
    blade2.run(killer)
    outcome = {}
    change = threading.Thread(target=lambda: outcome.update(a=blade2.module("bridge", KILLED)))
    change.start()
    # Ansible may take long to see the dead module (Mitogen): go on as soon as it is killed.
    wait_until("A's kill", lambda: blade2.run("systemctl is-active ob-test-killer", check=False)
               .stdout.strip() in ("inactive", "failed"), timeout=900)
    killed_at = time.monotonic()
    pending = blade2.run(f"for d in {BACKUPS}/*/; do [ -e $d/manifest.json ] && [ ! -e $d/state ] && "
                         "basename $d; done; ip -br link show br-k990", check=False).stdout.split()
    # A was killed midway: its backup has no final state, its bridge exists, its timer is armed.
    assert len(pending) > 1 and pending[1].startswith("br-k990"), pending
    later = blade2.module("bridge", LATER)
    assert not later.get("failed"), later.get("msg")
    assert time.monotonic() < killed_at + 320, "B committed after A's timer: the test proves nothing"
    change.join()
    assert outcome["a"].get("failed") or outcome["a"].get("unreachable"), outcome["a"]
    assert "rolled_back" not in outcome["a"], outcome["a"].get("msg")
    # Past A's timer (rollback_timeout + 30s after A armed it, a few seconds before the kill).
    time.sleep(max(0, killed_at + 340 - time.monotonic()))
    wait_until("A's timer to finish", lambda: "openblade-kvm-network-rollback" not in blade2.run(
        "systemctl list-units --all --no-legend 'openblade-kvm-network-rollback-*'").stdout, timeout=120)
    seen = blade2.run("ip -j -d address show br-k990; echo ---; "
                      "cat /etc/systemd/network/*br-k990.net*; echo ---; "
                      f"cat {BACKUPS}/{pending[0]}/state {BACKUPS}/{pending[0]}/rollback.log", check=False)
    assert seen.returncode == 0, f"B's bridge or files are gone: {seen.stdout} {seen.stderr}"
    link_json, netdev, killed_log = seen.stdout.split("\n---\n")
    link = json.loads(link_json)[0]
    assert link["mtu"] == 1400, link
    assert "MTUBytes=1400" in netdev
    assert "rolling back: timer" not in killed_log, killed_log
    assert killed_log.startswith("rolled back\nrolling back: requested by the module"), killed_log
    # B said what it did first (check mode says the same: tests/unit/test_net_engine.py).
    assert later["actions"][0].startswith(f"restore the uncommitted network change {BACKUPS}/{pending[0]}")
    assert any("a killed network run left an uncommitted change" in w for w in later["warnings"])
    again = blade2.module("bridge", LATER)
    assert not again["changed"], again["actions"]
    gone = blade2.module("bridge", dict(LATER, state="absent"))
    assert gone["changed"] and not gone.get("failed"), gone.get("msg")
    blade2.run("ip link del obk-porta")


def test_role_check_mode_predicts_the_real_run(partitions, pair):
    (check_recap, check_results), (recap, results) = partitions["check"], partitions["apply"]
    for blade in pair:
        assert check_recap[blade.name]["changed"] == recap[blade.name]["changed"] == 2, recap
        assert recap[blade.name]["failed"] == 0
    for key in ("partitions", "networks"):
        predicted = sorted((r["changed"], tuple(r["actions"])) for r in module_results(check_results, key))
        done = sorted((r["changed"], tuple(r["actions"])) for r in module_results(results, key))
        assert predicted == done and len(done) == 2, key
    plan = module_results(results, "partitions")[0]
    assert plan["partitions"]["trunk"] == "bond0"
    assert "reload systemd-networkd (networkctl reload)" in plan["actions"]
    assert plan["management"]["touched"] == []  # the trunk is not the management path


def test_partitions_exist_with_a_bond_and_no_host_address(partitions, pair):
    seen = on_all(pair, lambda b: b.run(
        "ip -j -d link show; echo ---; ip -j address show; echo ---; for n in shared sales hr; do "
        "virsh net-dumpxml $n; virsh net-info $n | grep -E '^(Active|Autostart)'; done").stdout)
    for name, out in seen.items():
        link_json, address_json, nets = out.split("\n---\n")
        links = {link["ifname"]: link for link in json.loads(link_json)}
        bond = links["bond0"]["linkinfo"]["info_data"]
        assert (bond["mode"], bond["miimon"]) == ("active-backup", 100)
        assert links["trunk0"]["master"] == links["trunk1"]["master"] == "bond0"
        for vlan, bridge, part in zip(VLANS, BRIDGES, PARTITIONS, strict=True):
            assert links[vlan]["linkinfo"]["info_data"]["id"] == part["vlan"]
            assert links[vlan]["link"] == "bond0"
            assert links[vlan]["master"] == bridge
            assert links[bridge]["linkinfo"]["info_kind"] == "bridge"
        held = {a["ifname"]: a["addr_info"] for a in json.loads(address_json)}
        for link in BRIDGES + VLANS + ["bond0", "trunk0", "trunk1"]:
            assert held.get(link, []) == [], f"{name}: the host holds an address on {link}"
        for part, bridge in zip(PARTITIONS, BRIDGES, strict=True):
            assert f"<name>{part['name']}</name>" in nets and f"<bridge name='{bridge}'/>" in nets
        assert nets.count("<forward mode='bridge'/>") == 3
        assert re.findall(r"^(Active|Autostart):\s+(\w+)", nets, re.M) == [("Active", "yes"),
                                                                           ("Autostart", "yes")] * 3


def test_partitions_are_isolated_at_layer_2(partitions, pair):
    blade1, blade2 = pair
    lines = blade1.run(script(PROBES)).stdout.split("\n")
    seen = {tuple(line.split()[:3]): line.split()[3] == "yes" for line in lines if line.strip()}
    assert {key: seen.get(key) for key in EXPECTED_PROBES} == EXPECTED_PROBES
    # The controls next to the isolation probes: the same NIC still reaches its own peers.
    assert seen[("ob-sales", "eth0", "10.77.1.12")] and seen[("ob-shared", "eth0", "10.77.0.32")]
    # And the other way round, from blade2.
    back = blade2.run("ip netns exec ob-hr ping -n -c 3 -i 0.2 -W 2 10.77.2.11", check=False)
    assert back.returncode == 0, back.stdout


def test_bond_keeps_the_partitions_up_when_a_member_fails(partitions, pair):
    blade1, _blade2 = pair
    out = blade1.run("ip link set trunk0 down; sleep 1; grep 'Currently Active Slave' "
                     "/proc/net/bonding/bond0; ip netns exec ob-sales ping -n -c 3 -i 0.2 -W 2 10.77.1.12 "
                     ">/dev/null && echo reached; ip link set trunk0 up", check=False).stdout
    assert "Currently Active Slave: trunk1" in out and "reached" in out, out


BAD_INVENTORIES = [
    ({"vlan": 0}, "partitions[1].vlan: 0 is not a valid VLAN ID (allowed: integers 1-4094"),
    ({"vlan": 4095}, "partitions[1].vlan: 4095 is not a valid VLAN ID (allowed: integers 1-4094"),
    ({"name": "engineering-x"},  # br-engineering-x: 16 characters
     "partitions[1].name (as bridge name 'br-' + name): 'br-engineering-x' is not a valid "
     "interface name (at most 15 characters (kernel IFNAMSIZ))"),
    ({"subnet": "10.77.0.128/25"},
     "overlapping networks: shared 10.77.0.0/24 and sales 10.77.0.128/25"),
    ({"vlan": 100}, "VLAN ID 100 is used by both 'shared' and 'sales'"),
]


def test_bad_inventories_fail_before_any_change(partitions, pair):
    before = on_all(pair, state_of)
    for change, message in BAD_INVENTORIES:
        bad = [dict(PARTITIONS[0]), dict(PARTITIONS[1], **change), dict(PARTITIONS[2])]
        rc, recap, results, output = run_role(pair, dict(ROLE_VARS, network_partitions=bad))
        assert rc != 0, change
        assert message in output, output[-2000:]
        for blade in pair:
            assert (recap[blade.name]["failed"], recap[blade.name]["changed"]) == (1, 0), change
        assert not module_results(results, "partitions"), f"a module ran despite {change}"
    assert on_all(pair, state_of) == before


def test_broken_management_change_is_refused_then_rolled_back(partitions, pair):
    """mgmt0 moved into a bridge that forgot the address: refused as it stands; allowed,
    the probe fails and the module restores the previous files."""
    _blade1, blade2 = pair
    before = state_of(blade2)
    result = blade2.module("bridge", BROKEN)
    assert result["failed"] and "actions_done" not in result
    assert result["msg"].startswith("refusing a change that removes the management address 10.0.2.15 "
                                    "(mgmt0 becomes a bridge port of br-mgmt)")
    predicted, result = blade2.apply("bridge", dict(BROKEN, allow_management_change=True),
                                     expect_failure=True)
    assert predicted["actions"][0].startswith("arm an automatic rollback")
    assert result["failed_action"] == (f"probe the management path: ping {PROBE} must succeed "
                                       "within 10s, else roll back")
    assert "Rolled back: the previous files were restored" in result["msg"]
    assert f"after the rollback, ping {PROBE} answers again" in result["msg"]
    assert result["rolled_back"] and result["management_reachable"]
    kept = blade2.run(f"ls {result['backup_dir']}; cat {result['backup_dir']}/state").stdout.split()
    assert {"manifest.json", "restore.py", "rollback.log", "files"} <= set(kept)
    assert kept[-2:] == ["rolled", "back"]
    assert state_of(blade2) == before  # and SSH still works, or state_of would have failed


def test_timer_rolls_back_when_the_module_dies(partitions, pair):
    """The module is killed once the change has cut the management path: only the timer
    (armed before the change, outside the module and the SSH session) can restore it."""
    _blade1, blade2 = pair
    before = state_of(blade2)
    killer = ("systemd-run --unit ob-test-killer --collect sh -c 'for i in $(seq 1 900); do "
              "ip link show br-mgmt >/dev/null 2>&1 && break; sleep 0.2; done; "
              f"kill -9 $(cat {LOCK_FILE})'")
    blade2.run(killer)
    started = time.monotonic()
    args = dict(BROKEN, allow_management_change=True, rollback_timeout=5)
    result = blade2.module("bridge", args)
    # The run reports the dead module: failed under linear; unreachable under Mitogen, whose
    # one Python per host the module ran in.  Either way the module rolled nothing back.
    assert result["failed"] and "rolled_back" not in result, result.get("msg")
    wait_for_ssh(blade2, timeout=180)
    # Directories only: the backup root also holds the change counter, "generation".
    newest = "$(ls -d /var/lib/openblade-kvm/network-backups/*/ | tail -1)"
    wait_until("the timer's rollback", lambda: blade2.run(f"cat {newest}/state", check=False).stdout
               == "rolled back\n", timeout=120)
    log = blade2.run(f"cat {newest}/rollback.log")
    assert "rolling back: timer" in log.stdout, log.stdout
    assert state_of(blade2) == before
    print(f"timer rollback: blade2 reachable again {time.monotonic() - started:.0f}s after the change began")


def test_reboot_brings_the_partitions_back_and_a_rerun_changes_nothing(partitions, pair):
    blade1, blade2 = pair
    blade2.run("systemctl reboot", check=False, timeout=30)
    time.sleep(10)
    started = time.monotonic()
    wait_for_ssh(blade2, timeout=400)
    print(f"blade2 answered SSH {time.monotonic() - started:.0f}s after the reboot")
    # networkd and libvirtd may still be starting when SSH answers.
    wait_until("blade2's partitions coming back", lambda: partitions_up(blade2), timeout=120)
    after = state_of(blade2)
    assert "br-mgmt" not in after and "05-openblade-mgmt0" not in after
    blade2.run(script(STANDINS, 2))
    # blade1's stand-in still has blade2's old stand-in in its ARP cache: forget it.
    reach = blade1.run("ip -n ob-sales neigh flush all; "
                       "ip netns exec ob-sales ping -n -c 1 -w 10 -I eth0 10.77.1.12", check=False)
    assert reach.returncode == 0, "sales does not reach across blades after blade2 rebooted"
    rc, recap, results, output = run_role(pair, ROLE_VARS)
    assert rc == 0, output[-3000:]
    for blade in pair:
        assert recap[blade.name]["changed"] == 0, output[-3000:]
    for result in module_results(results, "partitions") + module_results(results, "networks"):
        assert result["actions"] == []
