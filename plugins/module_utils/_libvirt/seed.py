# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cloud-init NoCloud seeds: a small ISO labelled ``cidata`` holding user-data,
meta-data and (optionally) network-config, attached to the guest as a CD-ROM.

genisoimage stamps the build time into the image, so two builds of the same seed
differ byte for byte.  We therefore compare a digest of the *inputs*, recorded in the
guest's ownership metadata, and rebuild the ISO only when they change (or the file is
gone).

A seed holds the user data, passwords and keys included, so it is closed to other local
users: mode 0640, owned by root and the QEMU user's group (``libvirt-qemu`` on Debian,
``qemu`` elsewhere), so QEMU can read it whether or not libvirt's dynamic ownership is
on.  With no such group it is 0600 and relies on dynamic ownership, which hands a disk
to the QEMU user when the guest starts.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import shutil
import stat

from ansible_collections.openblade.kvm.plugins.module_utils._files import (
    replace_atomic,
    set_access,
    write_atomic,
)

SEED_DIR = "/var/lib/libvirt/boot"
VOLUME_ID = "cidata"  # the label cloud-init's NoCloud datasource looks for
QEMU_GROUPS = ("libvirt-qemu", "qemu")  # Debian's, then Fedora's and upstream's default


def default_iso_path(name):
    return os.path.join(SEED_DIR, f"{name}-cidata.iso")


def _yaml_text(value, header=None):
    """A str is taken as written; a dict becomes JSON, which every YAML parser reads."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.endswith("\n") else value + "\n"
    text = json.dumps(value, indent=2, sort_keys=True) + "\n"
    return header + "\n" + text if header else text


def render_seed(name, cloud_init):
    """The seed files as ``{file name: text}``."""
    meta_data = cloud_init.get("meta_data")
    if meta_data is None:
        # A stable instance-id: cloud-init treats a new one as a new machine and
        # would regenerate host keys and rerun first-boot modules.
        meta_data = {"instance-id": name, "local-hostname": name}
    files = {
        "user-data": _yaml_text(cloud_init.get("user_data") or {}, header="#cloud-config"),
        "meta-data": _yaml_text(meta_data),
    }
    network_config = _yaml_text(cloud_init.get("network_config"))
    if network_config is not None:
        files["network-config"] = network_config
    return files


def seed_digest(files):
    digest = hashlib.sha256()
    for file_name in sorted(files):
        digest.update(file_name.encode("utf-8") + b"\0" + files[file_name].encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]


def staging_dir(iso_path):
    """Where the seed at ``iso_path`` is built before it is renamed into place."""
    directory, name = os.path.split(iso_path)
    return os.path.join(directory, f".{name}.staging")


def build_seed_iso(runner, files, iso_path):
    """Write the ISO next to its final path, then rename it into place atomically, so a
    guest never sees a half-written seed."""
    directory = os.path.dirname(iso_path)
    os.makedirs(directory, exist_ok=True)
    workdir = staging_dir(iso_path)
    # One fixed name per seed, emptied first: a run killed while building leaves a
    # directory the guest's next run (under the same guest lock) takes over and removes.
    shutil.rmtree(workdir, ignore_errors=True)
    os.mkdir(workdir, 0o700)
    try:
        for file_name, text in files.items():
            with open(os.path.join(workdir, file_name), "w") as handle:
                handle.write(text)
        staged = os.path.join(workdir, "seed.iso")
        runner.run(["genisoimage", "-output", staged, "-volid", VOLUME_ID, "-joliet", "-rock",
                    "-quiet"] + [os.path.join(workdir, file_name) for file_name in sorted(files)])
        # Access is set before the rename: the seed is never readable by others, not even briefly.
        mode, owner, group = _access()
        replace_atomic(staged, iso_path, mode=mode, owner=owner, group=group, what="cloud-init seed")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _qemu_gid():
    for name in QEMU_GROUPS:
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            continue
    return None


def _access():
    """(mode, owner, group) of a seed: root and the QEMU user may read it, nobody else (see
    the module docstring)."""
    gid = _qemu_gid()
    if gid is not None and os.geteuid() == 0:
        return 0o640, 0, gid
    return 0o600, None, None


def write_seed(path, content):
    """A seed ISO's bytes (from a backup) written into place, closed as a new seed is."""
    mode, owner, group = _access()
    write_atomic(path, content, mode, "cloud-init seed", owner, group)


def restrict(path):
    """Close the seed at ``path`` to other users, as a new one is (see :func:`_access`)."""
    set_access(path, *_access())


def exposed(path):
    """Whether users other than its owner and group can read the seed at ``path``."""
    try:
        return bool(os.stat(path).st_mode & stat.S_IRWXO)
    except FileNotFoundError:
        return False
