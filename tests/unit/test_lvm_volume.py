# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvm_volume: create/grow/shrink/remove decision table (check mode == real run, exact
argvs), %FREE idempotence, overcommit, and the in-use refusals."""

from __future__ import annotations

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.volume import ThinVolume
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
    reconcile,
)
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner
from ansible_collections.openblade.kvm.tests.unit.lvm_host import (
    GIB,
    MIB,
    StaticDomains,
    check_then_apply,
    host,
    lv,
    pool,
    pv,
    vg,
)


def state(*volumes, pool_tags=("openblade.kvm",), pool_data=5.0):
    return dict(pvs=[pv("/dev/vdb")], vgs=[vg()],
                lvs=[pool(tags=pool_tags, data=pool_data), *volumes])


def builder(tmp_path, domains=(), **params):
    args = dict(vg="obt_vg", name="vol1", pool="thinpool", state="present", size=None,
                force=False, allow_overcommit=False)
    args.update(params)
    return lambda runner: ThinVolume(runner, args, lock_dir=str(tmp_path / "lock"),
                                     domains=StaticDomains(domains), proc_root=str(tmp_path),
                                     sys_root=str(tmp_path))


CREATE_1G = ["lvcreate", "--yes", "--type", "thin", "--virtualsize", f"{GIB}b", "--thinpool",
             "thinpool", "--addtag", "openblade.kvm", "--name", "vol1", "obt_vg"]

CASES = {
    # name: (existing volume or None, params, actions, mutations)
    "create": (None, {"size": "1g"},
               ["create thin volume obt_vg/vol1 of 1 GiB in thin pool thinpool"], [CREATE_1G]),
    "create, rounded up to an extent": (
        None, {"size": "1073741000"},
        ["create thin volume obt_vg/vol1 of 1 GiB in thin pool thinpool"], [CREATE_1G]),
    "create 50% of the pool's free space": (
        None, {"size": "50%FREE"},
        ["create thin volume obt_vg/vol1 of 4.75 GiB in thin pool thinpool"],
        [[*CREATE_1G[:5], f"{4864 * MIB}b", *CREATE_1G[6:]]]),
    "unchanged": (lv("vol1", size=GIB), {"size": "1g"}, [], []),
    "unchanged after rounding": (lv("vol1", size=GIB), {"size": "1073741000"}, [], []),
    # %FREE has shrunk now that the volume exists: it must not be resized again.
    "percentage satisfied by any size": (lv("vol1", size=4864 * MIB), {"size": "50%FREE"}, [], []),
    "no size given": (lv("vol1", size=GIB), {}, [], []),
    "grow": (lv("vol1", size=GIB), {"size": "2g"},
             ["extend obt_vg/vol1 from 1 GiB to 2 GiB"],
             [["lvextend", "--size", f"{2 * GIB}b", "obt_vg/vol1"]]),
    "shrink with force": (lv("vol1", size=2 * GIB), {"size": "1g", "force": True},
                          ["shrink obt_vg/vol1 from 2 GiB to 1 GiB"],
                          [["lvreduce", "--yes", "--size", f"{GIB}b", "obt_vg/vol1"]]),
    "remove": (lv("vol1"), {"state": "absent"}, ["remove thin volume obt_vg/vol1"],
               [["lvremove", "--yes", "obt_vg/vol1"]]),
    "remove, already gone": (None, {"state": "absent"}, [], []),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_mode_predicts_the_real_run(tmp_path, case):
    existing, params, actions, mutations = CASES[case]
    table = host(**state(*([existing] if existing else [])))
    checked, real = check_then_apply(builder(tmp_path, **params), table, mutations)
    assert real["actions"] == actions
    assert real["changed"] is bool(actions)


def test_diff_and_facts(tmp_path):
    table = host(**state(lv("vol1", size=GIB)))
    _check, real = check_then_apply(builder(tmp_path, size="2g"), table,
                                    [["lvextend", "--size", f"{2 * GIB}b", "obt_vg/vol1"]])
    assert real["diff"] == {"before": {"pool": "thinpool", "size": GIB},
                            "after": {"pool": "thinpool", "size": 2 * GIB}}
    assert real["volume"]["path"] == "/dev/obt_vg/vol1"
    assert real["volume"]["pool"] == "thinpool"


def refused(tmp_path, table, message, **params):
    for check_mode in (True, False):
        runner = FakeRunner(table)
        with pytest.raises(ReconcileError) as caught:
            reconcile(builder(tmp_path, **params)(runner), check_mode=check_mode)
        assert message in str(caught.value)
        assert all(call[0] in ("vgs", "lvs") for call in runner.calls)
    return caught.value


def test_shrink_needs_force(tmp_path):
    refused(tmp_path, host(**state(lv("vol1", size=2 * GIB))),
            "size: refusing to shrink obt_vg/vol1 from 2 GiB to 1 GiB: everything beyond 1 GiB would "
            "be lost (set force: true to shrink it)", size="1g")


def test_force_does_not_shrink_an_open_volume(tmp_path):
    refused(tmp_path, host(**state(lv("vol1", size=2 * GIB, is_open=True))),
            "refusing to shrink obt_vg/vol1: its device is open (a process holds it) (force does not "
            "override a volume in use)", size="1g", force=True)


def test_removal_is_refused_for_a_stopped_domain_and_names_it(tmp_path):
    domains = [("db1", False, {"/dev/obt_vg/vol1"}), ("other", False, {"/dev/obt_vg/vol2"})]
    error = refused(tmp_path, host(**state(lv("vol1"))),
                    "refusing to remove obt_vg/vol1: libvirt domain 'db1' (defined, not running) "
                    "uses it; detach the disk or undefine the domain first, or set force: true",
                    state="absent", domains=domains)
    assert error.details["users"]["stopped_domains"] == ["db1"]


def test_force_removes_a_volume_of_a_stopped_domain_with_a_warning(tmp_path):
    domains = [("db1", False, {"/dev/obt_vg/vol1"})]
    _check, real = check_then_apply(builder(tmp_path, state="absent", force=True, domains=domains),
                                    host(**state(lv("vol1"))), [["lvremove", "--yes", "obt_vg/vol1"]])
    assert real["warnings"] == ["remove obt_vg/vol1 although libvirt domain 'db1' (not running) "
                                "uses it (force)"]


@pytest.mark.parametrize("source", ["/dev/mapper/obt_vg-db--1", "/dev/obt_vg/db-1",
                                    "/dev/disk/by-id/dm-name-obt_vg-db--1"])
def test_running_domain_is_never_overridden_whatever_path_it_uses(tmp_path, source):
    domains = [("db1", True, {source})]
    refused(tmp_path, host(**state(lv("db-1"))),
            "refusing to remove obt_vg/db-1: libvirt domain 'db1' (running) uses it (force does not "
            "override a volume in use)", name="db-1", state="absent", force=True, domains=domains)


def test_mounted_or_held_volume_is_never_removed(tmp_path):
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/mountinfo").write_text(
        "22 1 254:1 / / rw - ext4 /dev/vda1 rw\n"
        "90 22 253:10 / /mnt/my\\040data rw - ext4 /dev/mapper/obt_vg-vol1 rw\n")
    holders = tmp_path / "sys/dev/block/253:10/holders"
    holders.mkdir(parents=True)
    (holders / "dm-7").write_text("")
    refused(tmp_path, host(**state(lv("vol1", kernel=(253, 10), is_open=True))),
            "refusing to remove obt_vg/vol1: it is mounted on /mnt/my data; device dm-7 is stacked "
            "on it (force does not override a volume in use)", state="absent", force=True)


def test_overcommit_is_refused_unless_allowed(tmp_path):
    # Pool 10 GiB, limit 1.5, 12 GiB writable already: 4 GiB more is 1.6x.
    existing = [lv("a", size=12 * GIB), lv("golden", size=50 * GIB, read_only=True)]
    table = host(**state(*existing, pool_tags=("openblade.kvm", "ob_max_overcommit=1.5")))
    error = refused(tmp_path, table, "creating obt_vg/vol1 of 4 GiB would overcommit thin pool "
                    "obt_vg/thinpool to 1.60x its size (10 GiB), above its max_overcommit of 1.5 "
                    "(set allow_overcommit: true to accept this)", size="4g")
    assert error.details == {"overcommit": 1.6, "max_overcommit": 1.5}
    create = [*CREATE_1G[:5], f"{4 * GIB}b", *CREATE_1G[6:]]
    _check, real = check_then_apply(builder(tmp_path, size="4g", allow_overcommit=True), table, [create])
    assert "(allowed by allow_overcommit)" in real["warnings"][0]
    # Growing counts too.
    refused(tmp_path, table, "growing obt_vg/a to 16 GiB would overcommit", name="a", size="16g")


@pytest.mark.parametrize("existing, params, message", [
    (lv("vol1", pool="other"), {"size": "1g"},
     "pool: obt_vg/vol1 is in thin pool other, not thinpool"),
    (lv("vol1", layout="linear"), {"state": "absent"},
     "obt_vg/vol1 is not a thin volume (layout linear); this module removes thin volumes only"),
    (None, {"name": "thinpool", "state": "absent"},
     "obt_vg/thinpool is a thin pool; this module removes thin volumes only"),
    (None, {}, "size: required to create thin volume obt_vg/vol1"),
    (None, {"pool": None, "size": "1g"}, "pool: required to create thin volume obt_vg/vol1"),
])
def test_refusals(tmp_path, existing, params, message):
    refused(tmp_path, host(**state(*([existing] if existing else []))), message, **params)


def test_missing_pool_is_planned_with_a_warning_and_fails_at_that_action(tmp_path):
    table = host(pvs=[pv("/dev/vdb")], vgs=[vg()], lvs=[])
    checked = reconcile(builder(tmp_path, size="1g")(FakeRunner(table)), check_mode=True)
    assert checked["actions"] == ["create thin volume obt_vg/vol1 of 1 GiB in thin pool thinpool"]
    assert "thin pool obt_vg/thinpool does not exist (yet)" in checked["warnings"][0]
    with pytest.raises(ReconcileError, match="thin pool obt_vg/thinpool does not exist") as caught:
        reconcile(builder(tmp_path, size="1g")(FakeRunner(table)))
    assert caught.value.details["failed_action"] == checked["actions"][0]


def test_free_percentage_on_a_pool_not_there_yet_says_what_it_cannot_know(tmp_path):
    table = host(pvs=[pv("/dev/vdb")], vgs=[vg()], lvs=[])
    checked = reconcile(builder(tmp_path, size="50%FREE")(FakeRunner(table)), check_mode=True)
    assert checked["actions"] == ["create thin volume obt_vg/vol1 of 50%FREE in thin pool thinpool"]
    assert checked["warnings"] == [
        "thin pool obt_vg/thinpool does not exist (yet): the planned actions that need it fail unless "
        "an earlier task creates it",
        "the overcommit check of creating obt_vg/vol1 of 50%FREE cannot run until thin pool "
        "obt_vg/thinpool exists: the real run checks it",
        "size: 50%FREE of obt_vg/vol1 is resolved against thin pool thinpool, which does not exist "
        "(yet): the size is known only in the real run"]


@pytest.mark.parametrize("params, message", [
    ({"name": "snapshot1"}, "name: 'snapshot1' is not a valid LVM LV name"),
    ({"size": "10%ORIGIN"}, "size: '10%ORIGIN' is not a supported percentage (allowed here: N%FREE, "
                            "N%VG)"),
    ({"size": "-1g"}, "size: '-1g' is not a positive size"),
    ({"state": "gone"}, "state: 'gone' is not a valid choice"),
])
def test_bad_input_fails_before_any_command(tmp_path, params, message):
    runner = FakeRunner({})
    with pytest.raises(ReconcileError) as caught:
        builder(tmp_path, **params)(runner)
    assert message in str(caught.value)
    assert runner.calls == []
