# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup data stream and the retention rule: the real sender and receiver programs
on files (no root, no blade), and the policy as a pure function."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import subprocess

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._backup import retention, stream
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError
from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError

MIB = 2**20


def _ends(source, target, *options):
    return (
        stream.python_argv(stream.SENDER, str(source)),
        stream.python_argv(stream.RECEIVER, str(target), *options),
    )


def _job(ranges, hashed):
    return {"ranges": ranges, "hash": hashed}


def _digest(path):
    """The block-manifest digest, computed here independently of the programs under test."""
    data = path.read_bytes()
    body = b"".join(hashlib.sha256(data[i : i + MIB]).digest() for i in range(0, len(data), MIB))
    return hashlib.sha256(f"openblade-blocks 1 {MIB} {len(data)}\n".encode() + body).hexdigest()


@pytest.fixture
def volumes(tmp_path):
    """A 12 MiB 'source' with data at 1 MiB and 9 MiB, and a zero 'target' of the same size."""
    source, target = tmp_path / "source", tmp_path / "target"
    data = bytearray(12 * MIB)
    data[MIB : MIB + 300_000] = os.urandom(300_000)
    data[9 * MIB : 9 * MIB + 5] = b"hello"
    source.write_bytes(bytes(data))
    target.write_bytes(bytes(12 * MIB))
    return source, target, bytes(data)


def _full(source, target, tmp_path, label="b1"):
    """A first backup: the allocated ranges sent, every target block checked."""
    out = tmp_path / label / "vda.blocks"
    ranges = [[MIB, 5 * MIB, "d"], [9 * MIB, 4096, "d"]]
    summary = stream.transfer(
        *_ends(source, target, stream.receiver_options(str(out))),
        _job(ranges, stream.cover([(MIB, 5 * MIB), (9 * MIB, 4096)], 12 * MIB)),
    )
    return summary, out


def test_a_full_backup_reads_the_allocated_blocks_and_checks_every_target_block(volumes, tmp_path):
    source, target, data = volumes
    summary, out = _full(source, target, tmp_path)
    assert target.read_bytes() == data
    # 5 MiB + 4 KiB of data sent; 6 whole blocks read here (1-5 and 9); all 12 read there.
    assert (summary["read"], summary["sent"], summary["hashed"], summary["written"]) == (
        6 * MIB,
        5 * MIB + 4096,
        6,
        5 * MIB + 4096,
    )
    assert (summary["target_read"], summary["checked"]) == (12 * MIB, 12)
    assert summary["target_digest"] == _digest(source) == hashlib.sha256(out.read_bytes()).hexdigest()


def test_an_incremental_reads_only_the_changed_blocks_on_both_ends(volumes, tmp_path):
    source, target, _data = volumes
    first, base = _full(source, target, tmp_path)
    changed = bytearray(source.read_bytes())
    changed[3 * MIB + 100 : 3 * MIB + 200] = os.urandom(100)
    source.write_bytes(bytes(changed))
    out = tmp_path / "b2" / "vda.blocks"
    summary = stream.transfer(
        *_ends(source, target, stream.receiver_options(str(out), str(base), first["target_digest"])),
        _job([[3 * MIB, 65536, "d"]], stream.cover([(3 * MIB, 65536)], 12 * MIB)),
    )
    assert target.read_bytes() == bytes(changed)
    read = (summary["read"], summary["sent"], summary["target_read"], summary["checked"])
    assert read == (MIB, 65536, MIB, 1)
    assert summary["target_digest"] == _digest(source)


def test_a_block_that_differs_after_apply_fails_the_receiver(volumes, tmp_path):
    source, target, _data = volumes
    target.write_bytes(bytes(11 * MIB) + b"x" + bytes(MIB - 1))  # not sent: must read as zeros
    with pytest.raises(ReconcileError, match=r"block 11 \(bytes 11534336\+1048576\) of .* differs from the"):
        _full(source, target, tmp_path)
    assert not (tmp_path / "b1" / "vda.blocks").exists()


def test_a_base_manifest_that_is_not_the_verified_one_is_refused(volumes, tmp_path):
    source, target, _data = volumes
    _summary, base = _full(source, target, tmp_path)
    options = stream.receiver_options(str(tmp_path / "b2" / "vda.blocks"), str(base), "00" * 32)
    with pytest.raises(ReconcileError, match="is not the verified one"):
        stream.transfer(*_ends(source, target, options), _job([], []))


def test_discarded_ranges_are_sent_as_zero_frames_and_zero_the_target(volumes, tmp_path):
    source, target, _data = volumes
    target.write_bytes(b"\xff" * 12 * MIB)
    summary = stream.transfer(*_ends(source, target), _job([[0, MIB, "z"]], [[0, MIB]]))
    assert target.read_bytes()[:MIB] == bytes(MIB) and target.read_bytes()[MIB : MIB + 1] == b"\xff"
    assert (summary["read"], summary["sent"], summary["zeroed"]) == (MIB, 0, MIB)


def test_a_range_outside_the_hashed_blocks_is_refused(volumes):
    source, target, _data = volumes
    with pytest.raises(ReconcileError, match="range at 9437184 is not in a hashed block"):
        stream.transfer(*_ends(source, target), _job([[9 * MIB, 4096, "d"]], [[MIB, MIB]]))


def test_scan_mode_sends_only_non_zero_pieces_and_digests_the_whole_volume(volumes):
    source, target, data = volumes
    summary = stream.transfer(*_ends(source, target), None)
    assert target.read_bytes() == data
    assert summary["read"] == 12 * MIB
    assert summary["sent"] == 5 * 65536 + 65536  # 300 000 bytes span 5 pieces; "hello" one
    assert summary["digest"] == _digest(source)


