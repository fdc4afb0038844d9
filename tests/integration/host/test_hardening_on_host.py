# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hardening of the guest modules on the host's own libvirtd (issue 11, libvirt side).

* secrets: a canary password in cloud-init user data never shows in any byte of
  ``-vvvv --diff`` output (module and guests role, check and real runs) nor in the
  target's log, and the seed ISO is closed to other local users;
* concurrency: two conflicting runs on one guest end as exactly one of the requests;
* a pending reboot: live changes are judged against the running guest's limits;
* check mode warns about a disk or network an earlier task would create.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import secrets
import socket
import stat
import subprocess
import sys
import threading
import time

import harness
import pytest
from tiny_guest import CLUSTER, PARTITION, PREFIX, wait_for, wait_until_booted, xml

libvirt = pytest.importorskip("libvirt")

ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
QEMU_OR_ROOT = ("root", "libvirt-qemu")  # Debian's QEMU user and group are both libvirt-qemu
LOCAL = ["-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}"]


def memory_kib(dom, inactive=False):
    root = xml(dom, inactive)
    return int(root.findtext("memory")), int(root.findtext("currentMemory"))


def remove_guest(conn, name):
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    if dom.isActive():
        dom.destroy()
    dom.undefine()


# --- the target's log ------------------------------------------------------------------------------

@pytest.fixture
def target_log():
    """What modules log on this host (AnsibleModule logs each invocation to syslog or the journal).

    Without a syslog daemon or journald here (the CI machines have none), /dev/log is
    missing and the log is silently dropped; we then listen on /dev/log ourselves for the
    test's duration, so the test reads exactly what a journal would have stored.
    """
    if os.path.exists("/dev/log"):
        since = time.strftime("%Y-%m-%d %H:%M:%S")
        yield lambda: subprocess.run(["journalctl", "-o", "cat", "--since", since], check=False,
                                     capture_output=True, text=True).stdout
        return
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("/dev/log")
    sock.settimeout(0.2)
    received, stop = [], threading.Event()

    def listen():
        while not stop.is_set():
            try:
                received.append(sock.recv(65536).decode("utf-8", "replace"))
            except TimeoutError:
                continue
    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    try:
        yield lambda: (time.sleep(0.5), "\n".join(received))[1]
    finally:
        stop.set()
        thread.join()
        sock.close()
        os.unlink("/dev/log")


def run_ansible(argv):
    """(process, results) of an ansible command run from the repository, like the harness."""
    proc, lines = harness._run_ansible(argv, timeout=600)
    return proc, [json.loads(line) for line in lines]


def module_argv(module, args, check=False):
    argv = [ANSIBLE, "localhost", *LOCAL, "-m", f"openblade.kvm.{module}", "-a", json.dumps(args), "-vvvv",
            "--diff"]
    return argv + (["--check"] if check else [])


# --- secrets --------------------------------------------------------------------------------------

def test_canary_password_is_never_shown_logged_or_world_readable(tiny_guest, conn, target_log, tmp_path):
    canary = "obtcanary" + secrets.token_hex(8)
    args = tiny_guest("secret")
    name = args["name"]
    # The guest's own name is in its user data too (the cluster plan puts it there): it
    # must still show in the output, only the password is hidden.
    args["cloud_init"] = {"user_data": {"hostname": name, "users": [
        {"name": "obtadmin", "plain_text_passwd": canary, "lock_passwd": False}]}}
    seed_path = f"/var/lib/libvirt/boot/{name}-cidata.iso"
    hits = {}

    def count(label, argv):
        proc, results = run_ansible(argv)
        hits[label] = (proc.stdout + proc.stderr).count(canary)
        assert results and not any(result.get("failed") for result in results), proc.stdout[-3000:]
        return results

    [check] = count("domain --check", module_argv("guest", args, check=True))
    [real] = count("domain", module_argv("guest", args))
    assert check["actions"] == real["actions"] == [
        f"build cloud-init seed {seed_path} for {name}", f"define {name}", f"start {name}"]
    assert re.fullmatch("[0-9a-f]{16}", real["diff"]["after"]["seed"])  # a digest of the seed files
    wait_until_booted(args, 90)  # QEMU opened the seed: it is readable by the QEMU user
    [again] = count("domain again", module_argv("guest", args))
    assert not again["changed"]

    # The guests role passes the same guest on; its own task output must not show it either.
    playbook = tmp_path / "guests.yml"
    listed = dict({key: value for key, value in args.items() if key != "cluster"}, host="localhost")
    listed["cloud_init"] = {"user_data": dict(args["cloud_init"]["user_data"], package_update=False)}
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "roles": [
        {"role": "openblade.kvm.guests", "guests_list": [listed], "guests_cluster": CLUSTER}]}]))
    for check_mode in (True, False):
        argv = [ANSIBLE_PLAYBOOK, *LOCAL, str(playbook), "-vvvv", "--diff"]
        argv += ["--check"] if check_mode else []
        results = count(f"guests role{' --check' if check_mode else ''}", argv)
        [reconcile] = [result for result in results if result["_action"] == "openblade.kvm.guests"]
        assert reconcile["guests"][name]["actions"] == [
            f"build cloud-init seed {seed_path} for {name}", f"update the persistent config of {name}: seed"]
    log = target_log()
    assert "Invoked with" in log and "cloud_init=" in log, "the target's log was not captured"
    hits["target log"] = log.count(canary)
    assert hits == dict.fromkeys(hits, 0), f"canary shown: {hits}"

    info = os.stat(seed_path)
    remove_guest(conn, name)
    os.unlink(seed_path)
    mode = stat.S_IMODE(info.st_mode)
    assert not mode & 0o007, f"seed {seed_path} is mode {mode:o}"
    assert pwd.getpwuid(info.st_uid).pw_name in QEMU_OR_ROOT
    assert not mode & 0o070 or grp.getgrgid(info.st_gid).gr_name in QEMU_OR_ROOT, (mode, info.st_gid)


