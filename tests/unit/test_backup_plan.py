# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""guest_backup and guest_restore decisions, with argv-table runners for both blades, a
stand-in hypervisor, and the data path and pool metadata replaced (the lab tier runs them
for real: tests/integration/lab/test_backup.py)."""

# ruff: noqa: E501 - the domain XML and the actions' texts read best one line each

from __future__ import annotations

import json
import shlex

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._backup import backup as backup_mod
from ansible_collections.openblade.kvm.plugins.module_utils._backup import names, stream, target
from ansible_collections.openblade.kvm.plugins.module_utils._backup.backup import Backup
from ansible_collections.openblade.kvm.plugins.module_utils._backup.restore import Restore
from ansible_collections.openblade.kvm.plugins.module_utils._backup.target import BackupSsh
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError, reconcile
from ansible_collections.openblade.kvm.plugins.module_utils._runner import CommandResult
from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner
from ansible_collections.openblade.kvm.tests.unit.lvm_host import GIB, VG, host, lv, pool, vg

UUID = "7d6a3f5e-1c2b-5d4e-9f00-0b1adeb00001"
DIGEST = "ab" * 32
CLOCK = 1717210800  # the time of every run
MUTATING = ("lvcreate", "lvchange", "lvremove", "python3", "blkdiscard", "rm")
AGENT = (
    "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0' state='connected'/></channel>"
)


def domain_xml(agent=False):
    return f"""<domain type='qemu'><name>web1</name><uuid>{UUID}</uuid>
