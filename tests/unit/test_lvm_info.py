# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvm_info: VGs, thin pools with overcommit, our volumes by kind; read only, in any mode."""

from __future__ import annotations

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.info import LvmInventory
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
    reconcile,
)
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner
from ansible_collections.openblade.kvm.tests.unit.lvm_host import (
    GIB,
    MIB,
    VG,
    host,
    lv,
    pool,
    pv,
    vg,
)

GOLDEN = ("openblade.kvm", "ob_golden", "ob_image=debian12", "ob_version=1")


def blade():
    """A guest VG with a 10 GiB pool (limit 2x) and a foreign VG with a pool of its own."""
    return host(
        pvs=[pv("/dev/vdb"), pv("/dev/vdc", vg="other")],
        vgs=[vg(), vg("other", tags="")],
        lvs=[
            pool(size=10 * GIB, data=37.5, tags=("openblade.kvm", "ob_max_overcommit=2")),
            lv("debian12-1", size=2 * GIB, tags=GOLDEN, read_only=True),
            lv("web1-root", size=8 * GIB, origin="debian12-1",
               tags=("openblade.kvm", "ob_clone", "ob_origin=debian12-1", "ob_owner=web1",
                     "ob_image=debian12", "ob_version=1")),
            # The clone's origin was removed since: only our tag remembers it.
            lv("db1-root", size=6 * GIB, tags=("openblade.kvm", "ob_clone", "ob_origin=debian11-3",
                                               "ob_owner=db1")),
            lv("web1-root-nightly", size=8 * GIB, origin="web1-root", read_only=True, active=False,
               tags=("openblade.kvm", "ob_snapshot", "ob_snapshot_of=web1-root", "ob_created=1717243200")),
            lv("scratch", size=4 * GIB, tags=("openblade.kvm",)),
            lv("someone-elses", size=GIB),  # no marker: counted in overcommit, not listed
            lv("plain", size=GIB, layout="linear", pool=""),
            # An inactive pool reports no use at all.
            dict(pool("otherpool", size=4 * GIB, data=None, tags=(), vg_name="other", active=False),
                 metadata_percent=""),
        ],
    )


def info(table, vgs=None, check_mode=False):
    runner = FakeRunner(table)
    result = reconcile(LvmInventory(runner, vgs), check_mode=check_mode)
    return result, runner


def test_pools_with_overcommit_from_the_writable_thin_volumes():
    result, _runner = info(blade())
    assert result["thin_pools"] == [
        {"vg": "obt_vg", "name": "thinpool", "size": 10 * GIB, "data_percent": 37.5,
         "metadata_percent": 10.0, "metadata_size": 16 * MIB,
         # 8 + 6 + 4 + 1 GiB writable; the golden image and the snapshot are read-only.
         "virtual_size": 19 * GIB, "overcommit": 1.9, "max_overcommit": 2.0, "managed": True},
        {"vg": "other", "name": "otherpool", "size": 4 * GIB, "data_percent": None,
         "metadata_percent": None, "metadata_size": 16 * MIB, "virtual_size": 0, "overcommit": 0.0,
         "max_overcommit": None, "managed": False},
    ]
    assert result["vgs"] == [
        {"name": "obt_vg", "size": 20 * GIB, "free": 10 * GIB, "managed": True},
        {"name": "other", "size": 20 * GIB, "free": 10 * GIB, "managed": False},
    ]


def test_our_volumes_by_kind_with_owner_and_origin():
    result, _runner = info(blade())
    volumes = {v["name"]: v for v in result["volumes"]}
    assert sorted(volumes) == ["db1-root", "debian12-1", "scratch", "web1-root", "web1-root-nightly"]
    assert volumes["debian12-1"] == {
        "vg": VG, "name": "debian12-1", "pool": "thinpool", "size": 2 * GIB, "kind": "golden",
        "owner": None, "origin": None, "image": "debian12", "version": "1", "read_only": True,
        "active": True}
    assert {name: (v["kind"], v["owner"], v["origin"]) for name, v in volumes.items()} == {
        "debian12-1": ("golden", None, None),
        "web1-root": ("clone", "web1", "debian12-1"),
        "db1-root": ("clone", "db1", "debian11-3"),
        "web1-root-nightly": ("snapshot", None, "web1-root"),
        "scratch": ("volume", None, None),
    }
    assert volumes["web1-root-nightly"]["active"] is False


def test_only_the_listed_vgs_and_a_warning_for_one_that_does_not_exist():
    result, runner = info(blade(), vgs=["other", "typo_vg"])
    assert [v["name"] for v in result["vgs"]] == ["other"]
    assert [p["name"] for p in result["thin_pools"]] == ["otherpool"]
    assert result["volumes"] == []
    assert result["warnings"] == ["volume group typo_vg does not exist on this host"]
    assert ("lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o") == runner.calls[-1][:7]
    assert runner.calls[-1][-1] == "other"  # obt_vg was never read


@pytest.mark.parametrize("check_mode", [True, False])
def test_reads_only_and_never_changes_in_either_mode(check_mode):
    result, runner = info(blade(), check_mode=check_mode)
    assert (result["changed"], result["actions"]) == (False, [])
    assert {call[0] for call in runner.calls} == {"vgs", "lvs"}


def test_lvm2_without_volume_groups_gives_empty_lists():
    result, runner = info(host())
    assert (result["vgs"], result["thin_pools"], result["volumes"]) == ([], [], [])
    assert [call[0] for call in runner.calls] == ["vgs"]


def test_a_host_without_lvm2_fails_saying_so_before_running_anything():
    runner = FakeRunner(host(), binaries=())
    with pytest.raises(ReconcileError, match=r"lvm2 is not installed on this host \(no `vgs` on PATH\)"):
        reconcile(LvmInventory(runner))
    assert runner.calls == []
