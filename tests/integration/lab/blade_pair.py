"""Two lab blades that exchange data (a migration, a backup): shared setup for lab tests.

Per blade: a VG with a thin pool on its data disk, 802.1Q VLANs on trunk0 with one
address each (the partitions that carry the data), root's SSH key trusted by the other
blade on those addresses, and a tiny guest's kernel and busybox initramfs whose /init
prints ``count N`` on the serial console once a second and writes N into the first 16
bytes of its disk.  Each user passes its own VG, VLANs and file prefix, so two suites
never remove each other's things.  (test_migrate.py has its own copy of this setup; it
can move onto this module: ``Pair(vg="obm_vg", vlans={189: "10.78.0", 190: "10.79.0"},
prefix="obm")``.)
"""

# ruff: noqa: E501 - the shell scripts and domain XML keep one command or device per line

from __future__ import annotations

import re
import shlex
import time

import pytest

BOOT = "/var/lib/libvirt/boot"
MODULES = "virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk"

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in MODULES; do insmod /mods/$m.ko 2>/dev/null; done
i=0
while true; do i=$((i+1)); echo "count $i"; printf '%-15s\n' $i | dd of=/dev/vda bs=16 count=1 conv=notrunc,fsync 2>/dev/null; sleep 1; done
""".replace("MODULES", MODULES)


class Pair:
    """Blade ``src`` and blade ``dest``, set up by :meth:`setup`, cleaned by :meth:`cleanup`."""

    def __init__(self, src, dest, vg, vlans, prefix, pool="pool", pool_size="4G"):
        self.src, self.dest = src, dest
        self.vg, self.pool, self.pool_size = vg, pool, pool_size
        self.vlans = vlans  # {vlan id: "a.b.c"}: blade N gets a.b.c.N on trunk0.<id>
        self.prefix = prefix
        self.kernel, self.initrd = f"{BOOT}/{prefix}-vmlinuz", f"{BOOT}/{prefix}-initrd"

    def address(self, blade, vlan):
        return f"{self.vlans[vlan]}.{blade.index}"

    def _setup_script(self, blade):
        lines = ["set -e", f"vgs {self.vg} >/dev/null 2>&1 || {{ vgcreate -q {self.vg} /dev/vdb; "
                 f"lvcreate -q --yes --type thin-pool -L {self.pool_size} -n {self.pool} {self.vg}; }}",
                 "ip link set trunk0 up"]
        lines += [vlan_script(vlan, net, blade) for vlan, net in self.vlans.items()]
        lines += [
            f"if [ ! -f {self.initrd} ]; then",
            "  w=$(mktemp -d); mkdir -p $w/bin $w/mods $w/proc $w/sys $w/dev; cp /bin/busybox $w/bin/",
            f"  for m in {MODULES}; do f=$(modinfo -n $m); case $f in *.xz) xz -dc $f >$w/mods/$m.ko;; *) cp $f $w/mods/$m.ko;; esac; done",
            f"  cat >$w/init <<'EOI'\n{INIT}EOI",
            f"  chmod +x $w/init; (cd $w && find . | cpio -o -H newc 2>/dev/null | gzip -1) >{self.initrd}",
            f"  cp /boot/vmlinuz-$(uname -r) {self.kernel}; rm -rf $w",
            "fi",
            "mkdir -p /root/.ssh; [ -f /root/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519",
            f"printf 'Host {' '.join(net + '.*' for net in self.vlans.values())}\\n  StrictHostKeyChecking accept-new\\n' >/root/.ssh/config",
            "cat /root/.ssh/id_ed25519.pub",
        ]
        return "\n".join(lines)

    def cleanup_script(self):
        links = "; ".join(f"ip link del trunk0.{vlan} 2>/dev/null" for vlan in self.vlans)
        return (f"for d in $(virsh -q list --all --name | grep '^{self.prefix}-'); do virsh -q destroy $d 2>/dev/null; virsh -q undefine $d; done\n"
                f"vgs {self.vg} >/dev/null 2>&1 && vgremove -q -f {self.vg}; pvremove -q -f /dev/vdb 2>/dev/null\n"
                f"{links}\nrm -f {self.kernel} {self.initrd} {BOOT}/{self.prefix}-*-cidata.iso\n"
                f"rm -f /var/log/libvirt/qemu/{self.prefix}-*.serial /root/.ssh/config\ntrue\n")

    def setup(self):
        keys = {}
        for blade in (self.src, self.dest):
            blade.run(self.cleanup_script())
            keys[blade] = blade.run(f"bash -c {shlex.quote(self._setup_script(blade))}").stdout.strip().splitlines()[-1]
        self.dest.run(f"grep -qF {shlex.quote(keys[self.src])} /root/.ssh/authorized_keys || "
                      f"echo {shlex.quote(keys[self.src])} >>/root/.ssh/authorized_keys")
        for vlan in self.vlans:
            self.src.run(f"ssh -o BatchMode=yes {self.address(self.dest, vlan)} true")

    def cleanup(self):
        for blade in (self.src, self.dest):
            blade.run(self.cleanup_script(), check=False)

    # --- the tiny guest ------------------------------------------------------------------------

    def guest_xml(self, name, uuid, mac=None, bridge=None, cluster="lab"):
        nic = (f"<interface type='bridge'><mac address='{mac}'/><source bridge='{bridge}'/><model type='virtio'/></interface>"
               if bridge else "")
        return f"""<domain type='qemu'><name>{name}</name><uuid>{uuid}</uuid>
