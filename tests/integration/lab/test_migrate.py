"""domain_migrate between two real blades (blade1 -> blade2), over the trunk.

Each blade gets a VG on its data disk (``obm_vg``, the network lane's blades leave
theirs unused) and two VLANs on trunk0: 189 carries SSH and libvirt's control
connection (``10.78.0.x``), 190 is the migration partition (``10.79.0.x``) that
carries memory and disks.  blade1's root gets a key that blade2's root accepts.  The
guest is the tiny kernel + busybox initramfs of the host tier, counting on its serial
console once a second and writing the count to its disk.

Addresses exist only on the lab's isolated trunk segment.  Run after the lanes of
``make lab-tests`` (it uses blade1 and blade2 and their trunk0); it removes everything
it made.

Not yet in ``make lab-tests``: it has not run as a whole suite yet (issue 13); the live
and cold moves it tests were verified by hand on two blades.
"""

# ruff: noqa: E501 - the shell scripts and domain XML below keep one command or device per line

from __future__ import annotations

import re
import shlex
import time

import pytest

VG = "obm_vg"
POOL = "pool"
CONTROL = {1: "10.78.0.1", 2: "10.78.0.2"}
MIGRATION = {1: "10.79.0.1", 2: "10.79.0.2"}
KERNEL = "/var/lib/libvirt/boot/obm-vmlinuz"
INITRD = "/var/lib/libvirt/boot/obm-initrd"
UUID_PREFIX = "7d6a3f5e-1c2b-5d4e-9f00-0b1ade0000"
MODULES = "virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk"

# Per blade $1: VG, thin pool, the two VLANs, the guest's kernel and initramfs, a root key.
SETUP = rf"""
set -e
b=$1
vgs {VG} >/dev/null 2>&1 || {{ vgcreate -q {VG} /dev/vdb; lvcreate -q --yes --type thin-pool -L 4G -n {POOL} {VG}; }}
ip link set trunk0 up
for v in 189:10.78.0 190:10.79.0; do id=${{v%%:*}}; net=${{v#*:}}
  ip link show trunk0.$id >/dev/null 2>&1 || {{ ip link add link trunk0 name trunk0.$id type vlan id $id
    ip addr add $net.$b/24 dev trunk0.$id; ip link set trunk0.$id up; }}; done
if [ ! -f {INITRD} ]; then
  K=$(uname -r); w=$(mktemp -d); mkdir -p $w/bin $w/mods $w/proc $w/sys $w/dev; cp /bin/busybox $w/bin/
  for m in {MODULES}; do f=$(modinfo -n $m); case $f in *.xz) xz -dc $f >$w/mods/$m.ko;; *) cp $f $w/mods/$m.ko;; esac; done
  cat >$w/init <<'EOI'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in {MODULES}; do insmod /mods/$m.ko 2>/dev/null; done
i=0
while true; do i=$((i+1)); echo "count $i"; printf '%-15s\n' $i | dd of=/dev/vda bs=16 count=1 conv=notrunc,fsync 2>/dev/null; sleep 1; done
EOI
  chmod +x $w/init; (cd $w && find . | cpio -o -H newc 2>/dev/null | gzip -1) >{INITRD}; cp /boot/vmlinuz-$K {KERNEL}; rm -rf $w
fi
mkdir -p /root/.ssh; [ -f /root/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519
printf 'Host 10.78.0.* 10.79.0.*\n  StrictHostKeyChecking accept-new\n' >/root/.ssh/config
cat /root/.ssh/id_ed25519.pub
"""

CLEANUP = rf"""
for d in $(virsh -q list --all --name | grep '^obm-'); do virsh -q destroy $d 2>/dev/null; virsh -q undefine $d; done
vgs {VG} >/dev/null 2>&1 && vgremove -q -f {VG}; pvremove -q -f /dev/vdb 2>/dev/null
ip link del trunk0.189 2>/dev/null; ip link del trunk0.190 2>/dev/null; ip link del brmig 2>/dev/null
rm -f {KERNEL} {INITRD} /var/lib/libvirt/boot/obm-*-cidata.iso /var/log/libvirt/qemu/obm-*.serial /root/.ssh/config
true
"""


