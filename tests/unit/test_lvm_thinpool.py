# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvm_thinpool: decision table (check mode == real run, exact argvs), PV safety,
the profile we own, validation before any command, and the facts."""

from __future__ import annotations

import os

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.thinpool import (
    ThinPool,
    profile_name,
)
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

PROFILE = ("# Managed by openblade.kvm (lvm_thinpool) for thin pool obt_vg/thinpool; local edits are "
           "overwritten.\nactivation {\n\tthin_pool_autoextend_threshold = 80\n"
           "\tthin_pool_autoextend_percent = 20\n}\n")


@pytest.fixture
def disks(tmp_path):
    """Three 'devices' that exist (pvs must exist on the host), by real path."""
    paths = []
    for name in ("sdb", "sdc", "sdd"):
        (tmp_path / name).write_text("")
        paths.append(str((tmp_path / name).resolve()))
    return paths


def params(devices, **overrides):
    base = dict(vg="obt_vg", pvs=devices[:1], pool="thinpool", size="80%VG", chunk_size="64k",
                metadata_size="16m", autoextend_threshold=80, autoextend_percent=20,
                max_overcommit=3.0, remove_unlisted_pvs=False, wipe_signatures=False)
    base.update(overrides)
    return base


def builder(tmp_path, args):
    return lambda runner: ThinPool(runner, args, profile_dir=str(tmp_path / "profile"),
                                   lock_dir=str(tmp_path / "lock"), domains=StaticDomains())


def profile_path(tmp_path):
    return str(tmp_path / "profile" / "openblade-kvm-obt_vg-thinpool.profile")


def test_fresh_disk_becomes_vg_and_pool(tmp_path, disks):
    dev = disks[0]
    table = host(signatures={dev: []})
    mutations = [
        ["pvcreate", dev],
        ["vgcreate", "--addtag", "openblade.kvm", "obt_vg", dev],
        ["lvcreate", "--yes", "--type", "thin-pool", "--extents", "80%VG", "--chunksize", "65536b",
         "--poolmetadatasize", "16777216b", "--metadataprofile", "openblade-kvm-obt_vg-thinpool",
         "--addtag", "openblade.kvm", "--addtag", "ob_max_overcommit=3", "--name", "thinpool",
         "obt_vg"],
    ]
    checked, real = check_then_apply(builder(tmp_path, params(disks)), table, mutations)
    assert real["actions"] == [
        f"initialise {dev} as an LVM physical volume",
        f"create volume group obt_vg on {dev}",
        f"write LVM profile {profile_path(tmp_path)} (autoextend by 20% at 80% full)",
        "create thin pool obt_vg/thinpool of 80%VG (chunks of 64 KiB, 16 MiB metadata)",
    ]
    with open(profile_path(tmp_path)) as handle:
        assert handle.read() == PROFILE
    assert real["diff"]["before"] == {}
    assert real["diff"]["after"]["pool"]["size"] == "80%VG"
    assert real["diff"]["after"]["pvs"] == [dev]
    assert checked["thinpool"]["exists"] is False


def converged_state(dev, **pool_args):
    pool_args.setdefault("profile", "openblade-kvm-obt_vg-thinpool")
    pool_args.setdefault("tags", ("openblade.kvm", "ob_max_overcommit=3"))
    return dict(pvs=[pv(dev)], vgs=[vg()], lvs=[
        pool(**pool_args),
        lv("web1-root", size=4 * GIB),
        lv("debian12-1", size=2 * GIB, read_only=True),  # golden: not counted
    ])


def write_profile(tmp_path, text=PROFILE):
    (tmp_path / "profile").mkdir(exist_ok=True)
    (tmp_path / "profile" / "openblade-kvm-obt_vg-thinpool.profile").write_text(text)


def test_converged_pool_is_left_alone_and_reports_facts(tmp_path, disks):
    write_profile(tmp_path)
    table = host(**converged_state(disks[0]))
    checked, real = check_then_apply(builder(tmp_path, params(disks, size="10g")), table, [])
    assert real["changed"] is False and real["actions"] == []
    facts = real["thinpool"]
    assert facts["size"] == 10 * GIB
    assert facts["virtual_size"] == 4 * GIB
    assert facts["overcommit"] == 0.4
    assert facts["max_overcommit"] == 3.0
    assert (facts["data_percent"], facts["metadata_percent"]) == (5.0, 10.0)
    assert (facts["autoextend_threshold"], facts["autoextend_percent"]) == (80, 20)
    assert facts["monitored"] is True


def test_pool_grows_and_policy_is_updated(tmp_path, disks):
    # 8 GiB pool, 8 MiB metadata, no profile, limit 2: everything moves towards the params.
    state = converged_state(disks[0], size=8 * GIB, metadata_size=8 * MIB, profile="",
                            tags=("openblade.kvm", "ob_max_overcommit=2"))
    table = host(**state)
    mutations = [
        ["lvextend", "--size", f"{10 * GIB}b", "obt_vg/thinpool"],
        ["lvextend", "--poolmetadatasize", f"{16 * MIB}b", "obt_vg/thinpool"],
        ["lvchange", "--metadataprofile", "openblade-kvm-obt_vg-thinpool", "obt_vg/thinpool"],
        ["lvchange", "--deltag", "ob_max_overcommit=2", "--addtag", "ob_max_overcommit=3",
         "obt_vg/thinpool"],
    ]
    _check, real = check_then_apply(builder(tmp_path, params(disks, size="10g")), table, mutations)
    assert real["actions"] == [
        f"write LVM profile {profile_path(tmp_path)} (autoextend by 20% at 80% full)",
        "extend thin pool obt_vg/thinpool from 8 GiB to 10 GiB",
        "extend the metadata of thin pool obt_vg/thinpool from 8 MiB to 16 MiB",
        "attach LVM profile openblade-kvm-obt_vg-thinpool to thin pool obt_vg/thinpool",
        "set max_overcommit of thin pool obt_vg/thinpool to 3",
    ]
    assert real["diff"]["before"]["pool"]["size"] == 8 * GIB
    assert real["diff"]["after"]["pool"]["size"] == 10 * GIB
    assert real["diff"]["after"]["pool"]["max_overcommit"] == 3.0


@pytest.mark.parametrize("size", ["80%VG", "100%FREE", "6g", "8589934591"])
def test_a_larger_pool_or_a_percentage_is_satisfied(tmp_path, disks, size):
    # %-sizes are resolved at creation only; absolute sizes are minimums (pools never shrink).
    write_profile(tmp_path)
    table = host(**converged_state(disks[0]))
    _check, real = check_then_apply(builder(tmp_path, params(disks, size=size)), table, [])
    assert real["actions"] == []


def test_sizes_compare_after_rounding_to_extents(tmp_path, disks):
    # 10 GiB minus one byte rounds up to the 10 GiB the pool already has.
    write_profile(tmp_path)
    table = host(**converged_state(disks[0]))
    _check, real = check_then_apply(builder(tmp_path, params(disks, size=str(10 * GIB - 1))), table, [])
    assert real["actions"] == []


def test_new_pv_is_added_and_unlisted_pv_is_kept(tmp_path, disks):
    a, b, c = disks
    write_profile(tmp_path)
    state = converged_state(a)
    state["pvs"] = [pv(a), pv(b, used=GIB)]
    table = host(**state, signatures={c: []})
    mutations = [["pvcreate", c], ["vgextend", "obt_vg", c]]
    _check, real = check_then_apply(builder(tmp_path, params(disks, pvs=[a, c], size=None)), table,
                                    mutations)
    assert real["actions"] == [f"initialise {c} as an LVM physical volume",
                               f"add {c} to volume group obt_vg"]
    assert real["warnings"] == [f"volume group obt_vg also has {b}, which pvs does not list; kept "
                                "(set remove_unlisted_pvs: true to remove unused ones)"]
    assert real["diff"]["after"]["pvs"] == sorted([a, b, c])


def test_unlisted_pv_is_removed_only_on_request_and_only_when_unused(tmp_path, disks):
    a, b, _c = disks
    write_profile(tmp_path)
    state = converged_state(a)
    state["pvs"] = [pv(a), pv(b)]
    args = params(disks, pvs=[a], size=None, remove_unlisted_pvs=True)
    _check, real = check_then_apply(builder(tmp_path, args), host(**state), [["vgreduce", "obt_vg", b]])
    assert real["actions"] == [f"remove {b} from volume group obt_vg (not listed in pvs, unused)"]

    state["pvs"] = [pv(a), pv(b, used=3 * GIB)]
    runner = FakeRunner(host(**state))
    with pytest.raises(ReconcileError, match=f"refusing to remove {b} from volume group obt_vg: "
                       r"it holds 3 GiB of logical volumes \(move them with pvmove first\)"):
        reconcile(builder(tmp_path, args)(runner), check_mode=True)


def test_device_with_data_is_refused_unless_wipe_is_set(tmp_path, disks):
    dev = disks[0]
    table = host(signatures={dev: ["ext4"]})
    with pytest.raises(ReconcileError, match=f"pvs: {dev} holds data \\(ext4 signature\\); refusing "
                       "to overwrite it"):
        reconcile(builder(tmp_path, params(disks))(FakeRunner(table)))
    mutations = [["wipefs", "--all", dev], ["pvcreate", dev],
                 ["vgcreate", "--addtag", "openblade.kvm", "obt_vg", dev]]
    args = params(disks, wipe_signatures=True, autoextend_threshold=None, autoextend_percent=None,
                  max_overcommit=None, chunk_size=None, metadata_size=None, size="2g")
    mutations.append(["lvcreate", "--yes", "--type", "thin-pool", "--size", f"{2 * GIB}b", "--addtag",
                      "openblade.kvm", "--name", "thinpool", "obt_vg"])
    _check, real = check_then_apply(builder(tmp_path, args), table, mutations)
    assert real["actions"][0] == f"wipe the ext4 signatures on {dev}"
    assert real["diff"]["after"]["pool"]["size"] == 2 * GIB  # LVM decides the metadata size
    assert real["diff"]["after"]["pool"]["metadata_size"] is None


@pytest.mark.parametrize("state, args, message", [
    (lambda d: dict(pvs=[pv(d, vg="other_vg")]), {},
     "already belongs to volume group other_vg; refusing to take it"),
    (lambda d: dict(signatures={d: []}), {"size": None},
     "size: required to create thin pool obt_vg/thinpool"),
    (lambda d: dict(pvs=[pv(d)], vgs=[vg(free=GIB)]), {"size": "2g", "metadata_size": None},
     "thin pool obt_vg/thinpool of 2 GiB does not fit: volume group obt_vg has 1 GiB free"),
    (lambda d: dict(pvs=[pv(d)], vgs=[vg()], lvs=[lv("thinpool", layout="linear")]), {},
     "pool: obt_vg/thinpool exists but is not a thin pool"),
    (lambda d: converged_state(d, chunk=512 * 1024), {},
     "chunk_size: thin pool obt_vg/thinpool has chunks of 512 KiB; LVM cannot change the chunk size"),
    (lambda d: converged_state(d, size=2 * GIB), {"size": "20g"},
     "cannot extend thin pool obt_vg/thinpool to 20 GiB: volume group obt_vg has 10 GiB free"),
])
def test_refusals_happen_in_check_mode_too(tmp_path, disks, state, args, message):
    for check_mode in (True, False):
        runner = FakeRunner(host(**state(disks[0])))
        with pytest.raises(ReconcileError, match=message.replace("(", r"\(").replace(")", r"\)")):
            reconcile(builder(tmp_path, params(disks, **args))(runner), check_mode=check_mode)
        assert not [call for call in runner.calls if call[0] not in ("pvs", "vgs", "lvs", "wipefs")]


def test_profile_that_is_not_ours_is_not_overwritten(tmp_path, disks):
    write_profile(tmp_path, "activation {\n}\n")
    with pytest.raises(ReconcileError, match="exists and is not managed by openblade.kvm"):
        reconcile(builder(tmp_path, params(disks))(FakeRunner(host(**converged_state(disks[0])))))


@pytest.mark.parametrize("args, message", [
    ({"vg": "bad/vg"}, "vg: 'bad/vg' is not a valid LVM VG name"),
    ({"pool": "pool_tmeta"}, "pool: 'pool_tmeta' is not a valid LVM LV name"),
    ({"pvs": []}, "pvs: at least one device is required"),
    ({"pvs": ["sdb"]}, "pvs: 'sdb' is not a device path"),
    ({"size": "80%PVS"}, "size: '80%PVS' is not a supported percentage (allowed here: N%VG, N%FREE)"),
    ({"size": "120%VG"}, "size: '120%VG' is not a valid percentage"),
    ({"size": "lots"}, "size: 'lots' is not a size"),
    ({"chunk_size": "100k"}, "chunk_size: '100k' is out of range (allowed: 64 KiB to 1 GiB in "
                             "multiples of 64 KiB)"),
    ({"metadata_size": "1m"}, "metadata_size: '1m' is out of range (allowed: 2 MiB to 16 GiB)"),
    ({"autoextend_threshold": 30}, "autoextend_threshold: 30 is not a valid autoextend threshold"),
    ({"autoextend_threshold": None}, "autoextend_percent: it needs autoextend_threshold too"),
    ({"max_overcommit": 0.0}, "max_overcommit: 0.0 is not a valid ratio"),
])
def test_bad_input_fails_before_any_command(tmp_path, disks, args, message):
    runner = FakeRunner({})
    with pytest.raises(ReconcileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        builder(tmp_path, params(disks, **args))(runner)
    assert runner.calls == []


def test_missing_device_is_named(tmp_path, disks):
    with pytest.raises(ReconcileError, match="pvs: /nonexistent/sdz does not exist on this host"):
        reconcile(builder(tmp_path, params(disks, pvs=["/nonexistent/sdz"]))(FakeRunner({})))


def test_profile_names_are_unambiguous():
    # vg 'a-b' pool 'c' and vg 'a' pool 'b-c' must not share a profile.
    assert profile_name("a-b", "c") != profile_name("a", "b-c")
    assert profile_name("vg_guests", "thinpool") == "openblade-kvm-vg_guests-thinpool"


def test_symlinked_device_is_compared_by_real_path_and_given_to_lvm_by_its_name(tmp_path, disks):
    link = tmp_path / "by-id-virtio-bladedata"
    link.symlink_to(disks[0])
    args = params(disks, pvs=[str(link)], autoextend_threshold=None, autoextend_percent=None,
                  max_overcommit=None, chunk_size=None, metadata_size=None)
    table = host(signatures={str(link): []})
    mutations = [["pvcreate", str(link)], ["vgcreate", "--addtag", "openblade.kvm", "obt_vg", str(link)],
                 ["lvcreate", "--yes", "--type", "thin-pool", "--extents", "80%VG", "--addtag",
                  "openblade.kvm", "--name", "thinpool", "obt_vg"]]
    _check, real = check_then_apply(builder(tmp_path, args), table, mutations)
    assert real["actions"][:2] == [f"initialise {link} ({disks[0]}) as an LVM physical volume",
                                   f"create volume group obt_vg on {link} ({disks[0]})"]
    # Once it is a PV, pvs reports the real path: that is the same device, nothing to do.
    write_profile(tmp_path)
    _check, again = check_then_apply(builder(tmp_path, args), host(**converged_state(disks[0])), [])
    assert again["actions"] == []


def test_unreadable_or_unwritable_profile_fails_readably(tmp_path, disks, monkeypatch):
    state = converged_state(disks[0], profile="")
    (tmp_path / "profile").write_text("a file where the profile directory should be")
    with pytest.raises(ReconcileError, match="cannot read LVM profile .*Not a directory"):
        reconcile(builder(tmp_path, params(disks, size=None))(FakeRunner(host(**state))), check_mode=True)
    (tmp_path / "profile").unlink()

    def refuse(*_):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ReconcileError, match="cannot write LVM profile .*openblade-kvm-obt_vg-thinpool"
                       ".profile") as caught:
        reconcile(builder(tmp_path, params(disks, size=None))(FakeRunner(host(**state))))
    assert caught.value.details["failed_action"].startswith("write LVM profile")
    assert caught.value.details["actions_done"] == []