<metadata><openblade:guest xmlns:openblade="urn:openblade:kvm:guest:1"><openblade:cluster>{cluster}</openblade:cluster>
</openblade:guest></metadata>
<memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><kernel>{self.kernel}</kernel><initrd>{self.initrd}</initrd>
<cmdline>console=ttyS0 quiet</cmdline></os>
<devices><disk type='block' device='disk'><driver name='qemu' type='raw' cache='none'/>
<source dev='/dev/{self.vg}/{name}'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='cdrom'><source file='{BOOT}/{name}-cidata.iso'/><target dev='sda' bus='sata'/>
<readonly/></disk>{nic}
<serial type='file'><source path='/var/log/libvirt/qemu/{name}.serial'/><target port='0'/></serial>
<memballoon model='none'/></devices></domain>"""

    def make_guest(self, name, uuid, size="128M", data_mib=16, data_at_mib=8, start=False, **xml):
        """A thin LV of ``size`` with ``data_mib`` MiB of random data at ``data_at_mib``, a seed
        ISO and the domain on ``src``."""
        self.src.run(f"lvcreate -q --yes -T {self.vg}/{self.pool} -V {size} -n {name} --addtag openblade.kvm && "
                     f"dd if=/dev/urandom of=/dev/{self.vg}/{name} bs=1M seek={data_at_mib} count={data_mib} oflag=direct status=none && "
                     f"echo '#cloud-config' >/tmp/user-data && genisoimage -quiet -volid cidata "
                     f"-output {BOOT}/{name}-cidata.iso /tmp/user-data && "
                     f"cat >/tmp/{name}.xml <<'EOX'\n{self.guest_xml(name, uuid, **xml)}\nEOX\n"
                     f"virsh -q define /tmp/{name}.xml" + (f" && virsh -q start {name}" if start else ""))


def vlan_script(vlan, net, blade):
    return (f"ip link show trunk0.{vlan} >/dev/null 2>&1 || {{ ip link add link trunk0 name trunk0.{vlan} "
            f"type vlan id {vlan}; ip addr add {net}.{blade.index}/24 dev trunk0.{vlan}; ip link set trunk0.{vlan} up; }}")


def link(frm, to, vlan, net):
    """A partition of their own between two blades (VLAN ``vlan``, ``net``.N each), with ``frm``'s
    root trusted by ``to``'s root on it (an off-site host for ``frm``); ``to``'s address."""
    for blade in (frm, to):
        blade.run(f"ip link set trunk0 up; {vlan_script(vlan, net, blade)}")
    key = frm.run("mkdir -p /root/.ssh; [ -f /root/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -f "
                  "/root/.ssh/id_ed25519; cat /root/.ssh/id_ed25519.pub").stdout.strip().splitlines()[-1]
    to.run(f"mkdir -p /root/.ssh; grep -qF {shlex.quote(key)} /root/.ssh/authorized_keys 2>/dev/null || "
           f"echo {shlex.quote(key)} >>/root/.ssh/authorized_keys")
    frm.run(f"ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new {net}.{to.index} true")
    return f"{net}.{to.index}"


def unlink(frm, to, vlan):
    for blade in (frm, to):
        blade.run(f"ip link del trunk0.{vlan} 2>/dev/null; true", check=False)


def counts(blade, name):
    out = blade.run(f"cat /var/log/libvirt/qemu/{name}.serial 2>/dev/null", check=False).stdout
    return [int(n) for n in re.findall(r"^count (\d+)", out, re.M)]


def wait_counting(blade, name, timeout=900):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = counts(blade, name)
        if len(found) >= 3:
            return found
        time.sleep(10)
    pytest.fail(f"{name} on {blade} printed no count within {timeout}s")


def sha256(blade, path):
    return blade.run(f"sha256sum {path}").stdout.split()[0]


# The backups' digest (sha256 of the block manifest: a header line, then the sha256 of each
# MiB), written here again so the module's own code does not check itself.
BLOCKS_DIGEST = """import hashlib,os,sys
fd=os.open(sys.argv[1],os.O_RDONLY);size=os.lseek(fd,0,2);B=1<<20
body=b''.join(hashlib.sha256(os.pread(fd,min(B,size-o),o)).digest() for o in range(0,size,B))
print(hashlib.sha256(('openblade-blocks 1 %d %d\\n'%(B,size)).encode()+body).hexdigest())"""


def blocks_digest(blade, path):
    return blade.run(f"python3 -c {shlex.quote(BLOCKS_DIGEST)} {path}").stdout.strip()


def lv_digest(blade, full_name):
    """The backups' digest of a (read-only, activation-skipped) LV such as a backup point,
    activated for the read."""
    blade.run(f"lvchange -ay -K {full_name}")
    try:
        return blocks_digest(blade, f"/dev/{full_name}")
    finally:
        blade.run(f"lvchange -an {full_name}")
