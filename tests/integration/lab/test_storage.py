"""Storage on a real blade: a thin pool on the data disk, a golden image with known
content, three thin clones that share it, a write that only one clone sees, growth,
snapshots pruned to the retention, a removal refused for a stopped domain's disk, and
a second run of everything that changes nothing.

Runs on the lab's last blade only (blade3 of the usual 3), so `make test` runs it beside
the network suite, which owns blade1 and blade2; it leaves /dev/vdb blank.
"""

from __future__ import annotations

import json
import textwrap

import harness
import pytest

VG = "obt_vg"
WORK = "/var/tmp/obt"
DOMAIN = "obt-test-guest"
PROFILE = "/etc/lvm/profile/openblade-kvm-obt_vg-thinpool.profile"
MIB = 1024 ** 2
GIB = 1024 ** 3

POOL = dict(vg=VG, pvs=["/dev/disk/by-id/virtio-bladedata"], pool="thinpool", size="8g",
            chunk_size="64k", metadata_size="16m", autoextend_threshold=80, autoextend_percent=20,
            max_overcommit=3)

# Only ever touch our own: /dev/vdb must be the blade's data disk, blank or our VG's PV.
GUARD = ('[ "$(lsblk -dno SERIAL /dev/vdb)" = bladedata ] || { echo "/dev/vdb is not the data disk"; '
         'exit 3; }; vg=$(pvs --noheadings -o vg_name /dev/vdb 2>/dev/null | tr -d " "); '
         f'[ -z "$vg" ] || [ "$vg" = {VG} ] || {{ echo "/dev/vdb belongs to VG $vg"; exit 4; }}; ')
# Drop what an earlier, interrupted run left behind: the test VG, its profile, the domain.
CLEANUP = (f"virsh undefine {DOMAIN} >/dev/null 2>&1; "
           f"if vgs {VG} >/dev/null 2>&1; then vgremove -ff -y {VG} >/dev/null; fi; "
           "if pvs /dev/vdb >/dev/null 2>&1; then pvremove -y /dev/vdb >/dev/null; fi; "
           f"rm -f {PROFILE}; rm -rf {WORK}; ")

# A 32 MiB raw image holding a marker at 1 MiB and 1 MiB of random data at 8 MiB (the
# rest is holes), its qcow2 twin, and the block a 'guest' writes into one clone.  Small,
# because under TCG hashing a device costs seconds per 10 MiB.
MAKE_IMAGES = ("wipefs --no-act /dev/vdb | grep -q . && exit 5; "
               f"mkdir -p {WORK} && cd {WORK} && truncate -s 32M golden.raw && "
               "printf openblade-golden-v1 | dd of=golden.raw bs=1 seek=1048576 conv=notrunc "
               "status=none && head -c 1M /dev/urandom | dd of=golden.raw bs=1M seek=8 "
               "conv=notrunc status=none && qemu-img convert -f raw -O qcow2 golden.raw golden.qcow2 "
               "&& yes written-by-guest1 | head -c 4096 > block && sha256sum golden.raw golden.qcow2 "
               "block")


def sums(text):
    """`sha256sum` output -> {name: digest}."""
    return {line.split()[1]: line.split()[0] for line in text.splitlines() if line.strip()}


@pytest.fixture(scope="module")
def blade(blades):
    return blades[-1]


@pytest.fixture(scope="module")
def lab(blade):
    digests = sums(blade.run(GUARD + CLEANUP + MAKE_IMAGES).stdout)
    yield {"raw": digests["golden.raw"], "qcow2": digests["golden.qcow2"], "block": digests["block"],
           "golden": dict(vg=VG, pool="thinpool", name="img", version="1",
                          src=f"{WORK}/golden.qcow2", format="qcow2",
                          checksum=f"sha256:{digests['golden.qcow2']}")}
    left = json.loads(blade.run(GUARD + CLEANUP + "wipefs --no-act --json /dev/vdb").stdout
                      or '{"signatures": []}')
    assert left["signatures"] == [], f"/dev/vdb is not blank after the suite: {left}"


def run_tasks(blade, tmp_path, tasks):
    """Run a few tasks on the blade in one ansible-playbook (setup steps, not under test)."""
    playbook = tmp_path / "steps.yml"
    playbook.write_text(f"- hosts: {blade.name}\n  gather_facts: false\n  tasks:\n"
                        + textwrap.indent(textwrap.dedent(tasks), "    "))
    results = harness.ansible_playbook(str(playbook), blade.name)
    for result in results:
        assert not result.get("failed"), result
    return results