def test_device_digest_is_the_manifest_digest(volumes):
    source, _target, _data = volumes

    class Local:
        def run(self, argv):
            return subprocess.run(argv, capture_output=True, text=True, check=True)

    assert stream.device_digest(Local(), str(source)) == _digest(source)


@pytest.mark.parametrize("piece", [999, 4096, 70_001, stream.DIGEST_BLOCK, 3 * stream.DIGEST_BLOCK])
def test_a_streamed_copy_gets_the_same_digest_as_the_volume(volumes, piece):
    """Off-site copies hash what they stream, in pieces of whatever size a pipe gives."""
    source, _target, _data = volumes
    data = source.read_bytes()
    digest = stream.BlockDigest()
    for offset in range(0, len(data), piece):
        digest.update(data[offset:offset + piece])
    assert digest.hexdigest() == _digest(source)


def test_ranges_get_their_kinds_and_blocks():
    changed = [(0, 4 * MIB), (8 * MIB, 65536)]
    mapped = [(MIB, MIB), (8 * MIB, 2 * MIB)]
    assert stream.with_kinds(changed, mapped, 12 * MIB) == [
        [0, MIB, "z"],
        [MIB, MIB, "d"],
        [2 * MIB, 2 * MIB, "z"],
        [8 * MIB, 65536, "d"],
    ]
    assert stream.cover([(65536, 10), (MIB - 1, 2), (11 * MIB + 5, 1)], 11 * MIB + 100) == [
        [0, 2 * MIB],
        [11 * MIB, 100],
    ]


def test_a_stream_cut_short_fails_the_receiver(volumes):
    source, target, _data = volumes
    frames = subprocess.run(
        stream.python_argv(stream.SENDER, str(source)),
        input=json.dumps(_job([[MIB, 65536, "d"]], [[MIB, MIB]])).encode(),
        capture_output=True,
        check=True,
    ).stdout
    cut = subprocess.run(
        stream.python_argv(stream.RECEIVER, str(target)), input=frames[:-40], capture_output=True, check=False
    )
    assert cut.returncode != 0 and b"the stream ended early" in cut.stderr


def test_a_corrupted_frame_is_refused_before_it_is_written(volumes):
    source, target, _data = volumes
    frames = bytearray(
        subprocess.run(
            stream.python_argv(stream.SENDER, str(source)),
            input=json.dumps(_job([[MIB, 65536, "d"]], [[MIB, MIB]])).encode(),
            capture_output=True,
            check=True,
        ).stdout
    )
    frames[13 + 32 + 10] ^= 0xFF  # a bit of the data, after the header and the checksum
    bad = subprocess.run(
        stream.python_argv(stream.RECEIVER, str(target)),
        input=bytes(frames),
        capture_output=True,
        check=False,
    )
    assert bad.returncode != 0 and b"checksum mismatch" in bad.stderr
    assert target.read_bytes() == bytes(12 * MIB)


def test_a_failing_sender_fails_the_transfer_naming_both_ends(volumes, tmp_path):
    _source, target, _data = volumes
    with pytest.raises(ReconcileError, match=r"sender rc 1 .*receiver rc 1 .*ended early"):
        stream.transfer(*_ends(tmp_path / "missing", target), _job([], []))


def test_range_beyond_the_end_is_refused(volumes):
    source, target, _data = volumes
    with pytest.raises(ReconcileError, match="beyond the end"):
        stream.transfer(*_ends(source, target), _job([[12 * MIB, 1, "d"]], []))


def test_local_ends_die_with_the_module():
    assert stream.local(["python3", "-c", "x"])[:4] == ["setpriv", "--pdeathsig", "KILL", "--"]
    assert stream.remote(["ssh", "h", "--"], ["python3", "-c", "a b", "/dev/x"]) == [
        "ssh",
        "h",
        "--",
        "python3 -c 'a b' /dev/x",
    ]


def _day(text):
    return int(datetime.datetime.fromisoformat(text + "T03:00:00+00:00").timestamp())


def test_retention_keeps_newest_per_day_week_month_and_always_the_newest():
    points = [
        (_day(day), day)
        for day in (
            "2024-04-30",
            "2024-05-20",
            "2024-05-27",
            "2024-05-31",
            "2024-06-01",
            "2024-06-02",
            "2024-06-03",
        )
    ]
    points.append((_day("2024-06-03") + 60, "2024-06-03b"))
    assert retention.keep(points, {"daily": 2}) == {"2024-06-03b", "2024-06-02"}
    # ISO weeks: W23 starts on Monday 06-03; W22 runs 05-27..06-02; W21 holds 05-20.
    assert retention.keep(points, {"weekly": 3}) == {"2024-06-03b", "2024-06-02", "2024-05-20"}
    assert retention.keep(points, {"monthly": 3}) == {"2024-06-03b", "2024-05-31", "2024-04-30"}
    assert retention.keep(points, {"daily": 0}) == {"2024-06-03b"}
    assert retention.keep([], {"daily": 3}) == set()


@pytest.mark.parametrize(
    "policy, message",
    [
        ({"hourly": 1}, "retention: unknown key 'hourly'"),
        ({"daily": -1}, r"retention.daily: -1 is not a count"),
        ({"weekly": True}, r"retention.weekly: True is not a count"),
    ],
)
def test_retention_policy_is_validated(policy, message):
    with pytest.raises(ValidationError, match=message):
        retention.check(policy)
