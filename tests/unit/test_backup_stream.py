# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup data stream and the retention rule: the real sender and receiver programs
on files (no root, no blade), and the policy as a pure function."""

from __future__ import annotations

import datetime
import hashlib
import os
import subprocess

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._backup import retention, stream
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError
from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError

MIB = 2**20


def _ends(source, target):
    return (stream.python_argv(stream.SENDER, str(source)), stream.python_argv(stream.RECEIVER, str(target)))


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


def test_ranges_are_copied_with_checksums_and_only_they_are_read(volumes):
    source, target, data = volumes
    summary = stream.transfer(*_ends(source, target), [[MIB, 5 * MIB, "d"], [9 * MIB, 4096, "d"]])
    assert target.read_bytes() == data
    # 5 MiB is two frames (4 MiB + 1 MiB), then one for the 4 KiB range.
    assert (summary["read"], summary["sent"], summary["frames"], summary["written"]) == (
        5 * MIB + 4096,
        5 * MIB + 4096,
        3,
        5 * MIB + 4096,
    )


def test_zero_ranges_are_written_as_zeros(volumes):
    source, target, _data = volumes
    target.write_bytes(b"\xff" * 12 * MIB)
    summary = stream.transfer(*_ends(source, target), [[0, MIB, "z"]])
    assert target.read_bytes()[:MIB] == bytes(MIB) and target.read_bytes()[MIB : MIB + 1] == b"\xff"
    assert (summary["read"], summary["sent"], summary["zeroed"]) == (0, 0, MIB)


def test_scan_mode_sends_only_non_zero_blocks_and_digests_the_whole_volume(volumes):
    source, target, data = volumes
    summary = stream.transfer(*_ends(source, target), None)
    assert target.read_bytes() == data
    assert summary["read"] == 12 * MIB
    assert summary["sent"] == 5 * 65536 + 65536  # 300 000 bytes span 5 blocks; "hello" one
    assert summary["digest"] == hashlib.sha256(data).hexdigest()


def test_a_stream_cut_short_fails_the_receiver(volumes, tmp_path):
    source, target, _data = volumes
    frames = subprocess.run(
        stream.python_argv(stream.SENDER, str(source)),
        input=b'[[1048576, 65536, "d"]]',
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
            input=b'[[1048576, 65536, "d"]]',
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
        stream.transfer(*_ends(tmp_path / "missing", target), [])


def test_range_beyond_the_end_is_refused(volumes):
    source, target, _data = volumes
    with pytest.raises(ReconcileError, match="beyond the end"):
        stream.transfer(*_ends(source, target), [[12 * MIB, 1, "d"]])


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