def test_thin_pool_on_the_data_disk(blade, lab):
    _predicted, result = blade.apply("lvm_thinpool", POOL, diff=True)
    assert result["actions"] == [
        "initialise /dev/disk/by-id/virtio-bladedata (/dev/vdb) as an LVM physical volume",
        "create volume group obt_vg on /dev/disk/by-id/virtio-bladedata (/dev/vdb)",
        f"write LVM profile {PROFILE} (autoextend by 20% at 80% full)",
        "create thin pool obt_vg/thinpool of 8 GiB (chunks of 64 KiB, 16 MiB metadata)",
    ]
    facts = result["thinpool"]
    assert (facts["size"], facts["chunk_size"], facts["metadata_size"]) == (8 * GIB, 64 * 1024, 16 * MIB)
    assert (facts["max_overcommit"], facts["overcommit"]) == (3.0, 0.0)
    assert (facts["autoextend_threshold"], facts["autoextend_percent"], facts["monitored"]) == (80, 20, True)
    # LVM itself reads our profile for the pool.
    seen = blade.run(f"lvs --noheadings -o lv_layout,lv_tags {VG}/thinpool; lvmconfig --type full "
                     "--metadataprofile openblade-kvm-obt_vg-thinpool "
                     "activation/thin_pool_autoextend_threshold").stdout.split()
    assert seen == ["thin,pool", "ob_max_overcommit=3,openblade.kvm", "thin_pool_autoextend_threshold=80"]


def test_golden_image_holds_the_image_and_only_its_data(blade, lab):
    _predicted, result = blade.apply("golden_image", lab["golden"])
    assert result["actions"] == [
        "create thin volume obt_vg/img-1 of 32 MiB in thin pool thinpool for image img version 1",
        f"import {WORK}/golden.qcow2 (qcow2) into obt_vg/img-1, writing only allocated blocks",
        f"mark obt_vg/img-1 as golden image img version 1 (sha256 {lab['qcow2'][:12]}..., read-only)",
    ]
    out = blade.run(f"sha256sum /dev/{VG}/img-1; lvs --noheadings -o data_percent,lv_attr,lv_tags "
                    f"{VG}/img-1").stdout.split()
    assert out[0] == lab["raw"]  # byte for byte the raw image
    percent, attr, lv_tags = float(out[2]), out[3], out[4].split(",")
    # 1 MiB + the marker's 64 KiB chunk of 32 MiB (3.3%): holes were not written, where a
    # full copy would have provisioned all of it.
    assert 3.0 <= percent < 4.0, percent
    assert attr[1] == "r"  # read-only
    assert {"ob_golden", "ob_version=1", "ob_image=img", f"ob_sha256={lab['qcow2']}"} <= set(lv_tags)


def test_three_clones_share_the_golden_image_until_one_is_written(blade, lab, tmp_path):
    _predicted, first = blade.apply("lvm_clone", dict(vg=VG, name="c1", origin="img-1", owner="guest1"))
    assert first["actions"] == ["create thin clone obt_vg/c1 of golden image obt_vg/img-1 for guest guest1"]
    clones = run_tasks(blade, tmp_path, f"""\
        - openblade.kvm.lvm_clone:
            {{vg: {VG}, name: "{{{{ item }}}}", origin: img-1, owner: "{{{{ item }}}}"}}
          loop: [c2, c3]
        """)
    assert [item["changed"] for item in clones[0]["results"]] == [True, True]
    out = blade.run(f"dd if={WORK}/block of=/dev/{VG}/c1 bs=4096 seek=256 oflag=direct conv=notrunc "
                    f"status=none && blockdev --flushbufs /dev/{VG}/c1 && "
                    f"sha256sum /dev/{VG}/img-1 /dev/{VG}/c1 /dev/{VG}/c2 /dev/{VG}/c3 && "
                    f"lvs --noheadings -o lv_name,lv_attr,lv_tags {VG}/c1").stdout
    digests = sums("\n".join(out.splitlines()[:4]))
    assert digests[f"/dev/{VG}/img-1"] == lab["raw"]
    assert digests[f"/dev/{VG}/c2"] == digests[f"/dev/{VG}/c3"] == lab["raw"]
    assert digests[f"/dev/{VG}/c1"] != lab["raw"]
    name, attr, lv_tags = out.splitlines()[4].split()
    assert attr[4] == "a" and not attr.endswith("k")  # active, no activation-skip flag
    assert {"ob_clone", "ob_owner=guest1", "ob_origin=img-1", "ob_version=1"} <= set(lv_tags.split(","))


def test_grow_a_clone_keeps_what_the_guest_wrote(blade, lab):
    _predicted, result = blade.apply("lvm_clone", dict(vg=VG, name="c1", origin="img-1", owner="guest1",
                                                       size="256m"))
    assert result["actions"] == ["extend obt_vg/c1 from 32 MiB to 256 MiB"]
    out = blade.run(f"blockdev --getsize64 /dev/{VG}/c1; dd if=/dev/{VG}/c1 bs=4096 skip=256 count=1 "
                    "status=none | sha256sum").stdout.split()
    assert int(out[0]) == 256 * MIB
    assert out[1] == lab["block"]


