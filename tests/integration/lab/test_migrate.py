"""guest_migrate between two real blades (blade1 -> blade2), over the trunk.

Each blade gets a VG on its data disk (``obm_vg``, the network lane's blades leave
theirs unused) and two VLANs on trunk0: 189 carries SSH and libvirt's control
connection (``10.78.0.x``), 190 is the migration partition (``10.79.0.x``) that
carries memory and disks.  blade1's root gets a key that blade2's root accepts.  The
guests are the tiny kernel + busybox initramfs of the host tier, counting on their serial
console once a second and writing the count to the first bytes of their disk.

In ``make lab-tests`` it runs after the network suite, in the same lane (it needs blade1
and blade2 and their trunk0); it removes everything it made.  benchmarks/migrate reuses
its setup.
"""

# ruff: noqa: E501 - the shell scripts and domain XML below keep one command or device per line

from __future__ import annotations

import re
import shlex
import time

import pytest

VG = "obm_vg"
POOL = "pool"
CHUNK = 64 * 1024
MIB = 2**20
CONTROL = {1: "10.78.0.1", 2: "10.78.0.2"}
MIGRATION = {1: "10.79.0.1", 2: "10.79.0.2"}
KERNEL = "/var/lib/libvirt/boot/obm-vmlinuz"
INITRD = "/var/lib/libvirt/boot/obm-initrd"
SERIAL = "/var/log/libvirt/qemu/{}.serial"
UUID_PREFIX = "7d6a3f5e-1c2b-5d4e-9f00-0b1ade0000"
MODULES = "virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk"
PARTITION = "obm-part"  # a libvirt network (a partition) that only the source has

# Per blade $1: VG, thin pool, the two VLANs, the guest's kernel and initramfs, a root key.
SETUP = rf"""
set -e
b=$1
vgs {VG} >/dev/null 2>&1 || {{ vgcreate -q {VG} /dev/vdb; lvcreate -q --yes --type thin-pool -L 4G --chunksize 64k -n {POOL} {VG}; }}
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
ip link show brmig >/dev/null 2>&1 || {{ ip link add brmig type bridge; ip link set brmig up; }}
mkdir -p /root/.ssh; [ -f /root/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519
printf 'Host 10.78.0.* 10.79.0.*\n  StrictHostKeyChecking accept-new\n' >/root/.ssh/config
cat /root/.ssh/id_ed25519.pub
"""

CLEANUP = rf"""
for p in $(cat /run/obm-watch.pids 2>/dev/null); do kill -- -$p 2>/dev/null; done; rm -f /run/obm-watch.pids /tmp/obm-*.stamps /tmp/obm-stamp.sh
for d in $(virsh -q list --all --name | grep '^obm-'); do virsh -q destroy $d 2>/dev/null; virsh -q undefine $d; done
virsh -q net-destroy {PARTITION} >/dev/null 2>&1; virsh -q net-undefine {PARTITION} >/dev/null 2>&1
vgs {VG} >/dev/null 2>&1 && vgremove -q -f {VG}; pvremove -q -f /dev/vdb 2>/dev/null
ip link del trunk0.189 2>/dev/null; ip link del trunk0.190 2>/dev/null; ip link del brmig 2>/dev/null
rm -f {KERNEL} {INITRD} /var/lib/libvirt/boot/obm-*-cidata.iso /var/log/libvirt/qemu/obm-*.serial /root/.ssh/config
true
"""

# On the source: timestamp each line of the guest's serial console, here and (over one SSH
# connection, a few ms on the trunk) on the destination, with this blade's clock only.
WATCH = r"""
cat >/tmp/obm-stamp.sh <<'EOS'
while IFS= read -r l; do printf '%s %s %s\n' "$(date +%s.%N)" "$1" "$l"; done >>"$2"
EOS
stamp="bash /tmp/obm-stamp.sh"; out=/tmp/{name}.stamps; follow="tail -n +1 -F {serial}"
setsid bash -c "$follow 2>/dev/null | $stamp src $out" </dev/null >/dev/null 2>&1 & echo $! >>/run/obm-watch.pids
setsid bash -c "ssh -o BatchMode=yes {dest} $follow 2>/dev/null | $stamp dst $out" </dev/null >/dev/null 2>&1 & echo $! >>/run/obm-watch.pids
"""


