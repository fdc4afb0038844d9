# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_lvm/thinmap.py against outputs recorded on a lab blade (Debian 12, Linux 6.1,
thin-provisioning-tools 0.9.0, LVM 2.03.16).

The recording: in a pool of 64 KiB chunks, thin volume ``a`` (64 MiB, thin id 1) got 64 KiB
blocks 0-2 and 10 and MiB 20-21 written; then snapshot ``snap`` (thin id 2); then block 1
rewritten, blocks 40-41 written and MiB 20 discarded in ``a``.  Reading both devices back
on the blade, the non-zero blocks of ``a`` were exactly 0-2, 10, 40-41 and 336-351, and the
blocks where ``a`` and ``snap`` differ exactly 1, 40-41 and 320-335: the ranges below.
"""

# ruff: noqa: E501 - the recorded tool output is kept byte for byte

from __future__ import annotations

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands, thinmap
from ansible_collections.openblade.kvm.plugins.module_utils._runner import CommandError
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner

K64 = 65536
MIB = 2**20
TPOOL = "tm_vg-pool-tpool"
TMETA = "/dev/mapper/tm_vg-pool_tmeta"

DUMP_A = """<superblock uuid="" time="1" transaction="2" flags="0" version="2" data_block_size="128" nr_data_blocks="0">
  <device dev_id="1" mapped_blocks="22" transaction="0" creation_time="0" snap_time="1">
    <single_mapping origin_block="0" data_block="0" time="0"/>
    <single_mapping origin_block="1" data_block="36" time="1"/>
    <single_mapping origin_block="2" data_block="2" time="0"/>
    <single_mapping origin_block="10" data_block="3" time="0"/>
    <range_mapping origin_begin="40" data_begin="37" length="2" time="1"/>
    <range_mapping origin_begin="336" data_begin="20" length="16" time="0"/>
  </device>
</superblock>
"""
DUMP_SNAP = """<superblock uuid="" time="1" transaction="2" flags="0" version="2" data_block_size="128" nr_data_blocks="0">
  <device dev_id="2" mapped_blocks="36" transaction="1" creation_time="1" snap_time="1">
    <range_mapping origin_begin="0" data_begin="0" length="3" time="0"/>
    <single_mapping origin_block="10" data_block="3" time="0"/>
    <range_mapping origin_begin="320" data_begin="4" length="32" time="0"/>
  </device>
</superblock>
"""
DELTA = """<superblock uuid="" time="1" transaction="2" data_block_size="128" nr_data_blocks="0">
  <diff left="2" right="1">
    <same begin="0" length="1"/>
    <different begin="1" length="1"/>
    <same begin="2" length="1"/>
    <same begin="10" length="1"/>
    <right_only begin="40" length="2"/>
    <left_only begin="320" length="16"/>
    <same begin="336" length="16"/>
  </diff>
</superblock>
"""
# A second pool of 256 KiB chunks (data_block_size 512 sectors): 4 KiB written at 4 KiB
# blocks 281 and 2047 of an 8 MiB volume provisions chunks 4 and 31.
DUMP_B = """<superblock uuid="" time="0" transaction="1" flags="0" version="2" data_block_size="512" nr_data_blocks="0">
  <device dev_id="1" mapped_blocks="2" transaction="0" creation_time="0" snap_time="0">
    <single_mapping origin_block="4" data_block="0" time="0"/>
    <single_mapping origin_block="31" data_block="1" time="0"/>
  </device>
