"""Build the blade image: a Debian bookworm root made with debootstrap, packed as ext4.

Everything a blade needs is baked in, because the blades have no route to any
package mirror (their management NIC is slirp with restrict=on).  The image is
cached under ~/.cache/openblade-lab/images/<hash>, where <hash> covers recipe.py,
so editing recipe.py is what triggers a rebuild.
"""

import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from recipe import PACKAGES, ROOT_SIZE, SUITE, chroot_install, configure, run


def recipe_hash():
    digest = hashlib.sha256((Path(__file__).parent / "recipe.py").read_bytes()).hexdigest()
    return digest[:16]


def cache_root():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "openblade-lab" / "images"


def image_dir():
    return cache_root() / recipe_hash()


def host_debian_mirror():
    """The Debian mirror the host's apt already uses (the only registry we may reach)."""
    override = os.environ.get("OPENBLADE_LAB_MIRROR")
    if override:
        return override
    candidates = [Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")]
    for path in candidates:
        if not path.exists():
            continue
        text = path.read_text()
        for match in re.finditer(r"(?:URIs:|deb)\s+(\S+)", text):
            uri = match.group(1).rstrip("/")
            if uri.startswith("http") and "security" not in uri and uri.endswith("/debian"):
                return uri
    raise SystemExit(
        "lab: cannot find a Debian mirror in the host's apt sources; "
        "set OPENBLADE_LAB_MIRROR to one"
    )


def build(progress):
    """Build the image unless the cache already holds this recipe's. Returns its dir."""
    final = image_dir()
    if (final / "root.img").exists():
        return final
    if os.geteuid() != 0:
        raise SystemExit("lab: building the blade image needs root (debootstrap, chroot)")
    cache_root().mkdir(parents=True, exist_ok=True)
    work = cache_root() / f".build-{recipe_hash()}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    root = work / "root"
    log_path = work / "build.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        try:
            mirror = host_debian_mirror()
            progress(f"building blade image {recipe_hash()} (debootstrap {SUITE}; log {log_path})")
            run(["debootstrap", "--variant=minbase", "--include=apt-utils",
                 SUITE, str(root), mirror], log)
            sources = root / "etc/apt/sources.list"
            sources.write_text(f"deb {mirror} {SUITE} main\n")
            progress(f"installing {len(PACKAGES)} packages into the image")
            chroot_install(root, log)
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "openblade-lab",
                 "-f", str(work / "id_ed25519")], log)
            configure(root, (work / "id_ed25519.pub").read_text(), log)
            kernels = sorted((root / "boot").glob("vmlinuz-*"))
            initrds = sorted((root / "boot").glob("initrd.img-*"))
            if not kernels or not initrds:
                raise SystemExit(f"lab: no kernel/initrd in the image; see {log_path}")
            shutil.copy(kernels[-1], work / "vmlinuz")
            shutil.copy(initrds[-1], work / "initrd.img")
            progress("packing the root filesystem (mkfs.ext4 -d)")
            run(["mkfs.ext4", "-q", "-F", "-L", "bladeroot", "-d", str(root),
                 str(work / "root.img"), ROOT_SIZE], log)
        except subprocess.CalledProcessError as exc:
            raise SystemExit(f"lab: image build failed at {exc.cmd[:3]}; see {log_path}") from None
    shutil.rmtree(root)
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
    # Images of older recipes are dead weight (about 1 GB each); running blades keep
    # their open file even after the unlink.
    for stale in cache_root().iterdir():
        if stale != final and stale.is_dir() and (stale / "root.img").exists():
            shutil.rmtree(stale, ignore_errors=True)
    progress(f"blade image ready in {time.monotonic() - started:.0f}s: {final}")
    return final