def guest_xml(name, index, cpu="", nic=None, cluster="lab"):
    nic = nic or "<interface type='bridge'><source bridge='brmig'/>"
    return f"""<domain type='qemu'><name>{name}</name><uuid>{UUID_PREFIX}{index:02d}</uuid>
<metadata><openblade:guest xmlns:openblade="urn:openblade:kvm:guest:1"><openblade:cluster>{cluster}</openblade:cluster>
</openblade:guest></metadata>
<memory unit='MiB'>128</memory><vcpu>1</vcpu>{cpu}
<os><type arch='x86_64' machine='pc'>hvm</type><kernel>{KERNEL}</kernel><initrd>{INITRD}</initrd>
<cmdline>console=ttyS0 quiet</cmdline></os>
<devices><disk type='block' device='disk'><driver name='qemu' type='raw' cache='none'/>
<source dev='/dev/{VG}/{name}'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='cdrom'><source file='/var/lib/libvirt/boot/{name}-cidata.iso'/><target dev='sda' bus='sata'/>
<readonly/></disk>
{nic}<mac address='52:54:00:0c:01:{index:02x}'/><model type='virtio'/></interface>
<serial type='file'><source path='{SERIAL.format(name)}'/><target port='0'/></serial>
<memballoon model='none'/></devices></domain>"""


TCG = {"domain_type": "qemu", "machine": "pc"}
BASELINE = {}  # what the pair fixture's cluster_cpu_baseline found: cpus, result


def cluster_cpu_baseline(blades):
    """What the cluster role does with cluster_cpu_baseline, on real blades: each blade's
    cluster_info reads its host-model CPU, then blade1's libvirt computes the baseline."""
    args = {"cluster": "obm", "ledger_dir": "/run/obm-ipam", "cpu_target": TCG}
    cpus = {blade.name: blade.module("cluster_info", args)["host_cpu"] for blade in blades}
    return cpus, blades[0].module("cluster_info", dict(args, cpu_baseline=cpus))


def cpu_xml(cpu):
    """The domain module's cpu option as the <cpu> element it writes."""
    features = "".join(f"<feature policy='{f['policy']}' name='{f['name']}'/>" for f in cpu["features"])
    return f"<cpu mode='custom' match='exact'><model fallback='forbid'>{cpu['model']}</model>{features}</cpu>"


def host_cpus(blade):
    """The blade's host CPU (virsh capabilities) as the guest CPU definition KVM's host-model
    would be: the lab's blades have no KVM, so their TCG host-model is the same everywhere."""
    caps = blade.run("virsh capabilities").stdout
    host = caps[caps.index("<cpu>", caps.index("<host>")):caps.index("</cpu>", caps.index("<host>"))]
    model = re.search(r"<model>([^<]+)</model>", host)[1]
    vendor = re.search(r"<vendor>([^<]+)</vendor>", host)[1]
    features = "".join(f"<feature policy='require' name='{name}'/>" for name in re.findall(r"<feature name='([^']+)'/>", host))
    return model, vendor, (f"<cpu mode='custom' match='exact'><model fallback='forbid'>{model}</model><vendor>{vendor}</vendor>"
                           f"{features}</cpu>")


def make_guest(blade, name, index, start, data_mib=16, **xml):
    """A 128 MiB thin LV with ``data_mib`` MiB of data at 8 MiB, a seed ISO, the domain."""
    blade.run(f"lvcreate -q --yes -T {VG}/{POOL} -V 128M -n {name} --addtag openblade.kvm && "
              f"dd if=/dev/urandom of=/dev/{VG}/{name} bs=1M seek=8 count={data_mib} oflag=direct status=none && "
              f"echo '#cloud-config' >/tmp/user-data && genisoimage -quiet -volid cidata "
              f"-output /var/lib/libvirt/boot/{name}-cidata.iso /tmp/user-data && "
              f"cat >/tmp/{name}.xml <<'EOX'\n{guest_xml(name, index, **xml)}\nEOX\n"
              f"virsh -q define /tmp/{name}.xml" + (f" && virsh -q start {name}" if start else ""))


def counts(blade, name):
    out = blade.run(f"cat {SERIAL.format(name)} 2>/dev/null", check=False).stdout
    return [int(n) for n in re.findall(r"^count (\d+)", out, re.M)]