</superblock>
"""
STATUS_FREE = "0 2097152 thin-pool 2 114/1024 39/16384 - rw discard_passdown queue_if_no_space - 256 \n"
STATUS_HELD = "0 2097152 thin-pool 2 115/1024 39/16384 48 rw discard_passdown queue_if_no_space - 256 \n"
LVS = {"report": [{"lv": [
    {"lv_name": "a", "vg_name": "tm_vg", "pool_lv": "pool", "thin_id": "1", "lv_size": "67108864"},
    {"lv_name": "b", "vg_name": "tm_vg", "pool_lv": "p2", "thin_id": "1", "lv_size": "8388608"},
    {"lv_name": "p2", "vg_name": "tm_vg", "pool_lv": "", "thin_id": "", "lv_size": "268435456"},
    {"lv_name": "pool", "vg_name": "tm_vg", "pool_lv": "", "thin_id": "", "lv_size": "1073741824"},
    {"lv_name": "snap", "vg_name": "tm_vg", "pool_lv": "pool", "thin_id": "2", "lv_size": "67108864"},
]}]}

STATUS = ("dmsetup", "status", TPOOL)
RESERVE = ("dmsetup", "message", TPOOL, "0", "reserve_metadata_snap")
RELEASE = ("dmsetup", "message", TPOOL, "0", "release_metadata_snap")
THIN_LVS = tuple(commands.thin_lvs("tm_vg"))


def table(status=STATUS_FREE, dump_a=(0, DUMP_A, "")):
    return {
        STATUS: (0, status, ""),
        RESERVE: (0, "", ""),
        RELEASE: (0, "", ""),
        THIN_LVS: (0, LVS, ""),
        ("thin_dump", "--metadata-snap", "--dev-id", "1", TMETA): dump_a,
        ("thin_dump", "--metadata-snap", "--dev-id", "2", TMETA): (0, DUMP_SNAP, ""),
        ("thin_delta", "--metadata-snap", "--snap1", "2", "--snap2", "1", TMETA): (0, DELTA, ""),
        ("dmsetup", "status", "tm_vg-p2-tpool"): (0, STATUS_FREE, ""),
        ("dmsetup", "message", "tm_vg-p2-tpool", "0", "reserve_metadata_snap"): (0, "", ""),
        ("dmsetup", "message", "tm_vg-p2-tpool", "0", "release_metadata_snap"): (0, "", ""),
        ("thin_dump", "--metadata-snap", "--dev-id", "1", "/dev/mapper/tm_vg-p2_tmeta"): (0, DUMP_B, ""),
    }


def test_argv_of_every_command():
    assert commands.thin_lvs("tm_vg") == [
        "lvs", "--reportformat", "json", "--units", "b", "--nosuffix",
        "-o", "lv_name,vg_name,pool_lv,thin_id,lv_size", "tm_vg"]
    assert thinmap.pool_device("my-vg", "po-ol") == "my--vg-po--ol-tpool"
    assert thinmap.metadata_device("my-vg", "po-ol") == "/dev/mapper/my--vg-po--ol_tmeta"


def test_mapped_ranges_are_the_blocks_that_hold_data(tmp_path):
    runner = FakeRunner(table())
    assert thinmap.volume_ranges(runner, "tm_vg", "pool", "a", lock_dir=str(tmp_path)) == ([
        (0, 3 * K64), (10 * K64, K64), (40 * K64, 2 * K64), (336 * K64, MIB)], None)
    assert runner.calls[:2] == [STATUS, RESERVE] and runner.calls[-1] == RELEASE
    # The VG's lock, the one every LVM resource of the collection takes.
    assert (tmp_path / "lvm-tm_vg.lock").exists()


def test_units_follow_the_pools_data_block_size(tmp_path):
    runner = FakeRunner(table())
    assert thinmap.volume_ranges(runner, "tm_vg", "p2", "b", lock_dir=str(tmp_path))[0] == [
        (4 * 4 * K64, 4 * K64), (31 * 4 * K64, 4 * K64)]


def test_changed_ranges_leave_out_same_and_merge_nothing_across_gaps(tmp_path):
    runner = FakeRunner(table())
    mapped, changed = thinmap.volume_ranges(runner, "tm_vg", "pool", "a", since="snap", lock_dir=str(tmp_path))
    assert changed == [(K64, K64), (40 * K64, 2 * K64), (20 * MIB, MIB)]
    assert mapped == [(0, 3 * K64), (10 * K64, K64), (40 * K64, 2 * K64), (336 * K64, MIB)]
    # Both from one metadata snapshot, and the thin ids from one lvs.
    assert [runner.calls.count(call) for call in (RESERVE, RELEASE, THIN_LVS)] == [1, 1, 1]
    kinds = [kind for kind, _span in thinmap.parse_delta(DELTA)]
    assert kinds == ["same", "different", "same", "same", "right_only", "left_only", "same"]


def test_one_snapshot_serves_several_reads_and_is_released_once(tmp_path):
    runner = FakeRunner(table())
    with thinmap.metadata_snapshot(runner, "tm_vg", "pool", lock_dir=str(tmp_path)) as snap:
        assert snap.stale is False
        assert snap.mapped("snap") == [(0, 3 * K64), (10 * K64, K64), (20 * MIB, 2 * MIB)]
        snap.mapped("a")
    assert runner.calls.count(RESERVE) == 1 and runner.calls.count(RELEASE) == 1
    assert runner.calls.count(THIN_LVS) == 1


def test_snapshot_is_released_when_a_read_fails(tmp_path):
    runner = FakeRunner(table(dump_a=(1, "", "bad checksum in metadata index block")))
    with pytest.raises(CommandError, match="bad checksum"):
        thinmap.volume_ranges(runner, "tm_vg", "pool", "a", lock_dir=str(tmp_path))
    assert runner.calls[-1] == RELEASE


def test_snapshot_is_released_when_the_callers_block_raises(tmp_path):
    runner = FakeRunner(table())
    with pytest.raises(RuntimeError):
        with thinmap.metadata_snapshot(runner, "tm_vg", "pool", lock_dir=str(tmp_path)):
            raise RuntimeError("the caller failed")
    assert runner.calls == [STATUS, RESERVE, RELEASE]


def test_a_stale_snapshot_is_detected_and_released_before_reserving(tmp_path):
    runner = FakeRunner(table(status=STATUS_HELD))
    assert thinmap.held_metadata_snap(runner, "tm_vg", "pool") == "48"
    runner.calls.clear()
    with thinmap.metadata_snapshot(runner, "tm_vg", "pool", lock_dir=str(tmp_path)) as snap:
        assert snap.stale is True
    assert runner.calls == [STATUS, RELEASE, RESERVE, RELEASE]
    free = FakeRunner(table())
    assert thinmap.release_stale(free, "tm_vg", "pool") is False and free.calls == [STATUS]


def test_refusals_name_the_volume_and_the_pool(tmp_path):
    runner = FakeRunner(table())
    with pytest.raises(thinmap.ThinMapError, match="tm_vg/b is in thin pool p2, not pool"):
        thinmap.volume_ranges(runner, "tm_vg", "pool", "b", lock_dir=str(tmp_path))
    with pytest.raises(thinmap.ThinMapError, match="tm_vg/p2 is not a thin volume"):
        thinmap.volume_ranges(runner, "tm_vg", "pool", "p2", lock_dir=str(tmp_path))
    assert runner.calls.count(RESERVE) == runner.calls.count(RELEASE) == 2
    failed = FakeRunner({STATUS: (0, "0 2097152 thin-pool Fail\n", "")})
    with pytest.raises(thinmap.ThinMapError, match="reports no usable status"):
        thinmap.held_metadata_snap(failed, "tm_vg", "pool")


def test_parsers_refuse_what_they_cannot_read():
    with pytest.raises(thinmap.ThinMapError, match="thin id 7 is not in the pool's metadata snapshot"):
        thinmap.parse_dump(DUMP_A, 7)
    with pytest.raises(thinmap.ThinMapError, match="cannot read"):
        thinmap.parse_dump("<superblock", 1)
    with pytest.raises(thinmap.ThinMapError, match="data_block_size"):
        thinmap.parse_delta("<superblock><diff/></superblock>")


def test_range_helpers():
    assert thinmap.coalesce([(10, 5), (0, 10), (20, 1), (12, 2)]) == [(0, 15), (20, 1)]
    assert thinmap.clip([(0, 10), (60, 10), (80, 5)], 64) == [(0, 10), (60, 4)]
    assert thinmap.unmapped([(0, 10), (20, 5)], 30) == [(10, 10), (25, 5)]
    assert thinmap.unmapped([], 30) == [(0, 30)] and thinmap.unmapped([(0, 30)], 30) == []
