# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host integration fixtures: the host's own libvirtd, tiny real guests, and the modules
driven through Ansible exactly as a playbook would run them.

* libvirtd and virtlogd are started here when they are not running (there is no
  systemd on the CI machines), and only the daemons started here are stopped again,
  by the PIDs they wrote.
* The tiny guest is Debian's cloud kernel plus a busybox initramfs whose /init loads
  the virtio balloon driver (so live memory changes show up) and prints
  ``GUEST_MARKER`` on the serial console.  It is built once and cached under
  /var/tmp/openblade-test by a hash of its recipe.
* NICs join ``obtbr0``, a host bridge without addresses created here (and a libvirt
  network of forward mode bridge on it, for partitions), so no traffic leaves the host.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

# pytest runs with --import-mode=importlib, which puts no test directory on sys.path:
# the shared Ansible driver lives in tests/integration, the tiny guest's names here.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from tiny_guest import (  # noqa: E402
    BRIDGE,
    CACHE,
    CLUSTER,
    INIT_SCRIPT,
    PARTITION,
    PREFIX,
    URI,
    VIRTIO_MODULES,
)

libvirt = pytest.importorskip("libvirt", reason="the host tier needs libvirt-python")


def _run(argv, **kwargs):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


# --- daemons -------------------------------------------------------------------------------------

def _libvirt_answers():
    try:
        libvirt.open(URI).close()
        return True
    except libvirt.libvirtError:
        return False


def _running(pid_file):
    try:
        with open(pid_file) as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _daemon_command(daemon, pid_file):
    command = [daemon, "-d", "-p", pid_file]
    if daemon == "libvirtd" and os.path.exists("/dev/kvm"):
        # On these machines /dev/kvm opens but cannot run a guest, and libvirt then
        # re-probes QEMU on every define (28.7 s each, measured).  The host tier runs TCG
        # guests only, so the daemon started here gets a private mount namespace whose
        # /dev/kvm is a mode-000 device node nobody but root can open: libvirt calls KVM
        # unusable once and keeps its probe (0.06 s per define).  /dev/null bound there
        # instead still opens for the qemu user, and a regular file breaks guest start
        # (libvirt cannot copy it into the guest's private /dev); a device node made on
        # devtmpfs works.  It must stay linked: libvirt moves the mount by its source.
        hide_kvm = ('node=/dev/.openblade-nokvm; [ -c "$node" ] || mknod -m 000 "$node" c 1 3; '
                    'mount --bind "$node" /dev/kvm && exec "$@"')
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", hide_kvm, "sh"] + command
    return command


@pytest.fixture(scope="session")
def libvirtd():
    """A libvirtd answering on qemu:///system; started (and later stopped) only if needed."""
    libvirt.registerErrorHandler(lambda *_: None, None)
    run_dir = os.path.join(CACHE, "daemons")
    os.makedirs(run_dir, exist_ok=True)
    started = []
    if not _libvirt_answers():
        for daemon in ("virtlogd", "libvirtd"):
            pid_file = os.path.join(run_dir, daemon + ".pid")
            if _running(pid_file) is None:
                _run(_daemon_command(daemon, pid_file))
                started.append(pid_file)
        deadline = time.monotonic() + 30
        while not _libvirt_answers():
            if time.monotonic() > deadline:
                pytest.fail(f"libvirtd did not answer on {URI} within 30s")
            time.sleep(0.2)
    yield URI
    for pid_file in reversed(started):
        pid = _running(pid_file)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            for _i in range(100):
                if _running(pid_file) is None:
                    break
                time.sleep(0.1)


@pytest.fixture(scope="session")
def conn(libvirtd):
    connection = libvirt.open(libvirtd)
    yield connection
    _remove_test_guests(connection)
    connection.close()


def _remove_test_guests(connection):
    for dom in connection.listAllDomains():
        if not dom.name().startswith(PREFIX):
            continue
        if dom.isActive():
            dom.destroy()
        for snapshot in dom.listAllSnapshots():
            snapshot.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)


# --- network ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def network(conn):
    """The host bridge obtbr0 (no address, so nothing is routed) and a libvirt network on it."""
    created_bridge = not os.path.exists(f"/sys/class/net/{BRIDGE}")
    if created_bridge:
        _run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    _run(["ip", "link", "set", BRIDGE, "up"])
    try:
        net = conn.networkLookupByName(PARTITION)
    except libvirt.libvirtError:
        net = conn.networkDefineXML(
            f"<network><name>{PARTITION}</name><forward mode='bridge'/><bridge name='{BRIDGE}'/></network>")
    if not net.isActive():
        net.create()
    yield {"bridge": BRIDGE, "partition": PARTITION}
    _remove_test_guests(conn)
    net.destroy()
    net.undefine()
    if created_bridge:
        _run(["ip", "link", "del", BRIDGE])