def guest_xml(name, index, cluster="lab"):
    return f"""<domain type='qemu'><name>{name}</name><uuid>{UUID_PREFIX}{index:02d}</uuid>
<metadata><openblade:guest xmlns:openblade="urn:openblade:kvm:guest:1"><openblade:cluster>{cluster}</openblade:cluster>
</openblade:guest></metadata>
<memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><kernel>{KERNEL}</kernel><initrd>{INITRD}</initrd>
<cmdline>console=ttyS0 quiet</cmdline></os>
<devices><disk type='block' device='disk'><driver name='qemu' type='raw' cache='none'/>
<source dev='/dev/{VG}/{name}'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='cdrom'><source file='/var/lib/libvirt/boot/{name}-cidata.iso'/><target dev='sda' bus='sata'/>
<readonly/></disk>
<interface type='bridge'><mac address='52:54:00:0c:01:{index:02x}'/><source bridge='brmig'/><model type='virtio'/></interface>
<serial type='file'><source path='/var/log/libvirt/qemu/{name}.serial'/><target port='0'/></serial>
<memballoon model='none'/></devices></domain>"""


def make_guest(blade, name, index, start):
    """A 128 MiB thin LV with 16 MiB of data at 8 MiB, a seed ISO, the domain."""
    blade.run(f"lvcreate -q --yes -T {VG}/{POOL} -V 128M -n {name} --addtag openblade.kvm && "
              f"dd if=/dev/urandom of=/dev/{VG}/{name} bs=1M seek=8 count=16 oflag=direct status=none && "
              f"echo '#cloud-config' >/tmp/user-data && genisoimage -quiet -volid cidata "
              f"-output /var/lib/libvirt/boot/{name}-cidata.iso /tmp/user-data && "
              f"cat >/tmp/{name}.xml <<'EOX'\n{guest_xml(name, index)}\nEOX\n"
              f"virsh -q define /tmp/{name}.xml" + (f" && virsh -q start {name}" if start else ""))


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


def allocated(blade, name):
    """Bytes of pool data the LV holds, or None when it does not exist."""
    proc = blade.run(f"lvs --noheadings --units b --nosuffix -o lv_size,data_percent {VG}/{name}", check=False)
    if proc.returncode != 0:
        return None
    size, percent = proc.stdout.split()
    return int(int(size) * float(percent) / 100)


def args(name, **extra):
    return dict({"name": name, "destination": CONTROL[2], "migration_address": MIGRATION[2],
                 "memory_reserve_mib": 256, "verify_timeout": 120}, **extra)


@pytest.fixture(scope="module")
def pair(blades):
    if len(blades) < 2:
        pytest.skip("needs two blades")
    src, dest = blades[0], blades[1]
    keys = {}
    for blade in (src, dest):
        blade.run(CLEANUP)
        out = blade.run(f"bash -c {shlex.quote(SETUP)} setup {blade.index}").stdout
        keys[blade] = out.strip().splitlines()[-1]
        blade.run("ip link add brmig type bridge && ip link set brmig up")
    dest.run(f"grep -qF {shlex.quote(keys[src])} /root/.ssh/authorized_keys || "
             f"echo {shlex.quote(keys[src])} >>/root/.ssh/authorized_keys")
    src.run(f"ssh -o BatchMode=yes {CONTROL[2]} true && ssh -o BatchMode=yes {MIGRATION[2]} true")
    yield src, dest
    for blade in (src, dest):
        blade.run(CLEANUP)


def test_cold_move_is_thin_keeps_identity_and_reruns_clean(pair):
    src, dest = pair
    make_guest(src, "obm-cold", 1, start=False)
    digest = src.run(f"sha256sum /dev/{VG}/obm-cold").stdout.split()[0]
    before = allocated(src, "obm-cold")
    result = src.apply("domain_migrate", args("obm-cold"))
    assert result["mode"] == "cold" and result["state"] == "stopped"
    assert dest.run(f"sha256sum /dev/{VG}/obm-cold").stdout.split()[0] == digest
    xml = dest.run("virsh dumpxml --inactive obm-cold").stdout
    assert f"{UUID_PREFIX}01" in xml and "52:54:00:0c:01:01" in xml and "openblade:cluster" in xml
    assert dest.run("test -s /var/lib/libvirt/boot/obm-cold-cidata.iso", check=False).returncode == 0
    # Thin by the rule: at most one 64 KiB chunk per GiB above the source (plus lvs' 0.01 %).
    assert allocated(dest, "obm-cold") <= before + 64 * 1024 + 128 * 2 ** 20 // 10000
    assert result["thin"] is True and result["sent"][f"{VG}/obm-cold"] == 16 * 2 ** 20
    assert allocated(src, "obm-cold") is None
    assert src.run("virsh dominfo obm-cold", check=False).returncode != 0
    again = src.module("domain_migrate", args("obm-cold"))
    assert (again["changed"], again["actions"]) == (False, [])


