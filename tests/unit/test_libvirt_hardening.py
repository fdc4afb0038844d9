# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest modules' hardening (issue 11): user data kept secret, seeds closed to other
users, locks held from observe to the last action in a fixed order, live changes judged
against the running guest, and warnings for what an earlier task would create."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

libvirt = pytest.importorskip("libvirt", reason="libvirt-python is a test requirement")

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.common.parameters import remove_values  # noqa: E402
from ansible.module_utils.testing import patch_module_args  # noqa: E402

from ansible_collections.openblade.kvm.plugins.module_utils import _lock  # noqa: E402
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import guest, seed  # noqa: E402
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.classify import (  # noqa: E402
    LIVE,
    NEXT_BOOT,
    classify,
)
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.resources import (  # noqa: E402
    Guest,
    Guests,
)
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.spec import (  # noqa: E402
    domain_argument_spec,
    guests_argument_spec,
    names_are_not_secret,
)
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import reconcile  # noqa: E402
from ansible_collections.openblade.kvm.tests.unit import test_libvirt_reconcile as base  # noqa: E402

# The driver, the seed runner and their fixtures are those of the reconcile tests.
hv, runner, lock_dir = base.hv, base.runner, base.lock_dir
WEB, guests_params, params, run = base.WEB, base.guests_params, base.params, base.run

CANARY = "obtcanary-5f1e"


# --- secrets ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, args", [
    (domain_argument_spec(), {"name": "web1", "cloud_init": {"user_data": {
        "hostname": "web1", "users": [{"name": "web", "passwd": CANARY}]}}}),
    (guests_argument_spec(), {"guests": [{"name": "web1", "cloud_init": {"user_data": {
        "hostname": "web1", "users": [{"name": "web", "passwd": CANARY}]}}}, {"name": "db1"}]}),
], ids=["domain", "guests"])
def test_user_data_is_masked_but_guest_names_are_not(spec, args):
    with patch_module_args(args):
        module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    names_are_not_secret(module)
    # What AnsibleModule does to every result before it prints it.
    shown = remove_values({"invocation": {"module_args": module.params}, "actions": ["define web1"]},
                          module.no_log_values)
    assert CANARY not in repr(shown)
    assert shown["actions"] == ["define web1"]  # neither the name nor a user called "web" hides it


def test_xml_template_is_no_log():
    assert domain_argument_spec()["xml"]["no_log"] is True
    assert guests_argument_spec()["guests"]["options"]["cloud_init"]["options"]["user_data"]["no_log"] is True


def test_seed_is_closed_to_other_users_and_an_old_open_one_is_restricted(hv, runner, lock_dir, tmp_path):
    iso = str(tmp_path / "web1-cidata.iso")
    options = {**WEB, "cloud_init": {"user_data": {"password": CANARY}, "iso_path": iso}}
    run(hv, runner, lock_dir, **options)
    assert not os.stat(iso).st_mode & stat.S_IRWXO

    os.chmod(iso, 0o644)  # as versions before the fix wrote it
    result = run(hv, runner, lock_dir, **options)
    assert result["actions"] == [f"restrict cloud-init seed {iso} of web1 to root and the QEMU user"]
    assert not os.stat(iso).st_mode & stat.S_IRWXO
    assert not run(hv, runner, lock_dir, **options)["changed"]


def test_a_killed_runs_seed_staging_directory_is_taken_over_and_removed(hv, runner, lock_dir, tmp_path):
    os.mkdir(tmp_path / "boot")
    iso = str(tmp_path / "boot" / "web1-cidata.iso")
    left = seed.staging_dir(iso)
    os.mkdir(left)  # as a run killed inside build_seed_iso leaves it
    with open(os.path.join(left, "user-data"), "w") as handle:
        handle.write("half written")
    run(hv, runner, lock_dir, **WEB, cloud_init={"user_data": {"password": CANARY}, "iso_path": iso})
    assert os.listdir(tmp_path / "boot") == ["web1-cidata.iso"]


def test_restrict_uses_the_qemu_group_when_root(tmp_path, monkeypatch):
    path = tmp_path / "seed.iso"
    path.write_text("ISO")
    chowned = []
    monkeypatch.setattr(seed, "_qemu_gid", lambda: 4242)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(os, "chown", lambda target, uid, gid: chowned.append((str(target), uid, gid)))
    seed.restrict(str(path))
    assert chowned == [(str(path), 0, 4242)] and stat.S_IMODE(path.stat().st_mode) == 0o640
    monkeypatch.setattr(seed, "_qemu_gid", lambda: None)
    seed.restrict(str(path))  # no QEMU group: owner only, libvirt's dynamic ownership does the rest
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- locks ------------------------------------------------------------------------------------------

