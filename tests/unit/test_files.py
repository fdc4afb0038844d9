# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one atomic write (_files.write_atomic / replace_atomic) that every file the
collection owns goes through: the contract's error, mode and owner set before the
rename, nothing left behind on failure."""

from __future__ import annotations

import grp
import os
import pwd
import stat

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils import _files
from ansible_collections.openblade.kvm.plugins.module_utils._files import replace_atomic, write_atomic
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import seed
from ansible_collections.openblade.kvm.plugins.module_utils._net import transaction
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def leftovers(directory):
    return [name for name in os.listdir(directory) if name.startswith(".openblade-")]


def test_write_creates_directories_and_sets_the_mode(tmp_path):
    path = tmp_path / "etc/new/file.conf"
    write_atomic(str(path), "one\n", mode=0o640)
    assert path.read_text() == "one\n" and mode_of(path) == 0o640
    assert mode_of(path.parent) == 0o755 & ~_umask()
    assert leftovers(path.parent) == []


def test_replacing_a_file_gives_it_the_asked_mode_and_owner(tmp_path):
    path = tmp_path / "file.conf"
    path.write_text("old\n")
    os.chmod(path, 0o600)
    me, my_group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    write_atomic(str(path), "new\n", mode=0o644, owner=me, group=my_group)
    assert path.read_text() == "new\n" and mode_of(path) == 0o644
    assert (path.stat().st_uid, path.stat().st_gid) == (os.getuid(), os.getgid())


def test_mode_and_owner_are_set_before_the_rename(tmp_path, monkeypatch):
    # Never, not even briefly, more open than asked: the rename sees the final access.
    seen = []
    chowned = []
    rename = os.replace
    monkeypatch.setattr(os, "chown", lambda path, uid, gid: chowned.append((uid, gid)))
    monkeypatch.setattr(os, "replace", lambda src, dst: (seen.append(mode_of(src)), rename(src, dst)))
    write_atomic(str(tmp_path / "secret"), "s\n", mode=0o600, owner=0, group="root")
    assert seen == [0o600] and chowned == [(0, 0)]


def test_a_failed_write_raises_the_contracts_error_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "taken"
    path.mkdir()  # a directory where the file should go: the rename fails
    (path / "inside").write_text("x")
    with pytest.raises(ReconcileError,
                       match=rf"cannot write networkd file {path}: .*Is a directory") as failed:
        write_atomic(str(path), "content\n", what="networkd file")
    assert failed.value.details == {"path": str(path)}
    assert leftovers(tmp_path) == []


def test_an_unknown_group_fails_before_the_rename_and_leaves_nothing(tmp_path):
    path = tmp_path / "file"
    with pytest.raises(ReconcileError,
                       match=r"cannot write file .*: no such user or group: 'obt-no-such-group'"):
        write_atomic(str(path), "x\n", group="obt-no-such-group")
    assert not path.exists() and leftovers(tmp_path) == []


def test_an_interrupted_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def interrupted(_src, _dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(str(tmp_path / "file"), "x\n")
    assert leftovers(tmp_path) == []


def test_replace_keeps_a_staged_file_the_caller_made_when_it_fails(tmp_path):
    staged = tmp_path / "image.part"
    staged.write_text("verified bytes")
    target = tmp_path / "image"
    target.mkdir()
    (target / "x").write_text("x")
    with pytest.raises(ReconcileError, match=rf"cannot write downloaded image {target}"):
        replace_atomic(str(staged), str(target), what="downloaded image")
    assert staged.read_text() == "verified bytes"  # the next run renames it without downloading


def test_durable_replace_flushes_the_file_and_its_directory(tmp_path, monkeypatch):
    synced = []
    fsync = os.fsync
    monkeypatch.setattr(os, "fsync",
                        lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), fsync(fd)))
    staged = tmp_path / "image.part"
    staged.write_text("bytes")
    replace_atomic(str(staged), str(tmp_path / "image"), durable=True)
    assert synced == [str(staged), str(tmp_path)]
    synced.clear()
    write_atomic(str(tmp_path / "conf"), "x\n")  # small config files: as before, no fsync
    assert synced == []


def test_the_seed_iso_rename_raises_the_contracts_error(tmp_path):
    class IsoRunner:
        def run(self, argv):
            with open(argv[argv.index("-output") + 1], "w") as handle:
                handle.write("ISO")

    iso = tmp_path / "web1-cidata.iso"
    iso.mkdir()
    (iso / "x").write_text("x")
    with pytest.raises(ReconcileError, match=rf"cannot write cloud-init seed {iso}"):
        seed.build_seed_iso(IsoRunner(), {"user-data": "#cloud-config\n"}, str(iso))
    assert not os.path.exists(seed.staging_dir(str(iso)))


def test_the_network_change_counter_is_written_atomically(tmp_path):
    assert transaction._next_generation(str(tmp_path)) == 1
    assert transaction._next_generation(str(tmp_path)) == 2
    assert (tmp_path / "generation").read_text() == "2\n" and mode_of(tmp_path / "generation") == 0o644
    assert sorted(os.listdir(tmp_path)) == ["generation"]


def _umask():
    current = os.umask(0)
    os.umask(current)
    return current


def test_set_access_leaves_unnamed_ids_alone(tmp_path, monkeypatch):
    chowned = []
    monkeypatch.setattr(os, "chown", lambda path, uid, gid: chowned.append((uid, gid)))
    path = tmp_path / "f"
    path.write_text("x")
    _files.set_access(str(path), group=4242)
    _files.set_access(str(path), mode=0o600)
    assert chowned == [(-1, 4242)] and mode_of(path) == 0o600