# --- the tiny guest -------------------------------------------------------------------------------

def _kernel_package():
    out = _run(["apt-cache", "depends", "linux-image-cloud-amd64"]).stdout
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Depends: linux-image-"):
            return line.split()[1]
    pytest.fail("apt-cache does not know linux-image-cloud-amd64; run apt-get update")


@pytest.fixture(scope="session")
def guest_assets():
    """vmlinuz and initrd.gz of the tiny guest, cached by a hash of their recipe."""
    package = _kernel_package()
    busybox = "/bin/busybox"
    recipe = hashlib.sha256((package + INIT_SCRIPT + str(os.path.getsize(busybox))).encode()).hexdigest()[:12]
    assets = os.path.join(CACHE, "assets", recipe)
    kernel, initrd = os.path.join(assets, "vmlinuz"), os.path.join(assets, "initrd.gz")
    if not (os.path.exists(kernel) and os.path.exists(initrd)):
        work = assets + ".work"
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        _run(["apt-get", "download", package], cwd=work)
        [deb] = glob.glob(os.path.join(work, "*.deb"))
        _run(["dpkg-deb", "-x", deb, os.path.join(work, "root")])
        [vmlinuz] = glob.glob(os.path.join(work, "root/boot/vmlinuz-*"))
        [modules] = glob.glob(os.path.join(work, "root/lib/modules/*/kernel/drivers/virtio"))
        image = os.path.join(work, "initrd")
        for directory in ("bin", "proc", "sys", "mods"):
            os.makedirs(os.path.join(image, directory))
        shutil.copy(busybox, os.path.join(image, "bin", "busybox"))
        for module in VIRTIO_MODULES:
            shutil.copy(os.path.join(modules, module + ".ko"), os.path.join(image, "mods"))
        with open(os.path.join(image, "init"), "w") as handle:
            handle.write(INIT_SCRIPT)
        os.chmod(os.path.join(image, "init"), 0o755)
        files = _run(["find", "."], cwd=image).stdout
        archive = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=image, input=files.encode(),
                                 capture_output=True, check=True).stdout
        staged = os.path.join(work, "initrd.gz")
        packed = subprocess.run(["gzip", "-1"], input=archive, capture_output=True, check=True).stdout
        with open(staged, "wb") as handle:
            handle.write(packed)
        os.makedirs(assets, exist_ok=True)
        shutil.copy(vmlinuz, kernel)
        shutil.move(staged, initrd)
        shutil.rmtree(work)
    for path in (kernel, initrd):
        os.chmod(path, 0o644)  # QEMU runs as libvirt-qemu
    return {"kernel": kernel, "initrd": initrd}


@pytest.fixture(scope="session")
def workdir():
    """Disks and logs; under /var/tmp because pytest's 0700 tmp dirs are closed to QEMU."""
    path = os.path.join(CACHE, f"session-{os.getpid()}")
    os.makedirs(path, mode=0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def tiny_guest(guest_assets, workdir, network, conn):
    """Build the options of a tiny guest with its own qcow2 disk; ``name`` gets the prefix."""

    def build(name, **options):
        name = PREFIX + name
        disk = os.path.join(workdir, name + ".qcow2")
        if not os.path.exists(disk):
            _run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "16M"])
        args = dict(
            name=name, cluster=CLUSTER, state="running", domain_type="qemu", machine="pc",
            memory=192, max_memory=256, vcpus=1, max_vcpus=2,
            kernel=guest_assets["kernel"], initrd=guest_assets["initrd"], cmdline="console=ttyS0 quiet",
            disks=[{"path": disk, "format": "qcow2"}],
            serial_log=os.path.join(workdir, name + ".log"),
            shutdown_timeout=3,
        )
        args.update(options)
        return args

    return build


@pytest.fixture(scope="session")
def run_module(libvirtd):
    """``run_module(module, args, check=False, diff=False)`` -> the module's result."""
    return harness.ansible_module


@pytest.fixture(scope="session")
def apply_module(libvirtd):
    """``apply_module(module, args, ...)`` -> (check result, real result), see apply()."""
    return harness.apply