# --- concurrency ----------------------------------------------------------------------------------

def test_two_conflicting_runs_end_as_one_of_the_requests(tiny_guest, conn, tmp_path):
    requests = {160: tiny_guest("race", memory=160, max_memory=256),
                192: tiny_guest("race", memory=192, max_memory=256)}
    name = requests[160]["name"]
    for attempt in range(3):
        remove_guest(conn, name)
        files = {mib: tmp_path / f"race-{attempt}-{mib}.json" for mib in requests}
        processes = {mib: _start_domain(args, files[mib]) for mib, args in requests.items()}
        for mib, process in processes.items():
            stdout, stderr = process.communicate(timeout=600)
            [line] = files[mib].read_text().splitlines()
            result = json.loads(line)
            assert "Traceback" not in stdout + stderr and "exception" not in result, stdout[-3000:]
            if result["failed"]:
                assert "is locked by" in result["msg"], f"attempt {attempt}, {mib} MiB: {result['msg']}"
            processes[mib] = result
        assert not all(result["failed"] for result in processes.values()), processes
        dom = conn.lookupByName(name)
        assert dom.isActive() and dom.isPersistent()
        # The runs took turns: the second one decides, and its memory change is a live one.
        persistent = memory_kib(dom, inactive=True)[1] // 1024
        assert persistent in requests, persistent
        wait_until_booted(requests[persistent], 90)
        wait_for(lambda dom=dom, mib=persistent: memory_kib(dom)[1] == mib * 1024, 60,
                 f"attempt {attempt}: the live memory of {name} to reach {persistent} MiB "
                 f"(persistent config: {persistent} MiB)")
        assert memory_kib(dom, inactive=True)[0] == memory_kib(dom)[0] == 256 * 1024
    remove_guest(conn, name)


