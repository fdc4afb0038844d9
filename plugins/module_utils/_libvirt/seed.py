# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cloud-init NoCloud seeds: a small ISO labelled ``cidata`` holding user-data,
meta-data and (optionally) network-config, attached to the guest as a CD-ROM.

genisoimage stamps the build time into the image, so two builds of the same seed
differ byte for byte.  We therefore compare a digest of the *inputs*, recorded in the
guest's ownership metadata, and rebuild the ISO only when they change (or the file is
gone).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile

SEED_DIR = "/var/lib/libvirt/boot"
VOLUME_ID = "cidata"  # the label cloud-init's NoCloud datasource looks for


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


def build_seed_iso(runner, files, iso_path):
    """Write the ISO next to its final path, then rename it into place atomically, so a
    guest never sees a half-written seed."""
    directory = os.path.dirname(iso_path)
    os.makedirs(directory, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix=".seed-", dir=directory)
    try:
        for file_name, text in files.items():
            with open(os.path.join(workdir, file_name), "w") as handle:
                handle.write(text)
        staged = os.path.join(workdir, "seed.iso")
        runner.run(["genisoimage", "-output", staged, "-volid", VOLUME_ID, "-joliet", "-rock",
                    "-quiet"] + [os.path.join(workdir, file_name) for file_name in sorted(files)])
        # QEMU runs as an unprivileged user and only needs to read the seed.
        os.chmod(staged, 0o644)
        os.replace(staged, iso_path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
