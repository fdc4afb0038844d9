# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvm_clone: thin clones of golden images, activation, growth, origin mismatch and
ownership; check mode == real run with exact argvs."""

from __future__ import annotations

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.clone import Clone
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
CLONE_TAGS = ("openblade.kvm", "ob_clone", "ob_origin=debian12-1", "ob_image=debian12", "ob_version=1",
              "ob_owner=web1")


def golden(name="debian12-1", tags=GOLDEN_TAGS):
    return lv(name, size=64 * MIB, tags=tags, read_only=True)


def clone(origin="debian12-1", size=64 * MIB, **kwargs):
    kwargs.setdefault("tags", CLONE_TAGS)
    return lv("web1-root", size=size, origin=origin, **kwargs)


def state(*volumes, pool_tags=("openblade.kvm",)):
    return host(pvs=[pv("/dev/vdb")], vgs=[vg()], lvs=[pool(tags=pool_tags), golden(),
                                                       golden("debian12-2"), *volumes])


def builder(tmp_path, **params):
    args = dict(vg="obt_vg", name="web1-root", origin="debian12-1", owner="web1", size=None,
                on_origin_mismatch="warn", allow_overcommit=False)
    args.update(params)
    return lambda runner: Clone(runner, args, lock_dir=str(tmp_path / "lock"),
                                domains=StaticDomains())


CREATE = ["lvcreate", "--yes", "--snapshot", "--setactivationskip", "n", "--permission", "rw",
          "--addtag", "openblade.kvm", "--addtag", "ob_clone", "--addtag", "ob_origin=debian12-1",
          "--addtag", "ob_image=debian12", "--addtag", "ob_version=1", "--addtag", "ob_owner=web1",
          "--name", "web1-root", "obt_vg/debian12-1"]
CREATED = "create thin clone obt_vg/web1-root of golden image obt_vg/debian12-1 for guest web1"

CASES = {
    # name: (existing clone or None, params, actions, mutations)
    "create": (None, {}, [CREATED], [CREATE]),
    "create and grow": (None, {"size": "1g"},
                        [CREATED, "extend obt_vg/web1-root from 64 MiB to 1 GiB"],
                        [CREATE, ["lvextend", "--size", f"{GIB}b", "obt_vg/web1-root"]]),
    "create at the golden size": (None, {"size": "64m"}, [CREATED], [CREATE]),
    "existing clone": (clone(), {}, [], []),
    "existing clone, golden image since removed": (clone(origin=""), {}, [], []),
    "existing clone, already grown": (clone(size=GIB), {"size": "1g"}, [], []),
    "existing clone, grow": (clone(), {"size": "1g"},
                             ["extend obt_vg/web1-root from 64 MiB to 1 GiB"],
                             [["lvextend", "--size", f"{GIB}b", "obt_vg/web1-root"]]),
    "existing clone, skipped and inactive": (
        clone(skip=True, active=False), {},
        ["clear the activation-skip flag of obt_vg/web1-root so it activates at boot",
         "activate obt_vg/web1-root"],
        [["lvchange", "--setactivationskip", "n", "obt_vg/web1-root"],
         ["lvchange", "--activate", "y", "obt_vg/web1-root"]]),
    "clone made without an owner is left alone": (clone(tags=("openblade.kvm",)), {}, [], []),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_mode_predicts_the_real_run(tmp_path, case):
    existing, params, actions, mutations = CASES[case]
    table = state(*([existing] if existing else []))
    _check, real = check_then_apply(builder(tmp_path, **params), table, mutations)
    assert real["actions"] == actions
    assert real["origin_mismatch"] is False


def test_facts_name_owner_origin_and_version(tmp_path):
    _check, real = check_then_apply(builder(tmp_path), state(clone()), [])
    assert {key: real["clone"][key] for key in ("path", "origin", "owner", "image", "version")} == {
        "path": "/dev/obt_vg/web1-root", "origin": "debian12-1", "owner": "web1",
        "image": "debian12", "version": "1"}


def test_clone_of_another_origin_is_reported_and_left_alone(tmp_path):
    table = state(clone(origin="debian12-1"))
    _check, real = check_then_apply(builder(tmp_path, origin="debian12-2"), table, [])
    assert real["changed"] is False
    assert real["origin_mismatch"] is True
    assert real["warnings"] == [
        "obt_vg/web1-root already exists and is a clone of debian12-1, not of debian12-2; it is left "
        "as it is (a clone is never replaced: remove it explicitly to re-clone it)"]
    assert real["diff"]["before"] == real["diff"]["after"]
    with pytest.raises(ReconcileError, match="is a clone of debian12-1, not of debian12-2"):
        reconcile(builder(tmp_path, origin="debian12-2", on_origin_mismatch="fail")(FakeRunner(table)))


def refused(tmp_path, table, message, **params):
    for check_mode in (True, False):
        runner = FakeRunner(table)
        with pytest.raises(ReconcileError) as caught:
            reconcile(builder(tmp_path, **params)(runner), check_mode=check_mode)
        assert message in str(caught.value)
        assert all(call[0] in ("vgs", "lvs") for call in runner.calls)


@pytest.mark.parametrize("volumes, params, message", [
    ([clone()], {"owner": "web2"},
     "obt_vg/web1-root is the disk of guest 'web1', not 'web2'; refusing to hand it to another guest"),
    ([lv("plain")], {"origin": "plain"},
     "origin: obt_vg/plain is not a golden image imported by golden_image (no ob_golden tag)"),
    ([golden("half", tags=(*GOLDEN_TAGS[:4], "ob_importing"))], {"origin": "half"},
     "origin: obt_vg/half is still being imported"),
    ([], {"size": "32m"},
     "size: 32 MiB is smaller than golden image obt_vg/debian12-1 (64 MiB); a clone can only be as "
     "large or larger"),
    ([clone(size=GIB)], {"size": "512m"},
     "size: refusing to shrink obt_vg/web1-root from 1 GiB to 512 MiB"),
])
def test_refusals(tmp_path, volumes, params, message):
    refused(tmp_path, state(*volumes), message, **params)


def test_overcommit_counts_the_clone(tmp_path):
    # Pool 10 GiB, limit 1: a 9.5 GiB writable volume plus a 1 GiB clone is 1.05x.
    table = state(lv("big", size=9728 * MIB), pool_tags=("openblade.kvm", "ob_max_overcommit=1"))
    refused(tmp_path, table, "creating clone obt_vg/web1-root of 1 GiB would overcommit thin pool "
            "obt_vg/thinpool to 1.05x", size="1g")


def test_missing_golden_image_is_planned_with_a_warning(tmp_path):
    table = state()
    checked = reconcile(builder(tmp_path, origin="debian12-9")(FakeRunner(table)), check_mode=True)
    assert checked["actions"] == [
        "create thin clone obt_vg/web1-root of golden image obt_vg/debian12-9 for guest web1"]
    assert "golden image obt_vg/debian12-9 does not exist (yet)" in checked["warnings"][0]
    with pytest.raises(ReconcileError, match="golden image obt_vg/debian12-9 does not exist"):
        reconcile(builder(tmp_path, origin="debian12-9")(FakeRunner(table)))


@pytest.mark.parametrize("params, message", [
    ({"owner": "web 1"}, "owner: 'web 1' cannot be stored in an LVM tag (allowed characters: "
                         "A-Z a-z 0-9 _ + . - / = ! : & #; found ' ')"),
    ({"owner": "a/b"}, "owner: 'a/b' is not a valid libvirt domain name"),
    ({"origin": "x y"}, "origin: 'x y' is not a valid LVM LV name"),
    ({"on_origin_mismatch": "replace"}, "on_origin_mismatch: 'replace' is not a valid choice"),
])
def test_bad_input_fails_before_any_command(tmp_path, params, message):
    runner = FakeRunner({})
    with pytest.raises(ReconcileError) as caught:
        builder(tmp_path, **params)(runner)
    assert message in str(caught.value)
    assert runner.calls == []