def test_snapshots_are_pruned_to_the_retention_and_only_ours(blade, lab, tmp_path):
    # A snapshot made by hand, which retention must never count or touch, and our first one.
    first = run_tasks(blade, tmp_path, f"""\
        - ansible.builtin.command: lvcreate --yes --snapshot --name c1-manual {VG}/c1
        - openblade.kvm.lvm_snapshot: {{vg: {VG}, volume: c1, label: a, retention: 1}}
        """)
    assert first[1]["actions"] == ["create read-only snapshot obt_vg/c1-snap-a of obt_vg/c1"]
    _predicted, second = blade.apply("lvm_snapshot", dict(vg=VG, volume="c1", label="b", retention=1))
    assert second["actions"] == ["create read-only snapshot obt_vg/c1-snap-b of obt_vg/c1",
                                 "remove snapshot obt_vg/c1-snap-a (beyond the retention of 1)"]
    assert second["pruned"] == ["c1-snap-a"]
    left = dict(line.split() for line in blade.run(
        f"lvs --noheadings -o lv_name,lv_attr -S origin=c1 {VG}").stdout.splitlines())
    assert sorted(left) == ["c1-manual", "c1-snap-b"]
    assert left["c1-snap-b"][1] == "r"


DOMAIN_XML = textwrap.dedent(f"""\
    <domain type='qemu'>
      <name>{DOMAIN}</name>
      <memory unit='MiB'>64</memory>
      <os><type arch='x86_64'>hvm</type></os>
      <devices>
        <disk type='block' device='disk'>
          <source dev='/dev/{VG}/vol1'/><target dev='vda' bus='virtio'/>
        </disk>
      </devices>
    </domain>""")


def test_volume_of_a_defined_domain_is_not_removed(blade, lab, tmp_path):
    steps = run_tasks(blade, tmp_path, f"""\
        - openblade.kvm.lvm_volume: {{vg: {VG}, pool: thinpool, name: vol1, size: 1g}}
        - ansible.builtin.shell:
            cmd: virsh define /dev/stdin >/dev/null && virsh domstate {DOMAIN}
            stdin: {json.dumps(DOMAIN_XML)}
        """)
    assert steps[0]["actions"] == ["create thin volume obt_vg/vol1 of 1 GiB in thin pool thinpool"]
    assert steps[1]["stdout"].strip() == "shut off"
    removal = dict(vg=VG, name="vol1", state="absent")
    for check in (True, False):
        refused = blade.module("lvm_volume", removal, check=check)
        assert refused.get("failed"), refused
        assert (f"refusing to remove obt_vg/vol1: libvirt domain '{DOMAIN}' (defined, not running) "
                "uses it") in refused["msg"]
        assert refused["users"]["stopped_domains"] == [DOMAIN]
    # The volume survived: the re-run below finds it unchanged (it would create it otherwise).


PLAYBOOK = """\
- hosts: {host}
  gather_facts: false
  roles:
    - role: openblade.kvm.storage
      vars:
        storage_pools: [{pool}]
        storage_golden_images: [{golden}]
  tasks:
    - name: Clones
      openblade.kvm.lvm_clone: {{vg: {vg}, name: "{{{{ item.name }}}}", origin: img-1,
                                owner: "{{{{ item.owner }}}}", size: "{{{{ item.size | default(omit) }}}}"}}
      loop: [{{name: c1, owner: guest1, size: 256m}}, {{name: c2, owner: c2}}, {{name: c3, owner: c3}}]
    - name: Snapshot
      openblade.kvm.lvm_snapshot: {{vg: {vg}, volume: c1, label: b, retention: 1}}
    - name: Volume
      openblade.kvm.lvm_volume: {{vg: {vg}, pool: thinpool, name: vol1, size: 1g}}
"""


def test_second_run_of_everything_changes_nothing(blade, lab, tmp_path):
    playbook = tmp_path / "storage.yml"
    playbook.write_text(PLAYBOOK.format(host=blade.name, pool=json.dumps(POOL),
                                        golden=json.dumps(lab["golden"]), vg=VG))
    results = harness.ansible_playbook(str(playbook), blade.name, diff=True)
    ours = [item for result in results for item in result.get("results", [result]) if "actions" in item]
    # 1 pool, 1 image, 3 clones, 1 snapshot, 1 volume
    assert len(ours) == 7, [item.get("invocation") for item in ours]
    assert [item["actions"] for item in ours if item["changed"]] == []
    assert not any(result["changed"] for result in results)
    facts = next(r for r in results if "ansible_facts" in r and "storage_golden" in r["ansible_facts"])
    assert facts["ansible_facts"]["storage_golden"]["img"]["lv"] == "img-1"
    # Everything is still there, the hand-made snapshot and the stopped domain included.
    left = blade.run(f"lvs --noheadings -o lv_name {VG}; virsh domstate {DOMAIN}").stdout.split()
    assert sorted(left) == sorted(["thinpool", "img-1", "c1", "c2", "c3", "c1-manual", "c1-snap-b",
                                   "vol1", "shut", "off"])