def wait_counting(blade, name, above=0, timeout=600):
    """The counts once ``name`` printed one above ``above`` (and at least 3); a nested TCG
    guest on a busy lab can take many seconds per count, so this waits instead of sleeping."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = counts(blade, name)
        if len(found) >= 3 and found[-1] > above:
            return found
        time.sleep(3)
    pytest.fail(f"{name} on {blade} printed no count above {above} within {timeout}s")


def allocated(blade, name):
    """Bytes of pool data the LV holds, or None when it does not exist."""
    proc = blade.run(f"lvs --noheadings --units b --nosuffix -o lv_size,data_percent {VG}/{name}", check=False)
    if proc.returncode != 0:
        return None
    size, percent = proc.stdout.split()
    return int(int(size) * float(percent) / 100)


def thin_slack(source_bytes, size):
    """The rule: one pool chunk per GiB of the source's allocation (at least one), plus
    the 0.01 % of the size that lvs' two-decimal data_percent cannot show."""
    return CHUNK * max(1, -(-source_bytes // 2**30)) + size // 10000


def disk_count(blade, name):
    out = blade.run(f"dd if=/dev/{VG}/{name} bs=4096 count=1 iflag=direct status=none | head -c 16").stdout
    return int(out.strip())


def watch(src, name):
    """Start timestamping ``name``'s serial lines on both blades (see WATCH)."""
    src.run(WATCH.format(serial=SERIAL.format(name), name=name, dest=CONTROL[2]))


def serial_gap(src, name):
    """(last count on the source, first on the destination, seconds between them)."""
    lines = src.run(f"cat /tmp/{name}.stamps").stdout.splitlines()
    seen = {"src": [], "dst": []}
    for line in lines:
        match = re.match(r"([\d.]+) (src|dst) count (\d+)$", line)
        if match:
            seen[match[2]].append((float(match[1]), int(match[3])))
    (t_src, last), (t_dst, first) = seen["src"][-1], seen["dst"][0]
    return last, first, round(t_dst - t_src, 2)


def args(name, **extra):
    return dict({"name": name, "destination": CONTROL[2], "migration_address": MIGRATION[2],
                 "memory_reserve_mib": 256, "verify_timeout": 120}, **extra)


def prepare(blades):
    """Both blades set up, blade1's root trusted by blade2's; returns (source, destination)."""
    src, dest = blades[0], blades[1]
    keys = {}
    for blade in (src, dest):
        blade.run(CLEANUP)
        out = blade.run(f"bash -c {shlex.quote(SETUP)} setup {blade.index}").stdout
        keys[blade] = out.strip().splitlines()[-1]
    dest.run(f"grep -qF {shlex.quote(keys[src])} /root/.ssh/authorized_keys || "
             f"echo {shlex.quote(keys[src])} >>/root/.ssh/authorized_keys")
    src.run(f"ssh -o BatchMode=yes {CONTROL[2]} true && ssh -o BatchMode=yes {MIGRATION[2]} true")
    return src, dest


@pytest.fixture(scope="module")
def pair(blades):
    if len(blades) < 2:
        pytest.skip("needs two blades")
    src, dest = prepare(blades)
    # The running guest has the blades' baseline CPU (cluster_cpu_baseline), so the live move
    # also shows that such a guest moves.
    BASELINE["cpus"], BASELINE["result"] = cluster_cpu_baseline([src, dest])
    # Both running guests boot now (about a minute under nested TCG), beside the cold move.
    # One running guest (nested TCG is slow): first a cancelled move, then the live move.
    make_guest(src, "obm-live", 2, start=True, cpu=cpu_xml(BASELINE["result"]["cpu_baseline"]))
    yield src, dest
    for blade in (src, dest):
        blade.run(CLEANUP)


def test_cold_move_is_thin_keeps_identity_and_reruns_clean(pair):
    src, dest = pair
    make_guest(src, "obm-cold", 1, start=False)
    digest = src.run(f"sha256sum /dev/{VG}/obm-cold").stdout.split()[0]
    before = allocated(src, "obm-cold")
    _check, result = src.apply("guest_migrate", args("obm-cold"))
    assert result["mode"] == "cold" and result["state"] == "stopped"
    assert dest.run(f"sha256sum /dev/{VG}/obm-cold").stdout.split()[0] == digest
    xml = dest.run("virsh dumpxml --inactive obm-cold").stdout
    assert f"{UUID_PREFIX}01" in xml and "52:54:00:0c:01:01" in xml and "openblade:cluster" in xml
    assert dest.run("test -s /var/lib/libvirt/boot/obm-cold-cidata.iso", check=False).returncode == 0
    assert allocated(dest, "obm-cold") <= before + thin_slack(before, 128 * MIB)
    assert result["thin"] is True and result["sent"][f"{VG}/obm-cold"] == 16 * MIB
    assert allocated(src, "obm-cold") is None
    assert src.run("virsh dominfo obm-cold", check=False).returncode != 0
    for check in (True, False):
        again = src.module("guest_migrate", args("obm-cold"), check=check)
        assert (again["changed"], again["actions"]) == (False, []), again


def test_cancel_of_a_throttled_move_keeps_the_guest_on_the_source(pair):
    src, dest = pair
    wait_counting(src, "obm-live")
    # A live move needs the whole virtual size free during the copy (the mirror writes it all).
    dest.run(f"lvcreate -q --yes --type thin-pool -L 64M -n small {VG}")
    for check in (True, False):
        refused = src.module("guest_migrate", args("obm-live", pool="small"), check=check)
        assert refused.get("failed") and (
            f"thin pool {VG}/small has 64 MiB free; a live move writes the disks' full virtual size "
            "(128 MiB) there during the copy") in refused["msg"], refused
    result = src.module("guest_migrate", args("obm-live", bandwidth=1, timeout=30))
    assert result.get("failed") and "timed out after 30s" in result["msg"], result
    assert result["rolled_back"] == ["seed /var/lib/libvirt/boot/obm-live-cidata.iso on " + CONTROL[2],
                                     f"volume {VG}/obm-live on {CONTROL[2]}", "the source volumes' tags"]
    assert src.run("virsh domstate obm-live").stdout.strip() == "running"
    wait_counting(src, "obm-live", above=counts(src, "obm-live")[-1], timeout=300)
    assert dest.run("virsh dominfo obm-live", check=False).returncode != 0
    assert allocated(dest, "obm-live") is None
    assert dest.run("test -e /var/lib/libvirt/boot/obm-live-cidata.iso", check=False).returncode != 0
    assert "ob_migrated" not in src.run(f"lvs --noheadings -o lv_tags {VG}/obm-live").stdout


def test_live_move_keeps_counting_is_thin_and_leaves_nothing_on_the_source(pair):
    src, dest = pair
    wait_counting(src, "obm-live")
    watch(src, "obm-live")
    source_bytes = allocated(src, "obm-live")
    _check, result = src.apply("guest_migrate", args("obm-live", timeout=600))
    assert result["mode"] == "live" and result["answered_by"] == "vCPU time"
    assert dest.run("virsh domstate obm-live").stdout.strip() == "running"
    # It runs there with the baseline CPU model it had on the source.
    model = BASELINE["result"]["cpu_baseline"]["model"]
    assert f"<model fallback='forbid'>{model}</model>" in dest.run("virsh dumpxml obm-live").stdout
    wait_counting(dest, "obm-live", timeout=300)
    last, first, gap = serial_gap(src, "obm-live")
    after = counts(dest, "obm-live")
    # libvirt opens the serial file on the destination afresh: its first count follows the
    # source's last one (no reboot, no reset to 1, no count lost while it was paused).
    assert first == last + 1 and after == list(range(first, first + len(after))), (last, after)
    # The disk there holds the latest count the guest printed.
    seen = counts(dest, "obm-live")[-1]
    assert seen <= disk_count(dest, "obm-live") <= counts(dest, "obm-live")[-1]
    # Thin by the rule: the mirror wrote all 128 MiB, the discard gave back what the source never held.
    there = allocated(dest, "obm-live")
    assert there <= source_bytes + thin_slack(source_bytes, 128 * MIB), (there, source_bytes)
    assert result["thin"] is True and result["discarded"][f"{VG}/obm-live"] >= 100 * MIB
    assert allocated(src, "obm-live") is None
    assert src.run("virsh dominfo obm-live", check=False).returncode != 0
    assert src.run("test -e /var/lib/libvirt/boot/obm-live-cidata.iso", check=False).returncode != 0
    for check in (True, False):
        again = src.module("guest_migrate", args("obm-live"), check=check)
        assert (again["changed"], again["actions"]) == (False, []), again
    print(f"\nlive move: {result['job']}, paused for the re-thin {result['paused_seconds']} s, "
          f"serial gap {gap} s (count {last} -> {first}); allocated {source_bytes} B on the source, "
          f"{there} B on the destination (virtual {128 * MIB} B)")


def test_cluster_cpu_baseline_is_computed_from_every_blade_by_libvirt(pair, blades):
    src, _dest = pair
    cpus, result = BASELINE["cpus"], BASELINE["result"]
    assert result["changed"] is False and all(cpu["xml"] for cpu in cpus.values()), cpus
    cpu = result["cpu_baseline"]
    # TCG offers a nested guest the same CPU on every blade, so that is their baseline.
    assert cpu["mode"] == "custom" and f"<model fallback=\"forbid\">{cpu['model']}</model>" in cpus[src.name]["xml"]
    # Blades of two CPU generations of one vendor (lab/blades.py: OPENBLADE_LAB_CPU_<n>, such as
    # Nehalem and Skylake-Client): a blade's libvirt computes the baseline of their host CPUs,
    # the older model, without the newer one's features.
    hosts = {blade.name: host_cpus(blade) for blade in blades}
    pairs = [(a, b) for a in hosts for b in hosts if a < b and hosts[a][0] != hosts[b][0] and hosts[a][1] == hosts[b][1]]
    if not pairs:
        print(f"\nno two blades of one vendor with different CPU models here: {hosts}")
        return
    mixed = {name: dict(cpus[src.name], xml=hosts[name][2]) for name in pairs[0]}
    args = {"cluster": "obm", "ledger_dir": "/run/obm-ipam", "cpu_target": TCG, "cpu_baseline": mixed}
    result = src.module("cluster_info", args)
    print(f"\nbaseline of {', '.join(f'{name} {hosts[name][0]}' for name in pairs[0])}: {result.get('cpu_baseline', result.get('msg'))}")
    models = [hosts[name][0] for name in pairs[0]]
    assert result["cpu_baseline"]["model"] in models, result
    # Each blade's libvirt takes the baseline as a guest CPU that runs there.
    for name in pairs[0]:
        blade = next(blade for blade in blades if blade.name == name)
        answer = blade.run(f"cat >/tmp/obm-baseline.xml <<'EOX'\n{cpu_xml(result['cpu_baseline'])}\nEOX\n"
                           "virsh cpu-compare /tmp/obm-baseline.xml", check=False).stdout
        assert "incompatible" not in answer, (name, answer)


def test_preflight_refuses_cpu_anti_affinity_full_pool_and_missing_partition_before_any_change(pair):
    src, dest = pair
    src.run(f"virsh -q net-define /dev/stdin <<'EOX'\n<network><name>{PARTITION}</name><forward mode='bridge'/>"
            f"<bridge name='brmig'/></network>\nEOX\nvirsh -q net-start {PARTITION}")
    make_guest(src, "obm-refused", 4, start=False,
               cpu="<cpu mode='custom' match='exact'><model fallback='forbid'>Skylake-Server</model></cpu>",
               nic=f"<interface type='network'><source network='{PARTITION}'/>")
    dest.run(f"lvcreate -q --yes --type thin-pool -L 8M -n full {VG} && "
             f"lvcreate -q --yes -T {VG}/full -V 8M -n filler && "
             f"dd if=/dev/urandom of=/dev/{VG}/filler bs=1M count=8 oflag=direct status=none")
    for check in (True, False):
        # obm-cold is on the destination since the cold move above.
        result = src.module("guest_migrate", args("obm-refused", pool="full",
                                                  anti_affinity_guests=["obm-cold", "obm-elsewhere"]), check=check)
        assert result.get("failed"), result
        assert result["msg"].startswith(f"guest obm-refused: refusing to migrate to {CONTROL[2]}: ")
        assert result["refusals"] == [
            "its CPU (Skylake-Server) is incompatible with the destination's hypervisor CPU",
            "obm-cold, of its anti-affinity group, is defined there",
            f"NIC 52:54:00:0c:01:04: partition (libvirt network) {PARTITION} does not exist there",
            f"thin pool {VG}/full has 0 MiB free, the disks hold 16 MiB",
        ], result["refusals"]
    assert allocated(dest, "obm-refused") is None
    assert dest.run("test -e /var/lib/libvirt/boot/obm-refused-cidata.iso", check=False).returncode != 0
    assert "ob_migrated" not in src.run(f"lvs --noheadings -o lv_tags {VG}/obm-refused").stdout
