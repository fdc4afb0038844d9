# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvm_snapshot: labelled read-only snapshots, retention that prunes only our own,
in-use snapshots kept; check mode == real run with exact argvs."""

from __future__ import annotations

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.snapshot import Snapshots
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
    reconcile,
)
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner
from ansible_collections.openblade.kvm.tests.unit.lvm_host import (
    StaticDomains,
    check_then_apply,
    host,
    lv,
    pool,
    pv,
    vg,
)

NOW = 1717210800


def ours(label, stamp, volume="web1-root", **kwargs):
    kwargs.setdefault("active", False)
    return lv(f"{volume}-snap-{label}", origin=volume, read_only=True, skip=True, tags=(
        "openblade.kvm", "ob_snapshot", f"ob_snapshot_of={volume}", f"ob_created={stamp}"), **kwargs)


# Not ours: a hand-made snapshot of the same volume, and our snapshot of another volume.
FOREIGN = [lv("web1-root-manual", origin="web1-root", active=False),
           ours("old", 1, volume="web2-root")]


def state(*snapshots):
    return host(pvs=[pv("/dev/vdb")], vgs=[vg()],
                lvs=[pool(), lv("web1-root"), lv("web2-root"), *FOREIGN, *snapshots])


def builder(tmp_path, domains=(), **params):
    args = dict(vg="obt_vg", volume="web1-root", label="c", state="present", retention=None,
                active=False)
    args.update(params)
    return lambda runner: Snapshots(runner, args, clock=lambda: NOW + 0.7,
                                    lock_dir=str(tmp_path / "lock"), domains=StaticDomains(domains))


def create(label="c", active=False):
    return ["lvcreate", "--yes", "--snapshot", *(["--setactivationskip", "n"] if active else []),
            "--permission", "r", "--addtag", "openblade.kvm", "--addtag", "ob_snapshot", "--addtag",
            "ob_snapshot_of=web1-root", "--addtag", f"ob_created={NOW}", "--name",
            f"web1-root-snap-{label}", "obt_vg/web1-root"]


def remove(label):
    return ["lvremove", "--yes", f"obt_vg/web1-root-snap-{label}"]


CREATED = "create read-only snapshot obt_vg/web1-root-snap-c of obt_vg/web1-root"

CASES = {
    # name: (existing snapshots, params, actions, mutations)
    "first snapshot": ([], {}, [CREATED], [create()]),
    "same label again": ([ours("c", NOW)], {"retention": 1}, [], []),
    "retention prunes the oldest of ours": (
        [ours("a", 100), ours("b", 200)], {"retention": 2},
        [CREATED, "remove snapshot obt_vg/web1-root-snap-a (beyond the retention of 2)"],
        [create(), remove("a")]),
    "prune only": (
        [ours("a", 100), ours("b", 200), ours("c", 300)], {"label": None, "retention": 1},
        ["remove snapshot obt_vg/web1-root-snap-b (beyond the retention of 1)",
         "remove snapshot obt_vg/web1-root-snap-a (beyond the retention of 1)"],
        [remove("b"), remove("a")]),
    "same second: the name breaks the tie": (
        [ours("a", 100), ours("b", 100)], {"label": None, "retention": 1},
        ["remove snapshot obt_vg/web1-root-snap-a (beyond the retention of 1)"], [remove("a")]),
    "active snapshot": ([], {"active": True}, [CREATED], [create(active=True)]),
    "activate an existing one": (
        [ours("c", NOW)], {"active": True},
        ["clear the activation-skip flag of obt_vg/web1-root-snap-c so it activates at boot",
         "activate obt_vg/web1-root-snap-c"],
        [["lvchange", "--setactivationskip", "n", "obt_vg/web1-root-snap-c"],
         ["lvchange", "--activate", "y", "obt_vg/web1-root-snap-c"]]),
    "remove by label": ([ours("c", NOW)], {"state": "absent"},
                        ["remove snapshot obt_vg/web1-root-snap-c"], [remove("c")]),
    "remove by label, already gone": ([], {"state": "absent"}, [], []),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_mode_predicts_the_real_run(tmp_path, case):
    existing, params, actions, mutations = CASES[case]
    _check, real = check_then_apply(builder(tmp_path, **params), state(*existing), mutations)
    assert real["actions"] == actions


def test_results_list_ours_newest_first_and_the_pruned(tmp_path):
    table = state(ours("a", 100), ours("b", 200))
    checked, real = check_then_apply(builder(tmp_path, retention=2), table, [create(), remove("a")])
    assert checked["pruned"] == real["pruned"] == ["web1-root-snap-a"]
    assert real["diff"]["before"] == {"snapshots": ["web1-root-snap-b", "web1-root-snap-a"]}
    assert real["diff"]["after"] == {"snapshots": ["web1-root-snap-c", "web1-root-snap-b"]}
    # The fake host does not change, so the listing after the run is still the old one.
    assert [snap["name"] for snap in real["snapshots"]] == ["web1-root-snap-b", "web1-root-snap-a"]


def test_a_snapshot_in_use_is_kept_beyond_the_retention(tmp_path):
    table = state(ours("a", 100, active=True, is_open=True), ours("b", 200))
    _check, real = check_then_apply(builder(tmp_path, label=None, retention=1), table, [])
    assert real["actions"] == []
    assert real["warnings"] == [
        "refusing to prune obt_vg/web1-root-snap-a: its device is open (a process holds it) (force "
        "does not override a volume in use); kept beyond the retention of 1"]


def test_a_snapshot_a_domain_uses_is_kept_too(tmp_path):
    domains = [("restore-test", False, {"/dev/obt_vg/web1-root-snap-a"})]
    table = state(ours("a", 100), ours("b", 200))
    _check, real = check_then_apply(builder(tmp_path, domains, label=None, retention=1), table, [])
    assert "libvirt domain 'restore-test' (defined, not running) uses it" in real["warnings"][0]


@pytest.mark.parametrize("volumes, params, message", [
    ([lv("web1-root-snap-c", origin="web1-root")], {},
     "obt_vg/web1-root-snap-c exists but is not a snapshot of obt_vg/web1-root made by lvm_snapshot"),
    ([lv("web1-root-snap-c", origin="web1-root")], {"state": "absent"},
     "obt_vg/web1-root-snap-c exists but is not a snapshot of obt_vg/web1-root made by lvm_snapshot"),
    ([ours("c", NOW, active=True, is_open=True)], {"state": "absent"},
     "refusing to remove obt_vg/web1-root-snap-c: its device is open"),
])
def test_refusals(tmp_path, volumes, params, message):
    for check_mode in (True, False):
        runner = FakeRunner(state(*volumes))
        with pytest.raises(ReconcileError) as caught:
            reconcile(builder(tmp_path, **params)(runner), check_mode=check_mode)
        assert message in str(caught.value)
        assert all(call[0] in ("vgs", "lvs") for call in runner.calls)


def test_only_thin_volumes_are_snapshotted(tmp_path):
    table = host(pvs=[pv("/dev/vdb")], vgs=[vg()], lvs=[pool(), lv("web1-root", layout="linear")])
    with pytest.raises(ReconcileError, match="obt_vg/web1-root is not a thin volume"):
        reconcile(builder(tmp_path)(FakeRunner(table)), check_mode=True)


@pytest.mark.parametrize("params, message", [
    ({"retention": 0}, "retention: 0 is not a valid retention (allowed: integers from 1"),
    ({"label": "2024 06 01"}, "label: '2024 06 01' is not a valid snapshot label"),
    ({"label": None}, "label: required, unless state is present and retention is set"),
    ({"label": None, "state": "absent", "retention": 3}, "label: required"),
    ({"volume": "web1-root", "label": "x" * 120}, "label: 'web1-root-snap-xxx"),
])
def test_bad_input_fails_before_any_command(tmp_path, params, message):
    runner = FakeRunner({})
    with pytest.raises(ReconcileError) as caught:
        builder(tmp_path, **params)(runner)
    assert message in str(caught.value)
    assert runner.calls == []


# --- phases: desired builds the wanted snapshots itself; the in-use check is read in observe --------

class CountingDomains(StaticDomains):
    def __init__(self, domains=()):
        super().__init__(domains)
        self.asked = []

    def using(self, vg, lv):
        self.asked.append(lv)
        return super().using(vg, lv)


def phases(tmp_path, existing, **params):
    snapshots = builder(tmp_path, **params)(FakeRunner(state(*existing)))
    snapshots.domains = CountingDomains([("restore-test", False, {"/dev/obt_vg/web1-root-snap-a"})])
    current = snapshots.observe()
    return snapshots, current, snapshots.desired(current)


def test_desired_is_the_snapshots_after_the_run_without_the_plan(tmp_path):
    snapshots, current, desired = phases(tmp_path, [ours("a", 100), ours("b", 200), ours("x", 50)],
                                         retention=2)
    assert current == {"snapshots": ["web1-root-snap-b", "web1-root-snap-a", "web1-root-snap-x"]}
    # c is created, b kept; a is beyond the retention but a domain uses it: kept; x pruned.
    assert desired == {"snapshots": ["web1-root-snap-c", "web1-root-snap-b", "web1-root-snap-a"]}
    assert snapshots.domains.asked == ["web1-root-snap-a", "web1-root-snap-x"]
    assert snapshots.plan(current, desired).descriptions() == [
        CREATED, "remove snapshot obt_vg/web1-root-snap-x (beyond the retention of 2)"]


def test_a_run_that_removes_nothing_asks_no_one_who_uses_a_snapshot(tmp_path):
    snapshots, current, desired = phases(tmp_path, [ours("a", 100), ours("c", NOW)], retention=2)
    assert desired == current and snapshots.domains.asked == []


def test_removing_by_label_and_pruning_removes_the_label_first(tmp_path):
    snapshots, current, desired = phases(tmp_path, [ours("b", 100), ours("c", NOW), ours("d", 50)],
                                         state="absent", retention=1)
    assert desired == {"snapshots": ["web1-root-snap-b"]}
    assert snapshots.plan(current, desired).descriptions() == [
        "remove snapshot obt_vg/web1-root-snap-c",
        "remove snapshot obt_vg/web1-root-snap-d (beyond the retention of 1)"]