<metadata><openblade:guest xmlns:openblade="urn:openblade:kvm:guest:1"><openblade:cluster>lab</openblade:cluster>
</openblade:guest></metadata><memory unit='MiB'>128</memory><vcpu>1</vcpu><os><type>hvm</type></os>
<devices><disk type='block' device='disk'><source dev='/dev/{VG}/web1-root'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='cdrom'><source file='/nonexistent/web1-cidata.iso'/><target dev='sda' bus='sata'/><readonly/></disk>
{AGENT if agent else ""}</devices></domain>"""


class Dom:
    def __init__(self, frozen):
        self.frozen = frozen

    def name(self):
        return "web1"

    def agentSetResponseTimeout(self, timeout, flags):  # noqa: N802 - libvirt's name
        self.frozen.append(("timeout", timeout))

    def fsFreeze(self, mountpoints, flags):  # noqa: N802
        self.frozen.append("freeze")
        return 2

    def fsThaw(self, mountpoints, flags):  # noqa: N802
        self.frozen.append("thaw")
        return 2


class Hv:
    """The few Hypervisor calls a backup makes, for one guest."""

    uri = "test:///default"

    def __init__(self, state="running", agent=False, defined=True):
        self.events = []
        self.dom = Dom(self.events) if defined else None
        self._state, self.agent = state, agent

    def lookup(self, name):
        return self.dom

    def inactive_xml(self, dom):
        return domain_xml()

    def live_xml(self, dom):
        return domain_xml(self.agent)

    def state(self, dom):
        return self._state

    def suspend(self, dom):
        self.events.append("suspend")

    def resume(self, dom):
        self.events.append("resume")


class Blade(FakeRunner):
    """A FakeRunner whose changing commands all succeed (and are recorded)."""

    host = "10.81.0.2"

    def _execute(self, argv, data):
        if argv[0] in MUTATING and tuple(argv) not in self.table:
            self.calls.append(tuple(argv))
            self.inputs.append(data)
            return CommandResult(0, "", "")
        return super()._execute(argv, data)

    def changes(self):
        """The commands that change something (a digest only reads)."""
        return [call for call in self.calls if call[0] in MUTATING and call[2:3] != (stream.DIGEST,)]


def source_blade(extra_lvs=(), origin=""):
    lvs = [pool(), lv("web1-root", size=GIB, origin=origin), *extra_lvs]
    return Blade(host(vgs=[vg()], lvs=lvs))


def target_blade(points=(), listing="", extra_lvs=(), manifests=True):
    lvs = (
        [pool()]
        + [
            lv(
                names.point("web1", "vda", label),
                size=GIB,
                read_only=True,
                active=False,
                tags=(
                    "openblade.kvm",
                    names.POINT,
                    "ob_backup_of=web1-root",
                    f"ob_backup_label={label}",
                    f"ob_backup_guest={UUID}",
                    f"ob_created={stamp}",
                    f"ob_sha256={DIGEST}",
                ),
            )
            for label, stamp in points
        ]
        + list(extra_lvs)
    )
    table = host(vgs=[vg()], lvs=lvs)
    # ``listing``: the guest's directory, one entry a line; with ``manifests``, each point's
    # directory also holds its block manifest (without: made before there were any).
    found = [f"d {entry}" for entry in listing.split()]
    found += [f"f {label}/vda.blocks" for label, _stamp in points if manifests and label in listing.split()]
    table[tuple(target.listing_argv("/var/lib/openblade/backups/web1"))] = (0, "".join(f"{line}\n" for line in found), "")
    return Blade(table)


def base(label, stamp):
    return lv(
        f"web1-root-bk-{label}",
        size=GIB,
        origin="web1-root",
        read_only=True,
        active=False,
        tags=(
            "openblade.kvm",
            names.BACKUP,
            names.BASE,
            "ob_backup_of=web1-root",
            f"ob_backup_label={label}",
            f"ob_backup_guest={UUID}",
            f"ob_created={stamp}",
            f"ob_sha256={DIGEST}",
        ),
    )


def params(**extra):
    return dict(
        {
            "name": "web1",
            "label": "b2",
            "target": "10.81.0.2",
            "ssh_user": "root",
            "ssh_port": None,
            "ssh_identity": None,
            "target_vg": None,
            "target_pool": None,
            "quiesce": "try",
            "quiesce_timeout": 10,
            "retention": None,
            "backup_dir": "/var/lib/openblade/backups",
            "seed_dir": "/var/lib/libvirt/boot",
            "ledger_dir": None,
            "uri": "qemu:///system",
        },
        **extra,
    )


class Sends:
    """Stands in for the data path: records what was sent, reports a summary as the
    programs would (blocks hashed here; checked there: those, or all without a base)."""

    def __init__(self, differs=False):
        self.sent = []
        self.differs = differs

    def transfer(self, sender, receiver, job):
        self.sent.append((sender, receiver, job))
        if self.differs:
            raise ReconcileError("the data transfer failed: sender rc 0, receiver rc 1 (block 3 (bytes "
                                 "3145728+1048576) of /dev/x differs from the source after apply)")
        hashed = sum(length // 2**20 for _offset, length in job["hash"])
        options = json.loads(shlex.split(receiver[-1])[-1])
        checked = hashed if options["base"] else GIB // 2**20
        return {
            "read": hashed * 2**20,
            "sent": sum(length for _offset, length, kind in job["ranges"] if kind == "d"),
            "hashed": hashed,
            "frames": 2,
            "chain": "c",
            "digest": None,
            "written": 3 * 2**20 + 65536,
            "zeroed": sum(length for _offset, length, kind in job["ranges"] if kind == "z"),
            "target_read": checked * 2**20,
            "checked": checked,
            "target_digest": DIGEST,
        }


class Ranges(Sends):
    """Also stands in for thinmap (pool metadata); records what was asked."""

    def __init__(self, monkeypatch):
        super().__init__()
        self.asked = []
        monkeypatch.setattr(backup_mod.thinmap, "volume_ranges", self._volume_ranges)

    answers = {}  # per kind of question; else this

    def _volume_ranges(self, runner, vg_, pool_, name, since=None, lock_dir=None):
        mapped = self._ask("mapped", name)
        return mapped, (self._ask("changed", since, name) if since else None)

    def _ask(self, *what):
        self.asked.append(what)
        return self.answers.get(what[0], [(0, 65536), (2**20, 3 * 2**20)])


def backup(hv, src, dest, transfer, lock_dir, check_mode=False, **extra):
    """The Backup a guest_backup run builds, at CLOCK, sending through ``transfer``."""
    return Backup(
        hv,
        src,
        dest,
        params(**extra),
        check_mode=check_mode,
        clock=lambda: CLOCK,
        transfer=transfer,
        lock_dir=lock_dir,
    )


def run(hv, src, dest, ranges, check, **extra):
    resource = backup(hv, src, dest, ranges.transfer, str(pytest.lock_dir), check, **extra)
    return reconcile(resource, check_mode=check)


@pytest.fixture(autouse=True)
def lock_dir(tmp_path):
    pytest.lock_dir = tmp_path


def both(monkeypatch, make, **extra):
    """Check mode, then the real run on fresh blades: same actions; check mode changes nothing."""
    hv, src, dest = make()
    ranges = Ranges(monkeypatch)
    checked = run(hv, src, dest, ranges, True, **extra)
    assert (src.changes(), dest.changes(), ranges.sent) == ([], [], [])
    hv, src, dest = make()
    real = run(hv, src, dest, ranges, False, **extra)
    assert (checked["changed"], checked["actions"]) == (real["changed"], real["actions"])
    return checked, real, hv, src, dest, ranges


def test_first_backup_sends_the_allocated_ranges_to_a_new_volume_and_commits_last(monkeypatch):
    checked, real, hv, src, dest, ranges = both(
        monkeypatch, lambda: (Hv(), source_blade(), target_blade()), label="b1"
    )
    assert checked["disks"]["vda"]["estimated_bytes"] == 3 * 2**20 + 65536
    assert real["actions"] == [
        f"take read-only snapshots {VG}/web1-root-bk-b1 of guest web1 (quiesce: try)",
        f"send the allocated ranges (no base) of {VG}/web1-root to {VG}/bk-web1-vda-b1 on 10.81.0.2 and compare "
        "the sha256 of each block read here with the copy's after apply",
        "write the definition of web1 (domain XML, seed, address ledger entries, manifest) to "
        "/var/lib/openblade/backups/web1/b1 on 10.81.0.2",
        f"mark {VG}/bk-web1-vda-b1 on 10.81.0.2 verified; make {VG}/web1-root-bk-b1 the base of the next backup",
    ]
    assert "no connected QEMU guest agent" in real["warnings"][0]
    assert ranges.asked[-1] == ("mapped", "web1-root-bk-b1")
    # Every allocated MiB block is hashed here; there, every block is compared (no base).
    assert ranges.sent[0][2] == {"ranges": [[0, 65536, "d"], [2**20, 3 * 2**20, "d"]], "hash": [[0, 4 * 2**20]]}
    assert json.loads(shlex.split(ranges.sent[0][1][-1])[-1]) == {
        "base": None,
        "base_digest": None,
        "out": "/var/lib/openblade/backups/web1/b1.partial/vda.blocks",
    }
    vda = real["disks"]["vda"]
    assert (vda["bytes_read"], vda["bytes_sent"], vda["bytes_read_target"], vda["verified"]) == (
        4 * 2**20,
        3 * 2**20 + 65536,
        GIB,
        "every block",
    )
    snap = src.changes()[0]
    assert snap[:2] == ("lvcreate", "--yes") and "ob_backup_pending" in snap and snap[-1] == f"{VG}/web1-root"
    point = dest.changes()[0]
    assert "--virtualsize" in point and names.INCOMPLETE in point
    # The point is put away and made good, then the source snapshot the base: the last
    # changes of the run, each the last command on its blade (deactivated before: no reload).
    assert dest.changes()[-2] == ("lvchange", "--activate", "n", f"{VG}/bk-web1-vda-b1")
    assert dest.changes()[-1][:6] == (
        "lvchange",
        "--deltag",
        names.INCOMPLETE,
        "--addtag",
        names.POINT,
        "--addtag",
    )
    assert src.changes()[-1][:4] == ("lvchange", "--deltag", names.PENDING, "--addtag")
    assert real["disks"]["vda"]["sha256"] == DIGEST and real["backups"] == ["b1"]
    # Each step is timed where it ran; check mode only observed.
    assert list(real["seconds"]) == [
        "observe", "snapshot", "vda ranges", "vda point", "vda transfer", "definition", "vda commit"
    ]
    assert all(seconds >= 0 for seconds in real["seconds"].values())
    assert list(checked["seconds"]) == ["observe"]


def test_incremental_counts_from_the_base_and_removes_it_after_the_commit(monkeypatch):
    # Changed since b1: 3 MiB written, and 1 MiB at 8 MiB the guest discarded.
    monkeypatch.setattr(Ranges, "answers", {"changed": [(2**20, 3 * 2**20), (8 * 2**20, 2**20)]})
    checked, real, _hv, src, dest, ranges = both(
        monkeypatch, lambda: (Hv(), source_blade([base("b1", 100)]), target_blade([("b1", 100)], "b1\n"))
    )
    assert checked["disks"]["vda"]["estimated_bytes"] == 3 * 2**20
    assert real["disks"]["vda"]["base"] == "b1"
    assert ranges.asked[-2:] == [("mapped", "web1-root-bk-b2"), ("changed", "web1-root-bk-b1", "web1-root-bk-b2")]
    # Only the changed blocks are hashed (the rest is the base's); the discarded MiB is a 'z'.
    assert ranges.sent[-1][2] == {
        "ranges": [[2**20, 3 * 2**20, "d"], [8 * 2**20, 2**20, "z"]],
        "hash": [[2**20, 3 * 2**20], [8 * 2**20, 2**20]],
    }
    assert json.loads(shlex.split(ranges.sent[-1][1][-1])[-1]) == {
        "base": "/var/lib/openblade/backups/web1/b1/vda.blocks",
        "base_digest": DIGEST,
        "out": "/var/lib/openblade/backups/web1/b2.partial/vda.blocks",
    }
    assert (real["bytes_read"], real["bytes_sent"], real["bytes_read_target"]) == (4 * 2**20, 3 * 2**20, 4 * 2**20)
    assert (real["disks"]["vda"]["bytes_discarded"], real["disks"]["vda"]["verified"]) == (2**20, "changed blocks")
    assert dest.changes()[0][:3] == ("lvcreate", "--yes", "--snapshot") and dest.changes()[0][-1] == (
        f"{VG}/bk-web1-vda-b1"
    )
    assert src.changes()[-1] == ("lvremove", "--yes", f"{VG}/web1-root-bk-b1")
    assert real["backups"] == ["b1", "b2"]


def test_a_base_point_without_a_block_manifest_is_hashed_whole(monkeypatch):
    _checked, real, _hv, _src, _dest, ranges = both(
        monkeypatch,
        lambda: (Hv(), source_blade([base("b1", 100)]), target_blade([("b1", 100)], "b1\n", manifests=False)),
    )
    assert real["disks"]["vda"]["base"] == "b1" and real["disks"]["vda"]["verified"] == "every block"
    assert ranges.sent[-1][2]["hash"] == [[0, 4 * 2**20]]  # every allocated block
    assert json.loads(shlex.split(ranges.sent[-1][1][-1])[-1])["base"] is None


def test_a_base_whose_point_is_gone_is_not_used(monkeypatch):
    _checked, real, _hv, src, _dest, ranges = both(
        monkeypatch, lambda: (Hv(), source_blade([base("b1", 100)]), target_blade())
    )
    assert real["disks"]["vda"]["base"] is None and ranges.asked[-1] == ("mapped", "web1-root-bk-b2")
    assert src.changes()[-1] == ("lvremove", "--yes", f"{VG}/web1-root-bk-b1")


def test_first_backup_of_a_clone_counts_from_the_same_golden_image_there(monkeypatch):
    golden = lv(
        "debian12-1", size=GIB, read_only=True, tags=("openblade.kvm", "ob_golden", "ob_sha256=" + "cd" * 32)
    )
    _checked, real, _hv, _src, dest, ranges = both(
        monkeypatch,
        lambda: (Hv(), source_blade([golden], origin="debian12-1"), target_blade(extra_lvs=[golden])),
    )
    assert real["disks"]["vda"]["golden"] == "debian12-1"
    assert ranges.asked[-1] == ("changed", "debian12-1", "web1-root-bk-b2")
    assert dest.changes()[0][-1] == f"{VG}/debian12-1"


def test_the_same_label_again_changes_nothing(monkeypatch):
    checked, real, *_rest = both(
        monkeypatch, lambda: (Hv(), source_blade([base("b2", 100)]), target_blade([("b2", 100)], "b2\n"))
    )
    assert (real["changed"], real["actions"], real["backups"]) == (False, [], ["b2"])


def test_leftovers_of_an_interrupted_run_are_removed_first(monkeypatch):
    pending = lv(
        "web1-root-bk-b2",
        size=GIB,
        read_only=True,
        tags=(
            "openblade.kvm",
            names.BACKUP,
            names.PENDING,
            "ob_backup_of=web1-root",
            "ob_backup_label=b2",
            f"ob_backup_guest={UUID}",
            "ob_created=5",
        ),
    )
    incomplete = lv(
        "bk-web1-vda-b2",
        size=GIB,
        tags=("openblade.kvm", names.INCOMPLETE, "ob_backup_of=web1-root", f"ob_backup_guest={UUID}"),
    )
    _checked, real, *_rest = both(
        monkeypatch,
        lambda: (
            Hv(),
            source_blade([base("b1", 1), pending]),
            target_blade([("b1", 1)], "b1\nb2.partial\n", [incomplete]),
        ),
    )
    assert real["actions"][:3] == [
        f"remove {VG}/web1-root-bk-b2, left pending by an interrupted backup",
        f"remove {VG}/bk-web1-vda-b2 on 10.81.0.2, left incomplete by an interrupted backup",
        "remove /var/lib/openblade/backups/web1/b2.partial on 10.81.0.2, left by an interrupted backup",
    ]


def test_a_digest_mismatch_fails_before_anything_is_marked_good(monkeypatch):
    hv, src, dest = Hv(), source_blade([base("b1", 1)]), target_blade([("b1", 1)], "b1\n")
    ranges = Ranges(monkeypatch)
    ranges.differs = True
    with pytest.raises(ReconcileError, match="differs from the source after apply") as failure:
        run(hv, src, dest, ranges, False)
    assert failure.value.details["failed_action"].startswith("send the ranges changed since backup b1")
    assert not [call for call in src.changes() + dest.changes() if names.BASE in call or names.POINT in call]


@pytest.mark.parametrize("check", [True, False])
def test_quiesce_required_without_an_agent_fails_before_any_snapshot(monkeypatch, check):
    hv, src, dest = Hv(), source_blade(), target_blade()
    with pytest.raises(
        ReconcileError, match="quiesce: required, but guest web1 has no connected QEMU guest agent"
    ):
        run(hv, src, dest, Ranges(monkeypatch), check, quiesce="required")
    assert src.changes() == [] and dest.changes() == []


def test_an_agent_freezes_for_the_snapshot_and_always_thaws(monkeypatch):
    _checked, real, hv, *_rest = both(
        monkeypatch, lambda: (Hv(agent=True), source_blade(), target_blade()), quiesce="required"
    )
    assert hv.events == [("timeout", 10), "freeze", "thaw"]
    assert real["consistency"] == "application-consistent (2 filesystem(s) frozen)"


def test_a_shut_off_guest_needs_no_agent(monkeypatch):
    _checked, real, hv, *_rest = both(
        monkeypatch, lambda: (Hv(state="stopped"), source_blade(), target_blade()), quiesce="required"
    )
    assert hv.events == [] and real["consistency"] == "shut off"


def test_retention_prunes_points_and_definitions_beyond_the_policy(monkeypatch):
    day = 86400
    _checked, real, *_rest = both(
        monkeypatch,
        lambda: (
            Hv(),
            source_blade([base("b1", 1717210800 - day)]),
            target_blade([("b0", 1717210800 - 2 * day), ("b1", 1717210800 - day)], "b0\nb1\n"),
        ),
        retention={"daily": 2},
    )
    assert (real["pruned"], real["kept"]) == (["b0"], ["b1", "b2"])
    assert real["actions"][-2:] == [
        f"remove backup point {VG}/bk-web1-vda-b0 on 10.81.0.2 (beyond the retention)",
        "remove /var/lib/openblade/backups/web1/b0 on 10.81.0.2 (beyond the retention)",
    ]
    assert real["backups"] == ["b0", "b1", "b2"][1:]


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"label": "a b"}, "label: 'a b' is not a valid backup label"),
        ({"retention": {"yearly": 1}}, "retention: unknown key 'yearly'"),
        ({"quiesce": "maybe"}, "quiesce"),
        ({"target_vg": "bad/vg"}, "target_vg"),
        ({"quiesce_timeout": 0}, "quiesce_timeout: 0 must be at least 1 second"),
    ],
)
def test_bad_input_fails_before_any_command(extra, message):
    src, dest = source_blade(), target_blade()
    with pytest.raises((ValidationError, ReconcileError), match=message):
        Backup(Hv(), src, dest, params(**extra))
    assert src.calls == [] and dest.calls == []


# --- restore -------------------------------------------------------------------------------------

MANIFEST = (
    '{"created": 5, "disks": {"vda": {"point": "obt_vg/bk-web1-vda-b1", "pool": "thinpool", '
    f'"sha256": "{DIGEST}", "size": {GIB}, "volume": "obt_vg/web1-root"}}}}}}'
)


def digest_argv(path):
    return tuple(stream.python_argv(stream.DIGEST, path))


def restore_blades(extra_lvs=(), point_tags=("openblade.kvm", "ob_backup_point")):
    src = Blade(host(vgs=[vg()], lvs=[pool(), lv("web1-root", size=GIB), *extra_lvs]))
    src.table[digest_argv(f"/dev/{VG}/web1-root-restored-b1")] = (0, f"{DIGEST}\n", "")
    src.table[digest_argv(f"/dev/{VG}/web1-root")] = (0, f"{'00' * 32}\n", "")
    # The backup blade: the point of b1, verified unless point_tags say otherwise.
    store = Blade(host(vgs=[vg()], lvs=[pool(), lv("bk-web1-vda-b1", size=GIB, tags=point_tags)]))
    store.table.update(
        {
            tuple(target.listing_argv("/var/lib/openblade/backups/web1")): (0, "d b1\nf b1/vda.blocks\n", ""),
            ("cat", "/var/lib/openblade/backups/web1/b1/manifest.json"): (0, MANIFEST, ""),
        }
    )
    return src, store


def restorer(hv, src, store, sent, lock_dir, **extra):
    """The Restore a guest_restore run builds; what it sends is appended to ``sent``."""
    p = dict(
        {
            "name": "web1",
            "label": "b1",
            "source": "10.81.0.2",
            "ssh_user": "root",
            "ssh_port": None,
            "ssh_identity": None,
            "backup_dir": "/var/lib/openblade/backups",
            "disks": None,
            "vg": None,
            "pool": None,
            "volumes": None,
            "overwrite_disks": False,
        },
        **extra,
    )

    def transfer(sender, receiver, ranges):
        sent.append((sender, receiver, ranges))
        return {
            "read": GIB,
            "sent": 65536,
            "frames": 1,
            "chain": "c",
            "digest": DIGEST,
            "written": 65536,
            "zeroed": 0,
        }

    return Restore(hv, src, store, p, transfer=transfer, lock_dir=lock_dir)


def restore(hv, src, store, check, **extra):
    sent = []
    return reconcile(restorer(hv, src, store, sent, str(pytest.lock_dir), **extra), check_mode=check), sent


def restored_lv():
    """web1-root restored from b1 by an earlier run."""
    return lv(
        "web1-root-restored-b1", size=GIB, tags=("openblade.kvm", "ob_restored=b1", f"ob_sha256={DIGEST}")
    )


def test_restore_makes_a_new_volume_and_checks_three_digests():
    checked, _sent = restore(Hv(), *restore_blades(), True)
    src, store = restore_blades()
    real, sent = restore(Hv(), src, store, False)
    assert (
        checked["actions"]
        == real["actions"]
        == [
            f"create thin volume {VG}/web1-root-restored-b1 of 1 GiB in thin pool thinpool",
            f"copy backup point {VG}/bk-web1-vda-b1 of 10.81.0.2 into {VG}/web1-root-restored-b1 and compare its "
            "sha256 with the backup's",
        ]
    )
    assert sent[0][2] is None  # scan mode: the point's non-zero blocks
    assert src.changes()[-1] == (
        "lvchange",
        "--deltag",
        "ob_restoring",
        "--addtag",
        "ob_restored=b1",
        "--addtag",
        f"ob_sha256={DIGEST}",
        f"{VG}/web1-root-restored-b1",
    )


def test_a_restored_volume_is_not_restored_again():
    real, sent = restore(Hv(), *restore_blades([restored_lv()]), False)
    assert (real["changed"], real["actions"], sent) == (False, [], [])


def test_a_foreign_volume_of_that_name_is_refused():
    foreign = lv("web1-root-restored-b1", size=GIB)
    with pytest.raises(ReconcileError, match="was not restored by guest_restore; refusing to overwrite it"):
        restore(Hv(), *restore_blades([foreign]), True)


@pytest.mark.parametrize("state", ["running", "paused"])
def test_overwriting_in_place_is_refused_unless_the_guest_is_shut_off(state):
    src, store = restore_blades()
    with pytest.raises(ReconcileError, match=f"overwrite_disks: guest web1 is {state}"):
        restore(Hv(state=state), src, store, True, overwrite_disks=True)
    assert src.changes() == []


def test_overwriting_a_shut_off_guest_discards_then_copies():
    src, store = restore_blades()
    src.table[digest_argv(f"/dev/{VG}/web1-root")] = (0, f"{'00' * 32}\n", "")
    checked, _sent = restore(Hv(state="stopped"), src, store, True, overwrite_disks=True)
    assert checked["actions"][0] == f"discard every block of {VG}/web1-root (the guest's disk, overwritten)"


@pytest.mark.parametrize("failure", [
    "mux_client_request_session: read from master failed: Broken pipe",
    "Failed to connect to new control master",
])
def test_the_target_connection_retries_once_when_its_ssh_master_failed(failure):
    class Flaky(FakeRunner):
        answers = [(255, "", failure), (0, "obt_vg\n", "")]

        def _execute(self, argv, data):
            self.calls.append(tuple(argv))
            return CommandResult(*self.answers[len(self.calls) - 1])

    local = Flaky({})
    remote = BackupSsh(local, "10.81.0.2")
    assert remote.run(["vgs"]).stdout == "obt_vg\n" and len(local.calls) == 2
