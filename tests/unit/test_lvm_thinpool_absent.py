# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvm_thinpool state=absent: the pool only when empty, the VG only when ours and empty,
the listed PVs of that VG; check mode == real run with exact argvs."""

from __future__ import annotations

import pytest
from ansible.module_utils import basic

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.thinpool import ThinPool
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
    reconcile,
)
from ansible_collections.openblade.kvm.plugins.modules import lvm_thinpool
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner
from ansible_collections.openblade.kvm.tests.unit.lvm_host import (
    GIB,
    StaticDomains,
    check_then_apply,
    host,
    lv,
    pool,
    pv,
    vg,
)

PROFILE = ("# Managed by openblade.kvm (lvm_thinpool) for thin pool obt_vg/thinpool; local edits are "
           "overwritten.\nactivation {\n\tthin_pool_autoextend_threshold = 80\n"
           "\tthin_pool_autoextend_percent = 20\n}\n")
REMOVE_POOL = ["lvremove", "--yes", "obt_vg/thinpool"]
REMOVE_VG = ["vgremove", "obt_vg"]


@pytest.fixture
def disks(tmp_path):
    paths = []
    for name in ("sdb", "sdc"):
        (tmp_path / name).write_text("")
        paths.append(str((tmp_path / name).resolve()))
    return paths


def builder(tmp_path, pvs, **overrides):
    args = dict(vg="obt_vg", pvs=pvs, pool="thinpool", state="absent", size=None, chunk_size=None,
                metadata_size=None, autoextend_threshold=None, autoextend_percent=None,
                max_overcommit=None, remove_unlisted_pvs=False, wipe_signatures=False)
    args.update(overrides)
    return lambda runner: ThinPool(runner, args, profile_dir=str(tmp_path / "profile"),
                                   lock_dir=str(tmp_path / "lock"), domains=StaticDomains())


def profile(tmp_path, text=PROFILE):
    path = tmp_path / "profile" / "openblade-kvm-obt_vg-thinpool.profile"
    if text is not None:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    return path


def blade(devices, *volumes, vg_tags="openblade.kvm", with_pool=True):
    return host(pvs=[pv(device) for device in devices], vgs=[vg(tags=vg_tags)],
                lvs=([pool()] if with_pool else []) + list(volumes))


def test_teardown_removes_pool_profile_vg_and_pvs(tmp_path, disks):
    path = profile(tmp_path)
    mutations = [REMOVE_POOL, REMOVE_VG, ["pvremove", disks[0]], ["pvremove", disks[1]]]
    checked, real = check_then_apply(builder(tmp_path, disks), blade(disks), mutations)
    assert real["actions"] == [
        "remove thin pool obt_vg/thinpool", f"remove LVM profile {path}",
        "remove volume group obt_vg",
        f"remove the LVM physical volume label from {disks[0]}",
        f"remove the LVM physical volume label from {disks[1]}"]
    assert not path.exists()
    assert real["diff"]["before"]["pool"]["size"] == 10 * GIB
    assert real["diff"]["after"] == {}
    assert checked["thinpool"]["exists"] is True
    assert "warnings" not in real


def test_nothing_to_do_without_the_vg(tmp_path):
    runner = FakeRunner(host())
    result = reconcile(builder(tmp_path, None)(runner))
    assert (result["changed"], result["actions"]) == (False, [])
    assert result["thinpool"]["exists"] is False
    assert {call[0] for call in runner.calls} == {"pvs", "vgs"}


def test_pool_with_volumes_is_refused_naming_them(tmp_path, disks):
    volumes = [lv("web1-root"), lv("debian12-1", read_only=True), lv("other", pool="pool2")]
    for check_mode in (True, False):
        runner = FakeRunner(blade(disks, *volumes))
        with pytest.raises(ReconcileError) as caught:
            reconcile(builder(tmp_path, disks)(runner), check_mode=check_mode)
        assert str(caught.value) == ("refusing to remove thin pool obt_vg/thinpool: it still holds "
                                     "thin volumes debian12-1, web1-root (remove them first)")
        assert caught.value.details["volumes"] == ["debian12-1", "web1-root"]
        assert {call[0] for call in runner.calls} <= {"pvs", "vgs", "lvs"}


def test_not_a_thin_pool_is_refused(tmp_path, disks):
    table = host(pvs=[pv(disks[0])], vgs=[vg()], lvs=[lv("thinpool", layout="linear")])
    with pytest.raises(ReconcileError, match="pool: obt_vg/thinpool exists but is not a thin pool "
                       r"\(layout linear\); refusing to remove it"):
        reconcile(builder(tmp_path, disks)(FakeRunner(table)), check_mode=True)


@pytest.mark.parametrize("vg_tags, others, why", [
    ("", [], "it does not carry the openblade.kvm tag (lvm_thinpool did not create it)"),
    ("openblade.kvm", [lv("root", layout="linear")], "it holds root"),
])
def test_a_vg_that_is_not_ours_or_not_empty_is_kept(tmp_path, disks, vg_tags, others, why):
    table = blade(disks, *others, vg_tags=vg_tags)
    _check, real = check_then_apply(builder(tmp_path, disks), table, [REMOVE_POOL])
    assert real["actions"] == ["remove thin pool obt_vg/thinpool"]
    assert real["warnings"] == [f"volume group obt_vg is kept: {why}"]
    assert real["diff"]["after"]["pool"] is None
    # The re-run finds the pool gone and has nothing to do, or to say.
    _check, again = check_then_apply(builder(tmp_path, disks),
                                     blade(disks, *others, vg_tags=vg_tags, with_pool=False), [])
    assert again["changed"] is False and "warnings" not in again


def test_an_interrupted_teardown_is_finished_by_a_rerun(tmp_path, disks):
    # The pool went, the VG did not: ours and empty, so it goes now.
    mutations = [REMOVE_VG, ["pvremove", disks[0]], ["pvremove", disks[1]]]
    _check, real = check_then_apply(builder(tmp_path, disks), blade(disks, with_pool=False), mutations)
    assert real["actions"][0] == "remove volume group obt_vg"


def test_only_listed_pvs_lose_their_label(tmp_path, disks):
    mutations = [REMOVE_POOL, REMOVE_VG, ["pvremove", disks[0]]]
    _check, real = check_then_apply(builder(tmp_path, disks[:1]), blade(disks), mutations)
    assert real["warnings"] == [f"{disks[1]} of volume group obt_vg stay LVM physical volumes (pvs "
                                "does not list them)"]
    _check, real = check_then_apply(builder(tmp_path, None), blade(disks), [REMOVE_POOL, REMOVE_VG])
    assert real["warnings"] == [f"{disks[0]}, {disks[1]} of volume group obt_vg stay LVM physical "
                                "volumes (pvs does not list them)"]


def test_a_profile_that_is_not_ours_is_left_alone(tmp_path, disks):
    path = profile(tmp_path, "activation {\n}\n")
    _check, real = check_then_apply(builder(tmp_path, disks), blade(disks),
                                    [REMOVE_POOL, REMOVE_VG, ["pvremove", disks[0]], ["pvremove", disks[1]]])
    assert f"remove LVM profile {path}" not in real["actions"]
    assert path.exists()


def test_pvs_is_required_to_build_a_pool_only(tmp_path, monkeypatch):
    with pytest.raises(ReconcileError, match="pvs: at least one device is required"):
        builder(tmp_path, None, state="present")(FakeRunner({}))
    with pytest.raises(ReconcileError, match="state: 'gone' is not a valid choice"):
        builder(tmp_path, None, state="gone")(FakeRunner({}))

    class Captured(Exception):
        pass

    def capture(self, argument_spec, **kwargs):
        raise Captured(argument_spec, kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "__init__", capture)
    with pytest.raises(Captured) as caught:
        lvm_thinpool.main()
    spec, kwargs = caught.value.args
    assert not spec["pvs"].get("required")
    assert kwargs["required_if"] == [("state", "present", ["pvs"])]
