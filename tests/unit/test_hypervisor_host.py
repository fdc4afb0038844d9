# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hypervisor_host: a whole hypervisor in one reconcile (check == real, the exact
mutations, idempotence, validation), with dpkg and systemd answered from argv tables
and the facts from libvirt's test:///default driver."""

from __future__ import annotations

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._host import OWNED_HEADER, libvirt_connector
from ansible_collections.openblade.kvm.plugins.module_utils._hypervisor_host import (
    APT_GET,
    DROP_IN_CONTENT,
    HypervisorHost,
)
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
    reconcile,
)
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner

PACKAGES = ["libvirt-daemon-system", "lvm2", "qemu-system-x86"]
DPKG = ("dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\n", *PACKAGES)
SHOW = ("systemctl", "show", "libvirtd", "--property=LoadState,UnitFileState,ActiveState")


def dpkg(installed):
    lines = "".join(f"{name}\tii \n" for name in installed)
    # dpkg-query says rc 1 when a name was never installed; "rc" is removed, config kept.
    missing = [name for name in PACKAGES if name not in installed]
    lines += "".join(f"{name}\trc \n" for name in missing[:1])
    return (1 if missing else 0, lines, "")


def service(enabled, running):
    return (0, "LoadState=loaded\nUnitFileState={}\nActiveState={}\n".format(
        "enabled" if enabled else "disabled", "active" if running else "inactive"), "")


class Host:
    """A host's files under tmp_path: /sys/module, the modules-load file and the drop-in."""

    def __init__(self, tmp_path, loaded=(), persisted=None, drop_in=None):
        self.root = tmp_path
        for name in loaded:
            (tmp_path / "sys/module" / name).mkdir(parents=True)
        self.persist = tmp_path / "etc/modules-load.d/openblade-kvm.conf"
        self.drop_in = tmp_path / "etc/systemd/system/libvirtd.service.d/openblade-kvm.conf"
        for path, content in ((self.persist, persisted), (self.drop_in, drop_in)):
            if content is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)

    def resource(self, runner):
        return HypervisorHost(runner, PACKAGES, ["8021q"], persist_file=str(self.persist),
                              drop_in=str(self.drop_in), connect=libvirt_connector("test:///default"),
                              lock_dir=str(self.root / "lock"), proc_root=str(self.root))


class LoadingRunner(FakeRunner):
    """modprobe creates /sys/module/<name>, as the kernel would."""

    def __init__(self, table, root):
        super().__init__(table)
        self.root = root

    def _execute(self, argv, data):
        result = super()._execute(argv, data)
        if argv[0] == "modprobe":
            (self.root / "sys/module" / argv[1]).mkdir(parents=True)
        return result


CONVERGED = {"loaded": ["8021q"], "persisted": OWNED_HEADER + "8021q\n", "drop_in": DROP_IN_CONTENT}

CASES = {
    # name: (host files, installed packages, (enabled, running), expected mutations)
    "new host": ({}, [], (False, False), [
        APT_GET + ["install", "--no-install-recommends", *PACKAGES],
        ["modprobe", "8021q"],
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "libvirtd"],
        ["systemctl", "restart", "libvirtd"],
    ]),
    "one package missing": (CONVERGED, PACKAGES[1:], (True, True), [
        APT_GET + ["install", "--no-install-recommends", "libvirt-daemon-system"],
        ["systemctl", "restart", "libvirtd"],
    ]),
    "drop-in edited by hand": (dict(CONVERGED, drop_in="[Service]\n"), PACKAGES, (True, True), [
        ["systemctl", "daemon-reload"],
        ["systemctl", "restart", "libvirtd"],
    ]),
    "libvirtd stopped": (CONVERGED, PACKAGES, (True, False), [["systemctl", "start", "libvirtd"]]),
    "libvirtd disabled": (CONVERGED, PACKAGES, (False, True), [["systemctl", "enable", "libvirtd"]]),
    "converged": (CONVERGED, PACKAGES, (True, True), []),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_mode_predicts_the_real_run_and_a_rerun_changes_nothing(tmp_path, case):
    files, installed, state, mutations = CASES[case]
    host = Host(tmp_path, **files)
    reads = {DPKG: dpkg(installed), SHOW: service(*state)}
    runner = LoadingRunner({**reads, **{tuple(m): (0, "", "") for m in mutations}}, tmp_path)

    checked = reconcile(host.resource(runner), check_mode=True, diff_mode=True)
    assert set(runner.calls) <= set(reads), "check mode ran a command that changes the host"
    runner.calls.clear()
    real = reconcile(host.resource(runner), diff_mode=True)
    assert (checked["changed"], checked["actions"], checked["diff"]) == (
        real["changed"], real["actions"], real["diff"])
    assert [call for call in runner.calls if call not in reads] == [tuple(m) for m in mutations]
    assert real["changed"] == bool(mutations) == (real["diff"]["before"] != real["diff"]["after"])
    assert host.drop_in.read_text() == DROP_IN_CONTENT
    assert host.persist.read_text() == OWNED_HEADER + "8021q\n"
    # The facts come with the reconcile, from libvirt; pending only in check mode on a new host.
    assert real["hypervisor"]["libvirt_version"].count(".") == 2 and real["facts_pending"] is False
    assert checked["facts_pending"] is (case in ("new host", "one package missing", "libvirtd stopped"))

    converged = {DPKG: dpkg(PACKAGES), SHOW: service(True, True)}
    again = reconcile(host.resource(LoadingRunner(converged, tmp_path)))
    assert (again["changed"], again["actions"]) == (False, [])


def test_update_cache_runs_only_when_a_package_is_missing(tmp_path):
    host = Host(tmp_path, **CONVERGED)

    def build(runner):
        return HypervisorHost(runner, PACKAGES, ["8021q"], update_cache=True,
                              persist_file=str(host.persist), drop_in=str(host.drop_in),
                              connect=host.resource(None).connect, lock_dir=str(tmp_path),
                              proc_root=str(tmp_path))
    converged = FakeRunner({DPKG: dpkg(PACKAGES), SHOW: service(True, True)})
    assert reconcile(build(converged))["actions"] == []
    missing = FakeRunner({DPKG: dpkg(PACKAGES[1:]), SHOW: service(True, True)})
    assert reconcile(build(missing), check_mode=True)["actions"] == [
        "refresh the apt cache", "install packages libvirt-daemon-system", "restart libvirtd"]


@pytest.mark.parametrize("name", ["libvirt; reboot", "Lvm2", "x", "../evil", ""])
def test_package_names_are_checked_before_any_command(tmp_path, name):
    runner = FakeRunner({})
    with pytest.raises(ReconcileError, match="is not a Debian package name"):
        HypervisorHost(runner, ["lvm2", name], [], persist_file=str(tmp_path / "m.conf"))
    assert runner.calls == []


def test_a_failed_install_says_what_was_done_and_what_failed(tmp_path):
    host = Host(tmp_path)
    install = tuple(APT_GET + ["install", "--no-install-recommends", *PACKAGES])
    runner = FakeRunner({DPKG: dpkg([]), SHOW: service(False, False),
                         install: (100, "", "E: Unable to locate package qemu-system-x86")})
    with pytest.raises(ReconcileError, match="Unable to locate package") as caught:
        reconcile(host.resource(runner))
    assert caught.value.details["actions_done"] == []
    assert caught.value.details["failed_action"].startswith("install packages")
    assert not host.drop_in.exists()