def _start_domain(args, result_file):
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_CALLBACKS_ENABLED="result_file",
               ANSIBLE_CALLBACK_PLUGINS=harness.CALLBACKS, OPENBLADE_RESULT_FILE=str(result_file),
               ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=os.path.join(harness.REPO, "ansible.cfg"))
    argv = [ANSIBLE, "localhost", *LOCAL, "-m", "openblade.kvm.guest", "-a", json.dumps(args)]
    return subprocess.Popen(argv, cwd=harness.REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


# --- live changes against the running guest --------------------------------------------------------

def test_a_pending_reboot_makes_a_later_change_next_boot_not_a_failure(tiny_guest, apply_module, conn):
    args = tiny_guest("pending", memory=192, max_memory=192)
    name = args["name"]
    _predicted, created = apply_module("guest", args)
    assert created["actions"] == [f"define {name}", f"start {name}"]
    wait_until_booted(args, 90)
    dom = conn.lookupByName(name)

    _predicted, bigger = apply_module("guest", dict(args, memory=256, max_memory=256))
    assert bigger["reboot_required"] and bigger["changes"] == [
        {"field": "max_memory", "when": "next_boot"}, {"field": "memory", "when": "next_boot"}]

    # 224 MiB is below the persistent maximum (256) but above the one the guest runs with (192).
    _predicted, between = apply_module("guest", dict(args, memory=224, max_memory=224))
    assert between["changes"] == [{"field": "max_memory", "when": "next_boot"},
                                  {"field": "memory", "when": "next_boot"}], between
    assert between["actions"] == [f"update the persistent config of {name}: max_memory, memory"]
    assert between["reboot_required"]
    assert memory_kib(dom, inactive=True) == (224 * 1024, 224 * 1024)
    assert memory_kib(dom)[0] == 192 * 1024  # the running guest kept what it booted with

    # Back below the running maximum: a live change again, and the pending reboot stays.
    _predicted, smaller = apply_module("guest", dict(args, memory=160, max_memory=224))
    assert {"field": "memory", "when": "live"} in smaller["changes"]
    assert f"set memory of running {name} to 160 MiB" in smaller["actions"]
    assert smaller["reboot_required"]
    wait_for(lambda: memory_kib(dom)[1] == 160 * 1024, 30, "160 MiB in the live XML")
    remove_guest(conn, name)


# --- check mode and what an earlier task would create ------------------------------------------------

def test_check_mode_names_a_missing_disk_and_network(tiny_guest, run_module, apply_module, conn, workdir):
    missing_disk = os.path.join(workdir, PREFIX + "later-root.qcow2")  # not the fixture's own disk
    missing_net = PREFIX + "later-net"
    args = tiny_guest("later", disks=[{"path": missing_disk, "format": "qcow2"}],
                      nics=[{"partition": missing_net}])
    predicted = run_module("guest", args, check=True)
    assert not predicted.get("failed"), predicted
    assert predicted["actions"] == [f"define {args['name']}", f"start {args['name']}"]
    warnings = " ".join(predicted.get("warnings", []))
    assert missing_disk in warnings and missing_net in warnings, predicted

    # The earlier tasks' work, done: the real run does what check mode said, without warnings.
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", missing_disk, "16M"], check=True)
    ready = dict(args, nics=[{"partition": PARTITION}])
    predicted, result = apply_module("guest", ready)
    assert result["actions"] == predicted["actions"] == [f"define {args['name']}", f"start {args['name']}"]
    assert not result.get("warnings") and not predicted.get("warnings")
    remove_guest(conn, args["name"])


def test_cluster_and_guests_roles_never_show_user_data(libvirtd, tmp_path, target_log):
    """site.yml's plan play and guests play in check mode (localhost as the only blade): the
    placement and hand-over tasks and the guests role at -vvvv --diff show no user data,
    and the user data the guests role passes on is the plan's own merge."""
    from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import seed

    canaries = ["obtcanary" + secrets.token_hex(8) for _i in range(2)]
    name = PREFIX + "planned"
    cluster_user_data = {"users": [{"name": "ops", "plain_text_passwd": canaries[0]}]}
    own_user_data = {"write_files": [{"path": "/etc/obt-token", "content": canaries[1]}]}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"children": {"blades": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "blade_capacity": {"cores": 8, "memory_mib": 8192, "pool_gib": 100}}}}}, "vars": {
        "cluster_name": CLUSTER, "cluster_ledger_dir": str(tmp_path / "ledger"),
        # A whole inventory (the plan play checks it), though only the plan and guests run.
        "network_trunk": ["obt-none0"],
        "storage_pools": [{"vg": "obt_vg", "pvs": ["/dev/obt-none"]}],
        "storage_golden_images": [{"name": "tiny", "version": "1", "size": "1g", "format": "raw",
                                   "src": "/var/lib/obt-none/tiny.raw"}],
        "cluster_user_data": cluster_user_data,
        "cluster_guests": [{"name": name, "image": "tiny", "vcpus": 1, "memory": 128,
                            "user_data": own_user_data}]}}}))
    playbook = tmp_path / "plan-and-guests.yml"
    playbook.write_text(json.dumps([{"hosts": "blades", "gather_facts": False, "roles": [role]}
                                    for role in ("openblade.kvm.cluster", "openblade.kvm.guests")]))
    proc, results = run_ansible([ANSIBLE_PLAYBOOK, "-i", str(inventory), str(playbook), "-vvvv", "--diff",
                                 "--check"])
    output = proc.stdout + proc.stderr
    assert results and not any(result.get("failed") for result in results), output[-3000:]
    hits = {canary: output.count(canary) + target_log().count(canary) for canary in canaries}
    assert hits == dict.fromkeys(canaries, 0), f"canaries shown: {hits}"

    [reconcile] = [result for result in results if result["_action"] == "openblade.kvm.guests"]
    assert reconcile["guests"][name]["actions"] == [
        f"build cloud-init seed /var/lib/libvirt/boot/{name}-cidata.iso for {name}", f"define {name}",
        f"start {name}"]
    assert f"disk /dev/obt_vg/{name}-root does not exist (yet)" in " ".join(reconcile["warnings"])
    # The user data the guests role passed on is the plan filter's own merge of it.
    [planned] = harness.plan_tool().inventory_plan(str(inventory))["guests_list"]
    wanted = seed.seed_digest(seed.render_seed(name, planned["cloud_init"]))
    assert reconcile["diff"]["after"][name]["seed"] == wanted