def test_a_held_guest_lock_stops_the_run_before_it_observes(hv, runner, lock_dir, monkeypatch):
    monkeypatch.setattr(guest, "LOCK_TIMEOUT", 0.3)
    path = _lock.lock_path(guest.LOCK_KIND, "web1", lock_dir)
    os.makedirs(lock_dir, mode=0o755)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({path!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.write(fd, f'{os.getpid()}\\n'.encode())\n"
        "print('held', flush=True)\n"
        "time.sleep(30)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        observed = []
        resource = Guest(hv, runner, params(state="running", **WEB), lock_dir=lock_dir)
        monkeypatch.setattr(resource.guest, "observe", lambda: observed.append(True))
        with pytest.raises(_lock.LockTimeout, match=f"domain 'web1' is locked by PID {holder.pid}"):
            reconcile(resource)
        assert observed == []  # nothing was even looked at, let alone changed
        assert hv.lookup("web1") is None
    finally:
        holder.kill()
        holder.wait()


def test_a_batch_locks_its_guests_sorted_within_one_deadline(hv, runner, lock_dir, monkeypatch):
    run(hv, runner, lock_dir, **{**WEB, "name": "aa-gone"})  # ours, unlisted: pruned
    taken, held = [], []
    real_lock = guest.resource_lock

    def recording_lock(kind, name, timeout, **kwargs):
        taken.append((name, timeout))
        return real_lock(kind, name, timeout=timeout, **kwargs)
    monkeypatch.setattr(guest, "resource_lock", recording_lock)
    resource = Guests(hv, runner, guests_params(
        [dict(params(**WEB), name=name) for name in ("web3", "web1", "web2")], prune=True), lock_dir=lock_dir)
    original_observe = resource.observe

    def observe():
        held.extend(name for name, _timeout in taken)  # every lock is held before the first look
        return original_observe()
    monkeypatch.setattr(resource, "observe", observe)
    result = reconcile(resource)
    assert [name for name, _timeout in taken] == held == ["aa-gone", "web1", "web2", "web3"]
    timeouts = [timeout for _name, timeout in taken]
    assert timeouts == sorted(timeouts, reverse=True) and timeouts[0] <= guest.LOCK_TIMEOUT
    assert result["summary"]["removed"] == ["aa-gone"]


# --- live changes against the running guest ------------------------------------------------------------

def test_memory_and_vcpus_are_judged_against_the_running_limits():
    persistent = {"max_memory": 256, "memory": 256, "max_vcpus": 4, "vcpus": 1}
    running = {"max_memory": 192, "memory": 192, "max_vcpus": 2, "vcpus": 1}

    def when(desired, live):
        return {change.field: change.when for change in classify(persistent, desired, running=live)}
    assert when({"memory": 224}, running) == {"memory": NEXT_BOOT}  # below 256, above the 192 it runs with
    assert when({"memory": 160}, running) == {"memory": LIVE}
    assert when({"vcpus": 3}, running) == {"vcpus": NEXT_BOOT}  # the running guest has 2 vCPU slots
    assert when({"vcpus": 2}, running) == {"vcpus": LIVE}
    assert when({"memory": 224}, None) == {"memory": LIVE}  # a guest that is off: its config


# --- what an earlier task would create ---------------------------------------------------------------

def test_missing_disk_and_network_are_named_in_check_mode_and_real_run(hv, runner, lock_dir, tmp_path):
    disk = tmp_path / "web1.qcow2"
    options = {**WEB, "disks": [{"path": str(disk), "format": "qcow2"}], "nics": [{"partition": "office"}]}
    predicted = reconcile(Guest(hv, runner, params(state="running", **options), lock_dir=lock_dir),
                          check_mode=True)
    assert predicted["actions"] == ["define web1", "start web1"]
    assert predicted["warnings"] == [
        f"guest web1: disk {disk} does not exist (yet); this plan assumes an earlier task creates it, and "
        "the guest cannot start without it",
        "guest web1: libvirt network office (a partition) is not defined (yet); this plan assumes an "
        "earlier task defines it, and the guest cannot start without it"]

    disk.write_text("")  # the earlier tasks ran: same plan, nothing assumed
    ready = {**options, "nics": [{"partition": "default"}]}  # test:///default's own network
    result = run(hv, runner, lock_dir, state="running", **ready)
    assert result["actions"] == ["define web1", "start web1"] and "warnings" not in result
