# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""offsite_copy, offsite_check and offsite_restore decisions, with an argv-table runner for
LVM and a stand-in restic repository (the lab tier runs restic for real, over SFTP to another
blade: tests/integration/lab/test_offsite.py)."""

# ruff: noqa: E501 - the actions' texts read best one line each

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._backup import offsite
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError, reconcile
from ansible_collections.openblade.kvm.plugins.module_utils._runner import CommandResult
from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner
from ansible_collections.openblade.kvm.tests.unit.lvm_host import GIB, VG, host, lv, pool, vg

REPO = "sftp:backup@10.86.0.3:/srv/restic"
PASSWORD = "s3cret-canary-password"
DIGESTS = {"b1": "a1" * 32, "b2": "b2" * 32, "b3": "b3" * 32, "b4": "b4" * 32}
DAY = 86400
UUID = "7d6a3f5e-1c2b-5d4e-9f00-0b1adeb00001"


class FakeRestic:
    """A restic repository: ``exists`` and its snapshots; answers the argvs Restic builds."""

    def __init__(self, exists=False, digests=None, check_rc=0):
        self.exists = exists
        self.snapshots = []
        self.digests = dict(digests or {})  # device or volume path -> the sha256 read from or written to it
        self.check_rc = check_rc
        self.calls = []
        self.envs = []

    def state(self):
        return self.exists, json.dumps(self.snapshots, sort_keys=True)

    def __call__(self, argv, env, feed=None, sink=None):
        self.calls.append(list(argv))
        self.envs.append(dict(env))
        assert argv[1:5] == ["--repo", REPO, "--option", "sftp.command=ssh -o BatchMode=yes -o ServerAliveInterval=15 backup@10.86.0.3 -s sftp"]
        verb, args = argv[5], argv[6:]
        if verb != "init" and not self.exists:
            return CommandResult(1, "", f"Fatal: unable to open config file\nIs there a repository at the following location?\n{REPO}\n"), ""
        if verb == "init":
            self.exists = True
            return CommandResult(0, "created restic repository\n", ""), ""
        if verb == "snapshots":
            wanted = set(args[args.index("--tag") + 1].split(","))
            return CommandResult(0, json.dumps([s for s in self.snapshots if wanted <= set(s["tags"])]), ""), ""
        if verb == "backup":
            found = [args[i + 1] for i, word in enumerate(args) if word == "--tag"]
            ident = f"{len(self.snapshots) + 1:08x}" + "0" * 56
            self.snapshots.append({"id": ident, "short_id": ident[:8], "tags": found,
                                   "time": f"2024-06-01T03:{len(self.snapshots):02d}:00Z"})
            summary = {"message_type": "summary", "snapshot_id": ident[:8], "total_bytes_processed": GIB, "data_added": 1234}
            return CommandResult(0, json.dumps(summary) + "\n", ""), self.digests.get(feed, "") if feed else ""
        if verb == "forget":
            ids = [arg for arg in args if not arg.startswith("--")]
            self.snapshots = [s for s in self.snapshots if not any(s["id"].startswith(ident) for ident in ids)]
            return CommandResult(0, "", ""), ""
        if verb == "dump":
            return CommandResult(0, "", ""), self.digests[sink]
        if verb == "check":
            return CommandResult(self.check_rc, "no errors were found\n" if not self.check_rc else "",
                                 "" if not self.check_rc else "Fatal: repository contains errors\n"), ""
        raise AssertionError(f"unexpected restic command {argv}")


def point_lv(label, active=False, digest=None):
    tags = ("openblade.kvm", "ob_backup_point", f"ob_sha256={digest or DIGESTS[label]}", "ob_backup_disk=vda",
            f"ob_backup_label={label}", "ob_backup_of=web1-root", f"ob_backup_guest={UUID}")
    return lv(f"bk-web1-vda-{label}", size=GIB, tags=tags, active=active, skip=True, read_only=True)


def target_blade(tmp_path, labels=("b1", "b2"), lvs=None, partial=(), apart=1):
    """The backup blade: the points' LVs and their definition directories under tmp_path,
    made ``apart`` seconds after each other (b1 at 100 + 0, b2 at 100 + apart...)."""
    for label in labels:
        directory = tmp_path / "web1" / label
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "domain.xml").write_text("<domain/>")
        (directory / "manifest.json").write_text(json.dumps({
            "guest": "web1", "created": 100 + (int(label[1:]) - 1) * apart,
            "disks": {"vda": {"point": f"{VG}/bk-web1-vda-{label}", "sha256": DIGESTS[label], "size": GIB}}}))
    for label in partial:
        (tmp_path / "web1" / f"{label}.partial").mkdir(parents=True)
    found = [point_lv(label) for label in labels] if lvs is None else lvs
    table = host(vgs=[vg()], lvs=[pool(), *found])
    mutations = {}
    for row in found:
        name = f"{VG}/{row['lv_name']}"
        mutations[("lvchange", "--activate", "y", "--ignoreactivationskip", name)] = (0, "", "")
        mutations[("lvchange", "--activate", "n", name)] = (0, "", "")
    runner = FakeRunner({**table, **mutations})
    runner.reads = set(table)
    return runner


def params(**extra):
    return dict({"guest": "web1", "repository": REPO, "password": PASSWORD, "password_file": None, "ssh_port": None,
                 "ssh_identity": None, "restic": "restic"}, **extra)


def copier(runner, restic, tmp_path, **extra):
    return offsite.OffsiteCopy(runner, params(backup_dir=str(tmp_path), **extra), run=restic, lock_dir=str(tmp_path / "locks"))


def restic_for(labels=("b1", "b2"), **kwargs):
    return FakeRestic(digests={f"/dev/{VG}/bk-web1-vda-{label}": DIGESTS[label] for label in labels}, **kwargs)


# --- validation: before any command -------------------------------------------------------------------


@pytest.mark.parametrize("repository", [
    "sftp:backup@host:relative", "sftp:host:/", "s3:host:/x", "sftp:host:/a b", "sftp:-oProxyCommand=x:/r",
    "sftp:host:/a/../etc", "/srv/restic", "sftp:us er@host:/x", 7,
])
def test_a_repository_not_of_the_sftp_form_is_refused_before_any_command(repository, tmp_path):
    restic = FakeRestic()
    runner = FakeRunner({})
    with pytest.raises(ValidationError) as error:
        copier(runner, restic, tmp_path, repository=repository)
    assert error.value.details["option"] == "repository"
    assert str(error.value).startswith(f"repository: {repository!r} is not an SFTP repository (the form is sftp:[user@]host:/absolute/path")
    assert runner.calls == restic.calls == []


@pytest.mark.parametrize("repository, sftp", [
    ("sftp:10.86.0.3:/srv/r", "ssh -o BatchMode=yes -o ServerAliveInterval=15 10.86.0.3 -s sftp"),
    ("sftp:root@[fd00::3]:/srv/r", "ssh -o BatchMode=yes -o ServerAliveInterval=15 root@fd00::3 -s sftp"),
    ("sftp:b@off.example.org:/srv/r", "ssh -o BatchMode=yes -o ServerAliveInterval=15 -p 2222 -i /root/.ssh/off b@off.example.org -s sftp"),
])
def test_the_sftp_command_names_the_host_port_and_key(repository, sftp):
    extra = {"ssh_port": 2222, "ssh_identity": "/root/.ssh/off"} if "example" in repository else {}
    assert offsite.Restic(params(repository=repository, **extra)).sftp == sftp


@pytest.mark.parametrize("bad, option, text", [
    ({"guest": "a/b"}, "guest", "guest: 'a/b' is not a valid libvirt domain name"),
    ({"password": None}, "password", "password: one of password or password_file is required"),
    ({"password": None, "password_file": "relative"}, "password_file", "password_file: 'relative' must be an absolute path"),
    ({"ssh_port": 70000}, "ssh_port", "ssh_port: 70000 is not a TCP port"),
])
def test_bad_options_are_refused_before_any_command(bad, option, text, tmp_path):
    restic = FakeRestic()
    with pytest.raises(ValidationError) as error:
        copier(FakeRunner({}), restic, tmp_path, **bad)
    assert error.value.details["option"] == option and str(error.value).startswith(text)
    assert restic.calls == []


@pytest.mark.parametrize("subset, good", [("5%", True), ("2.5%", True), ("100%", True), ("1/7", True), ("500M", True),
                                          ("101%", False), ("8/7", False), ("0/7", False), ("all", False), ("5", False)])
def test_read_data_subset_is_what_restic_reads(subset, good):
    restic = FakeRestic()
    if good:
        assert checker(restic, subset).subset == subset
    else:
        with pytest.raises(ValidationError, match=r"^read_data_subset: "):
            checker(restic, subset)
    assert restic.calls == []


@pytest.mark.parametrize("bad, option", [({"vg": "bad vg"}, "vg"), ({"pool": "snapshotx"}, "pool"), ({"label": "a b"}, "label"),
                                         ({"volumes": {"vda": "x/y"}}, "volumes.vda")])
def test_restore_names_are_checked_before_any_command(bad, option):
    restic = FakeRestic()
    with pytest.raises(ValidationError) as error:
        offsite.OffsiteRestore(FakeRunner({}), params(**dict({"vg": VG, "pool": "thinpool"}, **bad)), run=restic)
    assert error.value.details["option"] == option
    assert restic.calls == []


# --- offsite_copy -----------------------------------------------------------------------------------------


def copy_actions(labels=("b1", "b2"), init=True, tmp="TMP"):
    actions = [f"initialize the encrypted restic repository {REPO}"] if init else []
    for label in labels:
        actions += [
            f"copy backup point {VG}/bk-web1-vda-{label} (web1 vda at {label}) to {REPO} and compare the sha256 of what was read with the point's",
            f"copy the definition of web1 point {label} ({tmp}/web1/{label}) to {REPO}",
        ]
    return actions


def test_first_copy_initializes_the_repository_and_pushes_every_point_then_nothing(tmp_path):
    restic = restic_for()
    runner = target_blade(tmp_path, partial=("b3",))
    checked = reconcile(copier(runner, restic, tmp_path), check_mode=True, diff_mode=True)
    assert checked["actions"] == copy_actions(tmp=tmp_path) and restic.state() == (False, "[]")
    assert set(runner.calls) <= runner.reads
    real = reconcile(copier(runner, restic, tmp_path), diff_mode=True)
    assert (real["changed"], real["actions"]) == (True, checked["actions"])
    assert real["copies"] == ["b1/definition", "b1/vda", "b2/definition", "b2/vda"]
    assert real["diff"] == {"before": {"repository": False, "copies": []},
                            "after": {"repository": True, "copies": real["copies"]}}
    disk = next(call for call in restic.calls if "--stdin" in call)
    assert disk[5:] == ["backup", "--json", "--quiet", "--stdin", "--stdin-filename", "vda.raw", "--host", "web1",
                        "--tag", "openblade.kvm", "--tag", "ob_guest=web1", "--tag", "ob_point=b1", "--tag", "ob_disk=vda",
                        "--tag", "ob_created=100", "--tag", f"ob_sha256={DIGESTS['b1']}", "--tag", f"ob_size={GIB}"]
    definition = [call for call in restic.calls if call[5] == "backup" and "--stdin" not in call][0]
    assert definition[-1] == str(tmp_path / "web1" / "b1") and "ob_disk=definition" in definition
    # The points are inactive (activation skipped): each is activated for its read, then put away.
    mutations = [call for call in runner.calls if call not in runner.reads]
    assert mutations == [("lvchange", "--activate", "y", "--ignoreactivationskip", f"{VG}/bk-web1-vda-b1"),
                         ("lvchange", "--activate", "n", f"{VG}/bk-web1-vda-b1"),
                         ("lvchange", "--activate", "y", "--ignoreactivationskip", f"{VG}/bk-web1-vda-b2"),
                         ("lvchange", "--activate", "n", f"{VG}/bk-web1-vda-b2")]
    assert real["pushed"]["b1/vda"] == {"snapshot": f"{1:08x}", "bytes_read": GIB, "bytes_added": 1234}
    again = reconcile(copier(runner, restic, tmp_path), diff_mode=True)
    assert (again["changed"], again["actions"], again["copies"]) == (False, [], real["copies"])


def test_a_new_point_alone_is_pushed_and_an_unverified_one_waits(tmp_path):
    restic = restic_for()
    reconcile(copier(target_blade(tmp_path, labels=("b1",)), restic, tmp_path))
    # b2's manifest is written but its point is still incomplete (a backup running or killed).
    incomplete = lv("bk-web1-vda-b2", tags=("openblade.kvm", "ob_backup_incomplete"))
    runner = target_blade(tmp_path, labels=("b1", "b2"), lvs=[point_lv("b1"), incomplete])
    waiting = reconcile(copier(runner, restic, tmp_path), check_mode=True)
    assert (waiting["changed"], waiting["actions"]) == (False, [])
    result = reconcile(copier(target_blade(tmp_path), restic, tmp_path))
    assert result["actions"] == copy_actions(("b2",), init=False, tmp=tmp_path)


def test_a_point_that_reads_other_data_than_its_backup_verified_is_forgotten_and_fails(tmp_path):
    restic = restic_for()
    restic.digests[f"/dev/{VG}/bk-web1-vda-b1"] = "ff" * 32
    with pytest.raises(ReconcileError) as error:
        reconcile(copier(target_blade(tmp_path, labels=("b1",)), restic, tmp_path))
    assert f"{VG}/bk-web1-vda-b1 read {'ff' * 32}, not the sha256 {DIGESTS['b1']} its backup verified" in str(error.value)
    assert error.value.details["actions_done"] == [f"initialize the encrypted restic repository {REPO}"]
    assert restic.snapshots == [] and restic.calls[-1][5:] == ["forget", f"{1:08x}"]


def test_a_wrong_password_is_an_error_not_an_empty_repository(tmp_path):
    restic = restic_for()

    def wrong(argv, env, feed=None, sink=None):
        return CommandResult(1, "", "Fatal: wrong password or no key found\n"), ""
    with pytest.raises(ReconcileError, match="wrong password or no key found"):
        reconcile(copier(target_blade(tmp_path), wrong, tmp_path), check_mode=True)
    assert restic.calls == []


def test_the_password_goes_only_into_a_private_file_named_by_the_environment(tmp_path):
    restic = restic_for()
    seen = []

    def spy(argv, env, feed=None, sink=None):
        path = env["RESTIC_PASSWORD_FILE"]
        seen.append((path, stat.S_IMODE(os.stat(path).st_mode), stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode),
                     open(path, encoding="utf-8").read()))
        assert PASSWORD not in json.dumps([argv, env])
        return restic(argv, env, feed, sink)
    result = reconcile(copier(target_blade(tmp_path), spy, tmp_path), diff_mode=True)
    assert PASSWORD not in json.dumps(result)
    assert {(mode, dirmode, text) for _path, mode, dirmode, text in seen} == {(0o600, 0o700, PASSWORD)}
    assert not os.path.exists(seen[0][0]) and not os.path.exists(os.path.dirname(seen[0][0]))


def test_a_password_file_is_named_as_it_is(tmp_path):
    restic = restic_for()
    reconcile(copier(target_blade(tmp_path), restic, tmp_path, password=None, password_file="/etc/openblade/restic"),
              check_mode=True)
    assert {env["RESTIC_PASSWORD_FILE"] for env in restic.envs} == {"/etc/openblade/restic"}


def test_the_retention_forgets_the_old_points_after_copying_and_skips_those_beyond_it(tmp_path):
    labels = ("b1", "b2", "b3", "b4")  # one a day
    restic = restic_for(labels)
    reconcile(copier(target_blade(tmp_path, labels=("b1", "b2"), apart=DAY), restic, tmp_path))
    # Two days later the blade holds b2-b4 (its own retention removed b1); keep two days off site.
    shutil.rmtree(tmp_path / "web1" / "b1")
    runner = target_blade(tmp_path, labels=labels[1:], apart=DAY)
    checked = reconcile(copier(runner, restic, tmp_path, retention={"daily": 2, "weekly": None}), check_mode=True, diff_mode=True)
    forget = (f"forget the 4 snapshot(s) of web1 point(s) b1, b2 in {REPO} (beyond the retention) and prune the data no other "
              "snapshot uses")
    assert checked["actions"] == [*copy_actions(("b3", "b4"), init=False, tmp=tmp_path), forget]
    assert (checked["kept"], checked["pruned"]) == (["b3", "b4"], ["b1", "b2"])
    assert checked["diff"]["after"]["copies"] == ["b3/definition", "b3/vda", "b4/definition", "b4/vda"]
    assert [call[5] for call in restic.calls[-1:]] == ["snapshots"]  # check mode only listed
    real = reconcile(copier(runner, restic, tmp_path, retention={"daily": 2}))
    assert real["actions"] == checked["actions"] and real["copies"] == checked["diff"]["after"]["copies"]
    assert restic.calls[-1][5:7] == ["forget", "--prune"] and len(restic.calls[-1]) == 7 + 4
    assert sorted(offsite.snap_key(snap) for snap in restic.snapshots) == [
        ("b3", "definition"), ("b3", "vda"), ("b4", "definition"), ("b4", "vda")]
    again = reconcile(copier(runner, restic, tmp_path, retention={"daily": 2}))
    assert (again["changed"], again["actions"]) == (False, [])
    # A tighter policy: b3 is forgotten, and b2, still on the blade, is not copied back.
    tighter = reconcile(copier(runner, restic, tmp_path, retention={"daily": 1}))
    assert tighter["actions"] == [f"forget the 2 snapshot(s) of web1 point(s) b3 in {REPO} (beyond the retention) and prune "
                                  "the data no other snapshot uses"]
    assert tighter["copies"] == ["b4/definition", "b4/vda"]


def test_a_copy_without_the_created_tag_counts_from_its_snapshot_time():
    assert offsite.created({"tags": ["openblade.kvm", "ob_created=1717210800"], "time": "2030-01-01T00:00:00Z"}) == 1717210800
    assert offsite.created({"tags": ["openblade.kvm"], "time": "2024-06-01T03:00:00.123456789+00:00"}) == 1717210800
    assert offsite.created({"tags": [], "time": "2024-06-01T03:00:00Z"}) == 1717210800


@pytest.mark.parametrize("bad", [{"daily": -1}, {"hourly": 3}, {"weekly": "two"}])
def test_a_bad_retention_is_refused_before_any_command(bad, tmp_path):
    restic = FakeRestic()
    with pytest.raises(ValidationError, match=r"^retention"):
        copier(FakeRunner({}), restic, tmp_path, retention=bad)
    assert restic.calls == []


# --- offsite_check --------------------------------------------------------------------------------------


def checker(restic, subset):
    return offsite.OffsiteCheck(FakeRunner({}), params(read_data_subset=subset), run=restic)


def test_check_reads_the_subset_and_never_changes(tmp_path):
    restic = restic_for()
    reconcile(copier(target_blade(tmp_path), restic, tmp_path))
    result = reconcile(checker(restic, "1/7"), diff_mode=True)
    assert (result["changed"], result["actions"], result["checked"]) == (False, [], True)
    assert restic.calls[-1][5:] == ["check", "--read-data-subset=1/7"]
    assert result["copies"] == ["b1/definition", "b1/vda", "b2/definition", "b2/vda"]


def test_a_failed_check_fails_with_restics_words(tmp_path):
    restic = restic_for(check_rc=1)
    reconcile(copier(target_blade(tmp_path), restic, tmp_path))
    with pytest.raises(ReconcileError, match=r"reading 5% of its data\) failed with rc 1: Fatal: repository contains errors"):
        reconcile(checker(restic, None))


# --- offsite_restore ------------------------------------------------------------------------------------

NEW = f"{VG}/web1-vda-offsite-b1"


def restore_blade(lvs=()):
    table = host(vgs=[vg()], lvs=[pool(), *lvs])
    create = ("lvcreate", "--yes", "--type", "thin", "--virtualsize", f"{GIB}b", "--thinpool", "thinpool",
              "--addtag", "openblade.kvm", "--addtag", offsite.RESTORING, "--addtag", "ob_offsite_of=web1.vda",
              "--name", "web1-vda-offsite-b1", VG)
    done = ("lvchange", "--deltag", offsite.RESTORING, "--addtag", "ob_offsite_restored=b1", "--addtag",
            f"ob_sha256={DIGESTS['b1']}", NEW)
    mutations = [("lvremove", "--yes", NEW), create, done]
    runner = FakeRunner({**table, **{argv: (0, "", "") for argv in mutations}})
    runner.reads = set(table)
    return runner, mutations


def restored_lv():
    return lv("web1-vda-offsite-b1", tags=("openblade.kvm", "ob_offsite_restored=b1", f"ob_sha256={DIGESTS['b1']}"))


def filled_repository(tmp_path):
    restic = restic_for()
    reconcile(copier(target_blade(tmp_path), restic, tmp_path))
    restic.digests[f"/dev/{NEW}"] = DIGESTS["b1"]
    return restic


def restorer(runner, restic, **extra):
    return offsite.OffsiteRestore(runner, params(**dict({"vg": VG, "pool": "thinpool", "label": "b1"}, **extra)), run=restic)


RESTORE = (f"restore web1 vda at b1 (off-site snapshot {1:08x}) from {REPO} onto new thin volume {NEW} in pool thinpool "
           "and compare its sha256 with the backup's")


def test_restore_dumps_the_point_onto_a_new_volume_and_compares_the_digest(tmp_path):
    restic = filled_repository(tmp_path)
    runner, mutations = restore_blade()
    checked = reconcile(restorer(runner, restic), check_mode=True, diff_mode=True)
    assert checked["actions"] == [RESTORE] and set(runner.calls) <= runner.reads
    real = reconcile(restorer(runner, restic), diff_mode=True)
    assert real["actions"] == [RESTORE] and real["restored"]["vda"]["sha256"] == DIGESTS["b1"]
    assert [call for call in runner.calls if call not in runner.reads] == mutations[1:]
    assert restic.calls[-1][5:] == ["dump", f"{1:08x}" + "0" * 56, "/vda.raw"]
    again = reconcile(restorer(restore_blade([restored_lv()])[0], restic))
    assert (again["changed"], again["actions"], again["volumes"]) == (False, [], {"vda": NEW})


def test_restore_defaults_to_the_newest_point_and_names_a_missing_one(tmp_path):
    restic = filled_repository(tmp_path)
    result = reconcile(restorer(restore_blade()[0], restic, label=None), check_mode=True)
    assert result["label"] == "b2"
    with pytest.raises(ReconcileError, match=r"^label: the repository .* holds no disk of web1 at 'b9' \(it has: b1, b2\)"):
        reconcile(restorer(restore_blade()[0], restic, label="b9"), check_mode=True)


def test_restore_replaces_only_its_own_leftover(tmp_path):
    restic = filled_repository(tmp_path)
    leftover = lv("web1-vda-offsite-b1", tags=("openblade.kvm", offsite.RESTORING))
    runner, mutations = restore_blade([leftover])
    result = reconcile(restorer(runner, restic))
    assert result["actions"] == [f"remove {NEW}, left by an interrupted off-site restore", RESTORE]
    assert [call for call in runner.calls if call not in runner.reads] == mutations
    foreign = lv("web1-vda-offsite-b1", tags=("openblade.kvm",))
    with pytest.raises(ReconcileError, match="exists and is not a volume an interrupted off-site restore left"):
        reconcile(restorer(restore_blade([foreign])[0], restic), check_mode=True)


def test_a_restored_volume_with_another_digest_stays_marked_restoring(tmp_path):
    restic = filled_repository(tmp_path)
    restic.digests[f"/dev/{NEW}"] = "00" * 32
    runner, mutations = restore_blade()
    with pytest.raises(ReconcileError, match=f"has sha256 {'00' * 32}, not the backup's {DIGESTS['b1']}; it stays tagged"):
        reconcile(restorer(runner, restic))
    assert [call for call in runner.calls if call not in runner.reads] == mutations[1:2]