def test_live_move_keeps_counting_and_leaves_nothing_on_the_source(pair):
    src, dest = pair
    make_guest(src, "obm-live", 2, start=True)
    before = wait_counting(src, "obm-live")[-1]
    result = src.apply("domain_migrate", args("obm-live", timeout=1800))
    assert result["mode"] == "live" and result["answered_by"] == "vCPU time"
    assert dest.run("virsh domstate obm-live").stdout.strip() == "running"
    time.sleep(15)
    after = counts(dest, "obm-live")
    # libvirt opens the serial file on the destination afresh: its first count follows the
    # source's last one (no reboot, no reset to 1).
    assert after and after[0] > before and after == list(range(after[0], after[0] + len(after))), after
    assert allocated(src, "obm-live") is None
    assert src.run("virsh dominfo obm-live", check=False).returncode != 0
    disk = dest.run(f"dd if=/dev/{VG}/obm-live bs=16 count=1 status=none").stdout.strip()
    assert int(disk) >= after[0]
    print("live move:", result.get("job"), result.get("allocation"))


@pytest.mark.xfail(strict=True, reason="QEMU 7.2's drive mirror writes zeros and dm-thin on Linux 6.1 has no "
                   "WRITE_ZEROES, so the destination is provisioned (measured; see the module notes)")
def test_live_move_destination_is_thin(pair):
    src, dest = pair
    result = src.module("domain_migrate", args("obm-live"))
    assert result["changed"] is False
    assert allocated(dest, "obm-live") <= 16 * 2 ** 20 + 64 * 1024 + 128 * 2 ** 20 // 10000


def test_cancel_of_a_throttled_move_keeps_the_guest_on_the_source(pair):
    src, dest = pair
    make_guest(src, "obm-cancel", 3, start=True)
    wait_counting(src, "obm-cancel")
    result = src.module("domain_migrate", args("obm-cancel", bandwidth=1, timeout=30))
    assert result.get("failed") and "timed out after 30s" in result["msg"], result
    assert result["rolled_back"] == ["seed /var/lib/libvirt/boot/obm-cancel-cidata.iso on " + CONTROL[2],
                                     f"volume {VG}/obm-cancel on {CONTROL[2]}", "the source volumes' tags"]
    first = counts(src, "obm-cancel")[-1]
    time.sleep(10)
    assert counts(src, "obm-cancel")[-1] > first
    assert dest.run("virsh dominfo obm-cancel", check=False).returncode != 0
    assert allocated(dest, "obm-cancel") is None
    assert "ob_migrated" not in src.run(f"lvs --noheadings -o lv_tags {VG}/obm-cancel").stdout


def test_preflight_refuses_missing_bridge_and_full_pool_before_any_change(pair):
    src, dest = pair
    make_guest(src, "obm-refused", 4, start=False)
    dest.run("ip link del brmig")
    dest.run(f"lvcreate -q --yes --type thin-pool -L 8M -n full {VG} && "
             f"lvcreate -q --yes -T {VG}/full -V 8M -n filler && "
             f"dd if=/dev/urandom of=/dev/{VG}/filler bs=1M count=8 oflag=direct status=none")
    try:
        for check in (True, False):
            result = src.module("domain_migrate", args("obm-refused", pool="full"), check=check)
            assert result.get("failed"), result
            assert result["msg"].startswith(f"guest obm-refused: refusing to migrate to {CONTROL[2]}: ")
            assert "bridge brmig does not exist there" in result["msg"]
            assert f"thin pool {VG}/full has 0 MiB free, the disks hold 16 MiB" in result["msg"]
        assert allocated(dest, "obm-refused") is None
        assert "ob_migrated" not in src.run(f"lvs --noheadings -o lv_tags {VG}/obm-refused").stdout
    finally:
        dest.run("ip link add brmig type bridge && ip link set brmig up", check=False)
