# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvm_clones: a host's clones in one cycle (one lvs read, one plan), overcommit counted
across the batch, validation naming the item before any command, and removal of our
clones only, never while in use; check mode == real run with exact argvs."""

from __future__ import annotations

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.clone import Clones
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

GOLDEN_TAGS = ("openblade.kvm", "ob_golden", "ob_image=debian12", "ob_version=1", "ob_sha256=" + "a" * 64)
GUESTS = ("web1", "web2", "web3")


def clone_tags(owner):
    return ("openblade.kvm", "ob_clone", "ob_origin=debian12-1", "ob_image=debian12", "ob_version=1",
            f"ob_owner={owner}")


def clone(owner, size=64 * MIB, **kwargs):
    kwargs.setdefault("tags", clone_tags(owner))
    return lv(f"{owner}-root", size=size, origin="debian12-1", **kwargs)


def state(*volumes, pool_tags=("openblade.kvm",)):
    golden = lv("debian12-1", size=64 * MIB, tags=GOLDEN_TAGS, read_only=True)
    return host(pvs=[pv("/dev/vdb")], vgs=[vg()], lvs=[pool(tags=pool_tags), golden, *volumes])


def item(guest, **params):
    return {"name": f"{guest}-root", "origin": "debian12-1", "owner": guest, "size": None,
            "state": "present", **params}


def builder(tmp_path, clones, domains=(), **params):
    args = dict(vg="obt_vg", clones=clones, on_origin_mismatch="warn", allow_overcommit=False,
                force=False)
    args.update(params)
    return lambda runner: Clones(runner, args, lock_dir=str(tmp_path / "lock"),
                                 domains=StaticDomains(domains), proc_root=str(tmp_path),
                                 sys_root=str(tmp_path))


def create(owner):
    return ["lvcreate", "--yes", "--snapshot", "--setactivationskip", "n", "--permission", "rw",
            "--addtag", "openblade.kvm", "--addtag", "ob_clone", "--addtag", "ob_origin=debian12-1",
            "--addtag", "ob_image=debian12", "--addtag", "ob_version=1", "--addtag",
            f"ob_owner={owner}", "--name", f"{owner}-root", "obt_vg/debian12-1"]


def created(owner):
    return f"create thin clone obt_vg/{owner}-root of golden image obt_vg/debian12-1 for guest {owner}"


def extend(owner, size):
    return ["lvextend", "--size", f"{size}b", f"obt_vg/{owner}-root"]


def remove(name):
    return ["lvremove", "--yes", f"obt_vg/{name}"]


def refused(tmp_path, table, clones, message, **params):
    """Refused in check mode and in a real run, and no command but a read ran."""
    for check_mode in (True, False):
        runner = FakeRunner(table)
        with pytest.raises(ReconcileError) as caught:
            reconcile(builder(tmp_path, clones, **params)(runner), check_mode=check_mode)
        assert message in str(caught.value)
        assert all(call[0] in ("vgs", "lvs") for call in runner.calls)
    return caught.value


def test_batch_create_in_one_plan(tmp_path):
    clones = [item("web1"), item("web2", size="1g"), item("web3")]
    mutations = [create("web1"), create("web2"), extend("web2", GIB), create("web3")]
    checked, real = check_then_apply(builder(tmp_path, clones), state(), mutations)
    assert real["actions"] == [created("web1"), created("web2"),
                               "extend obt_vg/web2-root from 64 MiB to 1 GiB", created("web3")]
    assert real["diff"]["before"] == {}
    assert sorted(real["diff"]["after"]) == ["web1-root", "web2-root", "web3-root"]
    assert real["diff"]["after"]["web2-root"]["size"] == GIB
    assert checked["clones"] == {"web1-root": {}, "web2-root": {}, "web3-root": {}}
    assert real["origin_mismatch"] == []


def test_rerun_changes_nothing_and_reports_every_clone(tmp_path):
    table = state(*(clone(owner) for owner in GUESTS))
    _check, real = check_then_apply(builder(tmp_path, [item(owner) for owner in GUESTS]), table, [])
    assert (real["changed"], real["actions"]) == (False, [])
    assert real["diff"]["before"] == real["diff"]["after"]
    assert {name: facts["owner"] for name, facts in real["clones"].items()} == {
        "web1-root": "web1", "web2-root": "web2", "web3-root": "web3"}
    assert real["clones"]["web1-root"]["path"] == "/dev/obt_vg/web1-root"


def test_the_vg_is_read_once_whatever_the_number_of_clones(tmp_path):
    owners = [f"guest{index}" for index in range(20)]
    table = state(*(clone(owner) for owner in owners))
    runner = FakeRunner(table)
    reconcile(builder(tmp_path, [item(owner) for owner in owners])(runner))
    assert runner.calls == [tuple(commands.vgs()), tuple(commands.lvs("obt_vg"))]


def test_overcommit_accumulates_across_the_batch(tmp_path):
    # Pool 10 GiB, limit 1, 8 GiB written already: each 1 GiB clone fits alone, the
    # third one of the batch does not (8 + 3 = 11 GiB, 1.10x).
    table = state(lv("data", size=8 * GIB), pool_tags=("openblade.kvm", "ob_max_overcommit=1"))
    for owner in GUESTS:
        check_then_apply(builder(tmp_path, [item(owner, size="1g")]), table,
                         [create(owner), extend(owner, GIB)])
    refused(tmp_path, table, [item(owner, size="1g") for owner in GUESTS],
            "creating clone obt_vg/web3-root of 1 GiB would overcommit thin pool obt_vg/thinpool "
            "to 1.10x")


def test_a_removal_listed_first_frees_its_share_of_the_overcommit(tmp_path):
    table = state(lv("data", size=8 * GIB), clone("old", size=2 * GIB),
                  pool_tags=("openblade.kvm", "ob_max_overcommit=1"))
    clones = [item("old", state="absent"), item("web1", size="1g"), item("web2", size="1g")]
    mutations = [remove("old-root"), create("web1"), extend("web1", GIB), create("web2"),
                 extend("web2", GIB)]
    _check, real = check_then_apply(builder(tmp_path, clones), table, mutations)
    assert real["actions"][0] == "remove thin clone obt_vg/old-root"
    assert "old-root" not in real["diff"]["after"]


def test_one_refused_item_stops_the_whole_batch(tmp_path):
    clones = [item("web1"), item("web2", size="32m")]
    error = refused(tmp_path, state(), clones, "clones[1].size: 32 MiB is smaller than golden "
                    "image obt_vg/debian12-1 (64 MiB)")
    assert error.details["option"] == "clones[1].size"


@pytest.mark.parametrize("clones, message", [
    ([item("web1"), item("web2"), item("web1", origin="debian12-2")],
     "clones[2].name: 'web1-root' is listed twice (also as clones[0].name); list each clone once"),
    ([item("web1"), {"name": "x y", "origin": "debian12-1"}],
     "clones[1].name: 'x y' is not a valid LVM LV name"),
    ([item("web1", owner="web 1")], "clones[0].owner: 'web 1' cannot be stored in an LVM tag"),
    ([item("web1", origin="a/b")], "clones[0].origin: 'a/b' is not a valid LVM LV name"),
    ([item("web1", size="lots")], "clones[0].size: 'lots' is not a size"),
    ([item("web1", state="gone")], "clones[0].state: 'gone' is not a valid choice"),
])
def test_bad_items_fail_before_any_command(tmp_path, clones, message):
    runner = FakeRunner({})
    with pytest.raises(ReconcileError) as caught:
        builder(tmp_path, clones)(runner)
    assert message in str(caught.value)
    assert runner.calls == []


def test_absent_removes_our_clone_and_is_then_a_no_op(tmp_path):
    clones = [item("web1"), item("web2", state="absent")]
    table = state(clone("web1"), clone("web2"))
    _check, real = check_then_apply(builder(tmp_path, clones), table, [remove("web2-root")])
    assert real["actions"] == ["remove thin clone obt_vg/web2-root"]
    assert sorted(real["diff"]["before"]) == ["web1-root", "web2-root"]
    assert sorted(real["diff"]["after"]) == ["web1-root"]
    _check, again = check_then_apply(builder(tmp_path, clones), state(clone("web1")), [])
    assert again["changed"] is False
    assert again["clones"]["web2-root"] == {}


@pytest.mark.parametrize("volume, message", [
    (lv("web1-root", tags=("openblade.kvm",)),
     "clones[0].name: obt_vg/web1-root exists but is not a clone made by openblade.kvm (no ob_clone "
     "tag); refusing to remove it"),
    (lv("web1-root"), "is not a clone made by openblade.kvm"),
    (clone("web1", tags=clone_tags("web2")),
     "obt_vg/web1-root is the disk of guest 'web2', not 'web1'; refusing to remove it"),
])
def test_absent_never_removes_what_is_not_our_clone(tmp_path, volume, message):
    refused(tmp_path, state(volume), [item("web1", state="absent")], message)


def test_absent_golden_image_is_refused(tmp_path):
    refused(tmp_path, state(), [{"name": "debian12-1", "origin": "debian12-1", "state": "absent"}],
            "obt_vg/debian12-1 exists but is not a clone made by openblade.kvm")


def test_clone_in_use_is_not_removed(tmp_path):
    table = state(clone("web1"))
    clones = [item("web1", state="absent")]
    running = [("web1", True, {"/dev/obt_vg/web1-root"})]
    refused(tmp_path, table, clones, "refusing to remove obt_vg/web1-root: libvirt domain 'web1' "
            "(running) uses it (force does not override a volume in use)", domains=running,
            force=True)
    refused(tmp_path, state(clone("web1", is_open=True)), clones,
            "refusing to remove obt_vg/web1-root: its device is open")
    stopped = [("web1", False, {"/dev/mapper/obt_vg-web1--root"})]
    refused(tmp_path, table, clones, "libvirt domain 'web1' (defined, not running) uses it",
            domains=stopped)
    _check, real = check_then_apply(builder(tmp_path, clones, domains=stopped, force=True), table,
                                    [remove("web1-root")])
    assert real["warnings"] == ["remove obt_vg/web1-root although libvirt domain 'web1' (not "
                                "running) uses it (force)"]


def test_origin_mismatches_are_listed_and_left_alone(tmp_path):
    table = state(clone("web1"), clone("web2"))
    clones = [item("web1", origin="debian12-2"), item("web2")]
    _check, real = check_then_apply(builder(tmp_path, clones), table, [])
    assert real["origin_mismatch"] == ["web1-root"]
    assert len(real["warnings"]) == 1 and "is a clone of debian12-1, not of debian12-2" in \
        real["warnings"][0]
    refused(tmp_path, table, clones, "obt_vg/web1-root already exists and is a clone of debian12-1",
            on_origin_mismatch="fail")


def test_a_missing_golden_image_is_one_warning_for_the_whole_batch(tmp_path):
    """Check mode before the image task ran: every clone planned, the cause said once."""
    clones = [item(owner, origin="debian12-9") for owner in GUESTS]
    checked = reconcile(builder(tmp_path, clones)(FakeRunner(state())), check_mode=True)
    assert len(checked["actions"]) == 3
    assert checked["warnings"] == ["golden image obt_vg/debian12-9 does not exist (yet): the planned "
                                   "actions that need it fail unless an earlier task creates it",
                                   "the overcommit check of the clones of golden image "
                                   "obt_vg/debian12-9 cannot run until it exists (its thin pool is "
                                   "not known yet): the real run checks it"]
    with pytest.raises(ReconcileError, match="golden image obt_vg/debian12-9 does not exist"):
        reconcile(builder(tmp_path, clones)(FakeRunner(state())))


def test_check_mode_lists_the_growth_of_a_clone_of_an_image_not_there_yet(tmp_path):
    """The image is created by an earlier task of the play: check mode cannot know its size,
    so it lists the growth the real run will do, and says why, never fewer actions."""
    clones = [item("web1", origin="debian12-9", size="1g")]
    checked = reconcile(builder(tmp_path, clones)(FakeRunner(state())), check_mode=True)
    assert checked["actions"] == [
        "create thin clone obt_vg/web1-root of golden image obt_vg/debian12-9 for guest web1",
        "extend obt_vg/web1-root to 1 GiB if golden image obt_vg/debian12-9 is smaller"]
    assert ("clones[0].size: whether obt_vg/web1-root grows to 1 GiB depends on the size of golden "
            "image obt_vg/debian12-9, which does not exist (yet); the growth is listed, and the real "
            "run does it only if the image is smaller") in checked["warnings"]
    assert any("overcommit check" in warning and "debian12-9" in warning for warning in checked["warnings"])
    # Once the image exists (the earlier task ran), the run plans as many actions.
    real = reconcile(builder(tmp_path, [item("web1", size="1g")])(FakeRunner(state())), check_mode=True)
    assert len(real["actions"]) == len(checked["actions"])
    assert real["actions"][1] == "extend obt_vg/web1-root from 64 MiB to 1 GiB"
