# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Any exception inside an action fails the module cleanly: ``fail_json`` with ``msg``,
``actions_done`` and ``failed_action``, never a traceback that loses what was done.

One OSError per module family, raised where a real host would raise it: the seed ISO's
directory cannot be created (libvirt), a command cannot be executed (lvm), a unit file
cannot be written (net).
"""

from __future__ import annotations

import errno
import os

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.volume import ThinVolume
from ansible_collections.openblade.kvm.plugins.module_utils._net.links import BridgeSpec
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner
from ansible_collections.openblade.kvm.tests.unit.lvm_host import StaticDomains, host, pool, pv, vg
from ansible_collections.openblade.kvm.tests.unit.net_host import FakeNetHost, lab_links, resource


class Exited(Exception):
    pass


class FakeModule:
    """What run_module needs of AnsibleModule: check/diff flags, warn, exit_json and fail_json."""

    def __init__(self, check_mode=False):
        self.check_mode = check_mode
        self._diff = False
        self.result = None

    def warn(self, message):
        pass

    def exit_json(self, **result):
        self.result = dict(result, failed=False)
        raise Exited

    def fail_json(self, **result):
        self.result = dict(result, failed=True)
        raise Exited


def run(build, check_mode=False):
    module = FakeModule(check_mode)
    with pytest.raises(Exited):
        run_module(module, build)
    return module.result


def assert_clean_failure(result, failed_action, actions_done, error):
    assert result["failed"] is True
    assert result["failed_action"] == failed_action
    assert result["actions_done"] == actions_done
    assert result["changed"] is bool(actions_done)
    assert error in result["msg"], result["msg"]


def test_libvirt_seed_write_error(tmp_path):
    libvirt = pytest.importorskip("libvirt")
    from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import Hypervisor
    from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.resources import Guest
    from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.spec import domain_argument_spec

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the seed's directory should be")
    params = {name: spec.get("default") for name, spec in domain_argument_spec().items()}
    params.update(name="clean-failure", domain_type="qemu", cluster="dc1", state="stopped",
                  cloud_init={"user_data": {"hostname": "clean-failure"}, "meta_data": None,
                              "network_config": None, "iso_path": str(blocker / "seed.iso")})
    hypervisor = Hypervisor(connection=libvirt.open("test:///default"))

    def build(_module):
        return Guest(hypervisor, FakeRunner({}), params, lock_dir=str(tmp_path / "locks"))

    build_seed = f"build cloud-init seed {blocker}/seed.iso for clean-failure"
    assert run(build, check_mode=True)["actions"][0] == build_seed
    assert_clean_failure(run(build), build_seed, [], "FileExistsError")
    assert hypervisor.lookup("clean-failure") is None  # nothing after the failed action ran


class UnstartableRunner(FakeRunner):
    """The table answers the reads; executing anything else fails as a missing binary would."""

    def _execute(self, argv, data):
        if tuple(argv) in self.table:
            return super()._execute(argv, data)
        raise FileNotFoundError(2, "No such file or directory", argv[0])


def test_lvm_command_runner_error(tmp_path):
    runner = UnstartableRunner(host(pvs=[pv("/dev/vdb")], vgs=[vg()], lvs=[pool()]))
    args = dict(vg="obt_vg", name="vol1", pool="thinpool", state="present", size="1g", force=False,
                allow_overcommit=False)

    def build(_module):
        return ThinVolume(runner, args, lock_dir=str(tmp_path / "lock"), domains=StaticDomains(()),
                          proc_root=str(tmp_path), sys_root=str(tmp_path))

    result = run(build)
    assert_clean_failure(result, "create thin volume obt_vg/vol1 of 1 GiB in thin pool thinpool", [],
                         "lvcreate")


def test_net_unit_file_write_error(tmp_path, monkeypatch):
    etc = tmp_path / "etc"
    host_state = FakeNetHost(lab_links(str(etc)), accept=[["networkctl", "reload"]])
    network_file = str(etc / "05-openblade-br-sales.network")
    replace = os.replace

    def full_disk(source, target):  # the second file of the change hits a full disk
        if target == network_file:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), target)
        return replace(source, target)
    monkeypatch.setattr(os, "replace", full_disk)

    def build(_module):
        return resource(host_state, tmp_path, [BridgeSpec("br-sales", ports=["trunk0"])])

    result = run(build)
    netdev = f"create {etc}/05-openblade-br-sales.netdev"
    assert_clean_failure(result, f"create {network_file}", [netdev], "No space left on device")
    assert "Rolled back" in result["msg"] and not os.path.exists(network_file)
