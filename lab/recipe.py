"""The blade image recipe: what goes into the root filesystem.

This file is the cache key: its hash names the cached image, so any change here (and
only here) rebuilds it.  The machinery that builds and caches lives in image.py.
"""

import os
import subprocess

SUITE = "bookworm"
ROOT_SIZE = "6G"

# What a hypervisor blade needs, installed once here so that provisioning over SSH
# never has to download anything.
PACKAGES = [
    "linux-image-cloud-amd64", "initramfs-tools", "systemd-sysv", "udev", "dbus", "kmod",
    "openssh-server", "python3", "python3-apt", "python3-libvirt", "python3-lxml",
    "python3-netaddr", "python3-jinja2", "libvirt-daemon-system", "libvirt-clients",
    "qemu-system-x86", "qemu-utils", "lvm2", "thin-provisioning-tools", "iproute2",
    "bridge-utils", "iputils-ping", "genisoimage", "busybox-static", "procps",
    "less", "ca-certificates", "restic",
]

# Files written into the root.  Interface names are pinned by PCI slot (the launcher
# places each NIC at a fixed slot), so the same image serves every blade.
FILES = {
    "etc/systemd/network/10-mgmt0.link": "[Match]\nPath=pci-0000:00:03.0\n\n[Link]\nName=mgmt0\n",
    "etc/systemd/network/10-trunk0.link": "[Match]\nPath=pci-0000:00:04.0\n\n[Link]\nName=trunk0\n",
    "etc/systemd/network/10-trunk1.link": "[Match]\nPath=pci-0000:00:05.0\n\n[Link]\nName=trunk1\n",
    # Match the management NIC by name only: a catch-all would also grab VLAN
    # sub-interfaces of the trunk and strip their addresses.  slirp's guest
    # address is fixed; no gateway, because with restrict=on nothing lies beyond.
    "etc/systemd/network/10-mgmt0.network": (
        "[Match]\nName=mgmt0\n\n[Network]\nAddress=10.0.2.15/24\nLinkLocalAddressing=no\n"
        "IPv6AcceptRA=no\n"
    ),
    "etc/fstab": "LABEL=bladeroot / ext4 defaults,errors=remount-ro 0 1\n",
    "etc/hosts": "127.0.0.1 localhost\n",
    "etc/ssh/sshd_config.d/lab.conf": "PermitRootLogin prohibit-password\nUseDNS no\n",
    "etc/apt/apt.conf.d/99lab-offline": 'APT::Periodic::Enable "0";\n',
}

SERVICES_ENABLED = ["systemd-networkd.service", "ssh.service", "libvirtd.service"]
SERVICES_MASKED = [
    "apt-daily.timer", "apt-daily-upgrade.timer", "systemd-networkd-wait-online.service",
    "e2scrub_reap.service", "fstrim.timer", "man-db.timer",
]


def run(argv, log, **kwargs):
    log.write(f"$ {' '.join(argv)}\n")
    log.flush()
    subprocess.run(argv, check=True, stdout=log, stderr=subprocess.STDOUT, **kwargs)


def chroot_install(root, log):
    """apt-get inside the chroot: a real resolver, and no service is started."""
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    mounts = [("proc", root / "proc", ["-t", "proc"]), ("sysfs", root / "sys", ["-t", "sysfs"]),
              ("/dev", root / "dev", ["--bind"])]
    mounted = []
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C")
    try:
        for source, target, opts in mounts:
            run(["mount", *opts, source, str(target)], log)
            mounted.append(target)
        run(["chroot", str(root), "apt-get", "update", "-q"], log, env=env)
        run(["chroot", str(root), "apt-get", "install", "-y", "-q", "--no-install-recommends",
             *PACKAGES], log, env=env)
        run(["chroot", str(root), "apt-get", "clean"], log, env=env)
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", "-l", str(target)], check=False)
        policy.unlink(missing_ok=True)


def configure(root, public_key, log):
    for rel, content in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(public_key)
    (ssh_dir / "authorized_keys").chmod(0o600)
    # Empty machine-id: each blade makes its own at first boot.  systemd-networkd
    # derives bridge MACs from it, so shared IDs would give every blade the same MACs.
    (root / "etc/machine-id").write_text("")
    (root / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    # libvirt's NAT 'default' network would add a dnsmasq and a 192.168.122.0/24
    # bridge that no blade test wants.
    (root / "etc/libvirt/qemu/networks/autostart/default.xml").unlink(missing_ok=True)
    for unit in SERVICES_ENABLED:
        run(["chroot", str(root), "systemctl", "enable", unit], log)
    for unit in SERVICES_MASKED:
        run(["chroot", str(root), "systemctl", "mask", unit], log)
    run(["chroot", str(root), "passwd", "-d", "root"], log)
