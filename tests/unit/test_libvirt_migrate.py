# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""guest_migrate's reconcile against two private libvirt test drivers (source and
destination) and two LVM hosts answered from tables.  The test driver cannot migrate,
so the data path (the libvirt job, the sparse copy) is a stand-in that moves the
definition the way libvirt does; the lab tier proves the real one."""

from __future__ import annotations

import grp
import os
import pwd

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import migrate_job, remote
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import Hypervisor
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.migrate import Migration
from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands, thinmap
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError, reconcile
from ansible_collections.openblade.kvm.tests.unit import lvm_host as lh
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner

libvirt = pytest.importorskip("libvirt")

UUID = "2b5d8e8a-7d0c-5a8e-9f43-2f8e0c6b1a11"
NAME = "web1"
NODE = """<node>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads><mhz>2000</mhz></cpu>
  <memory>8388608</memory>
  {networks}
</node>"""
NETWORK = """<network><name>{0}</name><bridge name='br-{0}'/><forward mode='bridge'/></network>"""


def guest_xml(seed_path, hostdev=False):
    extra = (
        "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='1' slot='0' function='0'/>"
        "</source></hostdev>"
        if hostdev
        else ""
    )
    return f"""<domain type='test'>
  <name>{NAME}</name><uuid>{UUID}</uuid>
  <metadata><openblade:guest xmlns:openblade="urn:openblade:kvm:guest:1">
  <openblade:cluster>c1</openblade:cluster></openblade:guest></metadata>
  <memory unit='MiB'>512</memory><vcpu>2</vcpu>
  <os><type arch='i686'>hvm</type></os>
  <devices>
    <disk type='block' device='disk'><driver name='qemu' type='raw'/>
      <source dev='/dev/{lh.VG}/{NAME}'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><source file='{seed_path}'/><target dev='sda' bus='sata'/>
      <readonly/></disk>
    <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='office'/></interface>
    {extra}
  </devices>
</domain>"""


class DriverConnection:
    """The test driver lacks the hypervisor CPU and domain capability calls: answer them."""

    def __init__(self, conn, machine_ok=True):
        self._conn = conn
        self.machine_ok = machine_ok

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def compareHypervisorCPU(self, *args):  # noqa: N802 - libvirt's name
        return libvirt.VIR_CPU_COMPARE_IDENTICAL

    def getDomainCapabilities(self, emulator, arch, machine, virttype, flags):  # noqa: N802
        if not self.machine_ok:
            raise libvirt.libvirtError("unsupported machine")
        return "<domainCapabilities/>"


def hypervisor(tmp_path, role, networks=("office",), **kwargs):
    node = tmp_path / f"{role}.xml"
    node.write_text(NODE.format(networks="".join(NETWORK.format(net) for net in networks)))
    hv = Hypervisor(connection=libvirt.open(f"test://{node}"))
    hv.conn = DriverConnection(hv.conn, **kwargs)
    hv.uri = "qemu+ssh://root@blade2/system"
    return hv


class FakeRemote(FakeRunner):
    """The destination's runner; ``start`` runs the command when its input is finished."""

    def start(self, argv):
        return Started(self, argv)


class Started:
    def __init__(self, runner, argv):
        self.runner, self.argv = runner, argv

    def finish(self, data=b""):
        return self.runner.run(self.argv, data=data)


class Mover:
    """The data path's stand-in: moves the definition as libvirt's job would (with
    VIR_MIGRATE_PAUSED, the guest arrives paused)."""

    def __init__(self, source, dest, fail=False):
        self.source, self.dest, self.fail = source, dest, fail
        self.calls = []
        self.resume_fails = False

    def live(self, timeout):
        self.calls.append(("live", timeout))
        if self.fail:
            raise migrate_job.MigrationFailed(
                "live migration of web1 failed: timed out after 5s; the job was aborted"
            )
        dom = self.source.lookup(NAME)
        xml = self.source.inactive_xml(dom)
        self.source.destroy(dom)
        self.source.undefine(dom)
        moved = self.dest.define(xml)
        self.dest.start(moved)
        self.dest.suspend(moved)
        if self.resume_fails:
            self.dest.resume = self._refuse_resume
        return {"seconds": 1.0}

    def _refuse_resume(self, dom):
        raise ReconcileError("resume web1: internal error: unable to execute QEMU command 'cont'")

    def cold(self, volumes):
        self.calls.append(("cold", [lv.full_name for _t, lv in volumes]))


# The source volume's map in its pool (thin id 3, 64 KiB chunks): 256 MiB at 0 and 256 MiB at
# 1 GiB, its 25 % of 2 GiB.  thin_dump's XML as the lab blades' thin-provisioning-tools print it.
TPOOL = f"{lh.VG}-thinpool-tpool"
DUMP = """<superblock uuid="" time="1" transaction="4" flags="0" version="2" data_block_size="128" \
nr_data_blocks="0">
  <device dev_id="3" mapped_blocks="8192" transaction="2" creation_time="1" snap_time="1">
    <range_mapping origin_begin="0" data_begin="0" length="4096" time="1"/>
    <range_mapping origin_begin="16384" data_begin="4096" length="4096" time="1"/>
  </device>
</superblock>"""
HOLES = [(256 * lh.MIB, 768 * lh.MIB), (1280 * lh.MIB, 768 * lh.MIB)]
THIN_DUMP = ("thin_dump", "--metadata-snap", "--dev-id", "3", f"/dev/mapper/{lh.VG}-thinpool_tmeta")
RELEASE = ("dmsetup", "message", TPOOL, "0", "release_metadata_snap")


def src_lvs(tags=("openblade.kvm",), dump=(0, DUMP, "")):
    thin = {"report": [{"lv": [{"lv_name": NAME, "vg_name": lh.VG, "pool_lv": "thinpool", "thin_id": "3",
                                "lv_size": str(2 * lh.GIB)}]}]}
    return lh.host(
        vgs=[lh.vg()],
        lvs=[lh.pool(data=10.0), lh.lv(NAME, size=2 * lh.GIB, data=25.0, tags=tags)],
        extra={
            ("dmsetup", "status", TPOOL): (0, "0 20971520 thin-pool 4 90/4096 16384/163840 - rw "
                                              "discard_passdown queue_if_no_space - 256\n", ""),
            ("dmsetup", "message", TPOOL, "0", "reserve_metadata_snap"): (0, "", ""),
            RELEASE: (0, "", ""),
            tuple(commands.thin_lvs(lh.VG)): (0, thin, ""),
            THIN_DUMP: dump,
        },
    )


def dest_lvs(free_data=5.0, volumes=()):
    return lh.host(vgs=[lh.vg()], lvs=[lh.pool(data=free_data), *volumes])


def params(tmp_path, **overrides):
    base = {
        "name": NAME,
        "destination": "blade2",
        "migration_address": "10.79.0.2",
        "ssh_user": "root",
        "ssh_port": None,
        "ssh_identity": None,
        "pool": None,
        "bandwidth": 0,
        "max_downtime": None,
        "auto_converge": True,
        "postcopy_without_rollback": False,
        "tls": False,
        "timeout_per_gib": 300,
        "timeout": None,
        "verify_timeout": 5,
        "cpu_ratio": 4.0,
        "memory_reserve_mib": 1024,
        "seed_dir": str(tmp_path),
        "force": False,
        "anti_affinity_guests": [],
    }
    base.update(overrides)
    return base


TAG_SRC = commands.LVCHANGE.argv(addtag=f"ob_migrated={UUID}", positional=[f"{lh.VG}/{NAME}"])
UNTAG_SRC = commands.LVCHANGE.argv(deltag=f"ob_migrated={UUID}", positional=[f"{lh.VG}/{NAME}"])
CREATE = commands.LVCREATE.argv(
    type="thin",
    virtualsize=f"{2 * lh.GIB}b",
    thinpool="thinpool",
    addtag=["openblade.kvm", f"ob_migrating={UUID}"],
    name=NAME,
    positional=[lh.VG],
)
REMOVE_DEST = commands.LVREMOVE.argv(positional=[f"{lh.VG}/{NAME}"])
UNTAG_DEST = commands.LVCHANGE.argv(deltag=f"ob_migrating={UUID}", positional=[f"{lh.VG}/{NAME}"])
REMOVE_SRC = commands.LVREMOVE.argv(positional=[f"{lh.VG}/{NAME}"])
DISCARD = migrate_job.receiver_argv([f"/dev/{lh.VG}/{NAME}"])


def seed_copy(path):
    # The copy keeps the seed's owner and its 0640 (the guests role restricts seeds); it is
    # created 0600 so that it is never readable by all on the way.
    user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    return [
        ["mkdir", "-p", str(path.parent)],
        ["install", "-m", "0600", "-o", user, "-g", group, "/dev/null", f"{path}.migrating"],
        ["dd", f"of={path}.migrating", "status=none"],
        ["chmod", "0640", f"{path}.migrating"],
        ["mv", "-f", f"{path}.migrating", str(path)],
    ]


class Setup:
    """Source and destination with the guest on the source; ``run`` reconciles once."""

    def __init__(
        self,
        tmp_path,
        running=True,
        dest_networks=("office",),
        dest_table=None,
        hostdev=False,
        machine_ok=True,
        fail=False,
        **overrides,
    ):
        self.tmp_path = tmp_path
        self.seed = tmp_path / f"{NAME}-cidata.iso"
        self.seed.write_bytes(b"seed")
        self.seed.chmod(0o640)
        self.source = hypervisor(tmp_path, "src")
        self.dest = hypervisor(tmp_path, "dest", networks=dest_networks, machine_ok=machine_ok)
        dom = self.source.define(guest_xml(self.seed, hostdev))
        if running:
            self.source.start(dom)
        self.mover = Mover(self.source, self.dest, fail=fail)
        self.params = params(tmp_path, **overrides)
        self.src_table = src_lvs()
        self.dest_table = dest_table if dest_table is not None else dest_lvs()
        self.dest_table[tuple(DISCARD)] = (0, f"{3 * lh.GIB // 2}\n", "")

    def run(self, check_mode=False, src_mutations=(), dest_mutations=()):
        self.src = FakeRunner({**self.src_table, **{tuple(m): (0, "", "") for m in src_mutations}})
        self.remote = FakeRemote({**self.dest_table, **{tuple(m): (0, "", "") for m in dest_mutations}})
        resource = Migration(
            self.source,
            self.dest,
            self.src,
            self.remote,
            self.params,
            lock_dir=str(self.tmp_path),
            copier=self.mover,
        )
        return reconcile(resource, check_mode=check_mode)

    def mutations(self, runner, table):
        return [list(call) for call in runner.calls if call not in table]


def test_live_move_check_mode_predicts_the_run_and_keeps_identity(tmp_path):
    setup = Setup(tmp_path)
    src_mut = [TAG_SRC, REMOVE_SRC]
    dest_mut = [CREATE, *seed_copy(setup.seed), UNTAG_DEST]
    checked = setup.run(check_mode=True, src_mutations=src_mut, dest_mutations=dest_mut)
    assert setup.mutations(setup.src, setup.src_table) == []
    assert setup.mutations(setup.remote, setup.dest_table) == []
    assert setup.mover.calls == [] and setup.dest.lookup(NAME) is None
    assert tuple(DISCARD) not in setup.remote.calls

    real = setup.run(src_mutations=src_mut, dest_mutations=dest_mut)
    assert (checked["changed"], checked["actions"]) == (real["changed"], real["actions"])
    assert real["actions"] == [
        f"tag {lh.VG}/{NAME} on this blade ob_migrated={UUID} (kept until {NAME} answers on blade2)",
        f"create thin volume {lh.VG}/{NAME} of 2 GiB in thin pool thinpool on blade2",
        f"copy cloud-init seed {setup.seed} to blade2",
        f"live-migrate {NAME} to blade2 over tcp://10.79.0.2 (1 disk(s), no bandwidth limit, "
        "abort after 300s); paused there until what the source never wrote is discarded on blade2",
        f"check that {NAME} runs on blade2 and answers",
        "untag the volumes on blade2 and measure their allocation",
        f"remove thin volume {lh.VG}/{NAME} on this blade",
        f"remove cloud-init seed {setup.seed} on this blade",
    ]
    assert setup.mutations(setup.src, setup.src_table) == src_mut
    assert setup.mutations(setup.remote, setup.dest_table) == dest_mut
    assert setup.remote.inputs[setup.remote.calls.index(tuple(dest_mut[3]))] == b"seed"
    # Re-thin: the source's holes, read under a metadata snapshot that is released, are
    # discarded on the destination in one call, before the guest is resumed.
    assert setup.src.calls.index(THIN_DUMP) < setup.src.calls.index(RELEASE)
    frames = setup.remote.inputs[setup.remote.calls.index(tuple(DISCARD))]
    assert frames == b"".join(migrate_job.discard_frame(0, *hole) for hole in HOLES)
    assert real["discarded"] == {f"{lh.VG}/{NAME}": 3 * lh.GIB // 2}
    assert setup.dest.state(setup.dest.lookup(NAME)) == "running" and "warnings" not in real
    assert real["mode"] == "live" and real["source_allocated"] == lh.GIB // 2
    assert real["answered_by"] == "vCPU time"
    # The table's destination has no volume yet (the fake does not create it): nothing measured.
    assert real["allocation"] == {} and real["thin"] is True
    moved = setup.dest.lookup(NAME)
    assert moved.UUIDString() == UUID and "52:54:00:aa:bb:cc" in setup.dest.inactive_xml(moved)
    assert "openblade:cluster" in setup.dest.inactive_xml(moved) and setup.source.lookup(NAME) is None
    assert not setup.seed.exists()


def test_second_run_with_the_guest_on_the_destination_changes_nothing(tmp_path):
    setup = Setup(tmp_path)
    setup.mover.live(60)
    setup.dest.resume(setup.dest.lookup(NAME))
    setup.mover.calls.clear()
    for check_mode in (True, False):
        result = setup.run(check_mode=check_mode)
        assert (result["changed"], result["actions"]) == (False, [])
        assert result["state"] == "running"


def test_a_later_run_removes_source_volumes_an_earlier_run_left_tagged(tmp_path):
    setup = Setup(tmp_path)
    setup.mover.live(60)
    setup.dest.resume(setup.dest.lookup(NAME))
    setup.src_table = src_lvs(tags=("openblade.kvm", f"ob_migrated={UUID}"))
    result = setup.run(src_mutations=[REMOVE_SRC])
    assert result["actions"] == [
        f"check that {NAME} runs on blade2 and answers",
        f"remove thin volume {lh.VG}/{NAME} on this blade (left by an earlier migration of {NAME})",
    ]
    assert setup.mutations(setup.src, setup.src_table) == [REMOVE_SRC]


def test_a_later_run_resumes_a_guest_an_interrupted_run_left_paused_after_the_rethin(tmp_path):
    setup = Setup(tmp_path)
    setup.mover.live(60)  # arrives paused; the run that moved it was killed here
    setup.src_table = src_lvs(tags=("openblade.kvm", f"ob_migrated={UUID}"))
    for check_mode in (True, False):
        result = setup.run(check_mode=check_mode, src_mutations=[REMOVE_SRC])
        assert result["actions"] == [
            f"discard on blade2 what the source never wrote and resume {NAME} there (left paused by an "
            "interrupted migration)",
            f"check that {NAME} runs on blade2 and answers",
            f"remove thin volume {lh.VG}/{NAME} on this blade (left by an earlier migration of {NAME})",
        ]
    assert setup.remote.inputs[setup.remote.calls.index(tuple(DISCARD))] == b"".join(
        migrate_job.discard_frame(0, *hole) for hole in HOLES)
    assert setup.dest.state(setup.dest.lookup(NAME)) == "running"
    assert setup.mutations(setup.src, setup.src_table) == [REMOVE_SRC]


def test_failed_job_rolls_back_only_what_this_run_created(tmp_path):
    setup = Setup(tmp_path, fail=True)
    with pytest.raises(ReconcileError) as caught:
        setup.run(
            src_mutations=[TAG_SRC, UNTAG_SRC],
            dest_mutations=[CREATE, *seed_copy(setup.seed), REMOVE_DEST, ["rm", "-f", str(setup.seed)]],
        )
    details = caught.value.details
    assert "timed out" in str(caught.value)
    assert details["failed_action"].startswith(f"live-migrate {NAME}")
    assert details["rolled_back"] == [
        f"seed {setup.seed} on blade2",
        f"volume {lh.VG}/{NAME} on blade2",
        "the source volumes' tags",
    ]
    assert setup.mutations(setup.remote, setup.dest_table)[-2:] == [
        ["rm", "-f", str(setup.seed)],
        REMOVE_DEST,
    ]
    # The discarding end started before the job ended (no frames) before the volume's removal.
    assert setup.remote.calls.index(tuple(DISCARD)) < setup.remote.calls.index(tuple(REMOVE_DEST))
    assert setup.remote.inputs[setup.remote.calls.index(tuple(DISCARD))] == b""
    assert setup.mutations(setup.src, setup.src_table) == [TAG_SRC, UNTAG_SRC]
    assert setup.source.state(setup.source.lookup(NAME)) == "running" and setup.dest.lookup(NAME) is None
    assert setup.seed.exists()


def test_preflight_names_guest_blade_and_every_reason_also_in_check_mode(tmp_path):
    full = dest_lvs(free_data=99.9, volumes=[lh.lv(NAME, size=lh.GIB)])
    setup = Setup(
        tmp_path, dest_networks=(), dest_table=full, hostdev=True, machine_ok=False, memory_reserve_mib=8000
    )
    for check_mode in (True, False):
        with pytest.raises(ReconcileError) as caught:
            setup.run(check_mode=check_mode)
        message = str(caught.value)
        assert message.startswith(f"guest {NAME}: refusing to migrate to blade2: ")
        for reason in (
            "passthrough device",
            "machine type",
            "not enough memory",
            "partition (libvirt network) office does not exist there",
            f"volume {lh.VG}/{NAME} already exists there",
            "thin pool obt_vg/thinpool has 10 MiB free",
        ):
            assert reason in message, reason
        assert setup.mutations(setup.src, setup.src_table) == []
        assert setup.mutations(setup.remote, setup.dest_table) == []


def test_a_guest_of_its_anti_affinity_group_on_the_destination_refuses_the_move(tmp_path):
    setup = Setup(tmp_path, anti_affinity_guests=["web9", "web8"])
    other = guest_xml(setup.seed).replace(NAME, "web9").replace(UUID, "2c1f6a0e-0d9b-4c55-9d3e-6b0b8a1c0f09")
    setup.dest.define(other)  # defined, not running: the placement counts it too
    for check_mode in (True, False):
        with pytest.raises(ReconcileError) as caught:
            setup.run(check_mode=check_mode)
        assert str(caught.value) == (
            f"guest {NAME}: refusing to migrate to blade2: web9, of its anti-affinity group, is defined there"
        )
        assert setup.mutations(setup.remote, setup.dest_table) == []
    with pytest.raises(ReconcileError, match="anti_affinity_guests"):
        Setup(tmp_path, anti_affinity_guests=["a/b"]).run()


def test_cold_move_of_a_stopped_guest_defines_there_and_undefines_here(tmp_path):
    setup = Setup(tmp_path, running=False)
    src_mut = [TAG_SRC, REMOVE_SRC]
    dest_mut = [CREATE, *seed_copy(setup.seed), UNTAG_DEST]
    result = setup.run(src_mutations=src_mut, dest_mutations=dest_mut)
    assert result["mode"] == "cold"
    assert setup.mover.calls == [("cold", [f"{lh.VG}/{NAME}"])]
    moved = setup.dest.lookup(NAME)
    assert moved.UUIDString() == UUID and setup.dest.state(moved) == "stopped"
    assert "discard='unmap'" in setup.dest.inactive_xml(
        moved
    ) or 'discard="unmap"' in setup.dest.inactive_xml(moved)
    assert setup.source.lookup(NAME) is None


def test_bad_input_fails_before_anything_runs(tmp_path):
    with pytest.raises(ReconcileError, match="bandwidth: -1 must not be negative"):
        Setup(tmp_path, bandwidth=-1).run()


def test_ssh_runner_quotes_each_word_and_uri_carries_the_identity():
    local = FakeRunner({})
    runner = remote.SshRunner(local, "blade2", port=2222, identity="/root/.ssh/mig")
    assert runner.wrap(["dd", "of=/tmp/a b"]) == [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=20",
        "-o",
        "ServerAliveInterval=5",
        "-o",
        "ServerAliveCountMax=3",
        "-o",
        "ControlMaster=auto",
        "-o",
        "ControlPath=/run/openblade-kvm-ssh-%C",
        "-o",
        "ControlPersist=30",
        "-p",
        "2222",
        "-i",
        "/root/.ssh/mig",
        "-l",
        "root",
        "blade2",
        "--",
        "dd 'of=/tmp/a b'",
    ]
    assert (
        remote.libvirt_uri("blade2", identity="/root/.ssh/mig")
        == "qemu+ssh://root@blade2/system?no_tty=1&keyfile=%2Froot%2F.ssh%2Fmig"
    )


def test_live_flags_and_params():
    options = params("/tmp", bandwidth=1, postcopy_without_rollback=True)
    flags = migrate_job.flags(options)
    for flag in (
        "LIVE",
        "PEER2PEER",
        "PERSIST_DEST",
        "UNDEFINE_SOURCE",
        "NON_SHARED_DISK",
        "ABORT_ON_ERROR",
        "AUTO_CONVERGE",
        "POSTCOPY",
    ):
        assert flags & getattr(libvirt, f"VIR_MIGRATE_{flag}"), flag
    assert not flags & libvirt.VIR_MIGRATE_TUNNELLED
    assert flags & libvirt.VIR_MIGRATE_PAUSED == 0  # post-copy runs the destination early
    assert migrate_job.flags(dict(options, postcopy_without_rollback=False)) & libvirt.VIR_MIGRATE_PAUSED
    found = migrate_job.params(options, ["vda"], "<domain/>", "<domain>p</domain>")
    assert found[libvirt.VIR_MIGRATE_PARAM_URI] == "tcp://10.79.0.2"
    assert found[libvirt.VIR_MIGRATE_PARAM_DISKS_URI] == "tcp://10.79.0.2"
    assert found[libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS] == "10.79.0.2"
    assert found[libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS] == ["vda"]
    assert found[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] == 1
    assert found[libvirt.VIR_MIGRATE_PARAM_PERSIST_XML] == "<domain>p</domain>"


def test_allocation_rule_flags_a_destination_the_mirror_filled(tmp_path):
    """Measured in the lab: QEMU 7.2's mirror provisions zeros on a Linux 6.1 thin pool."""
    setup = Setup(tmp_path)
    source_lv = lh.lv(NAME, size=2 * lh.GIB, data=25.0)
    for data, thin in ((25.0, True), (25.01, True), (25.31, False), (100.0, False)):
        setup.remote = FakeRunner(dest_lvs(volumes=[lh.lv(NAME, size=2 * lh.GIB, data=data)]))
        resource = Migration(
            setup.source, setup.dest, FakeRunner({}), setup.remote, setup.params, lock_dir=str(tmp_path)
        )
        from ansible_collections.openblade.kvm.plugins.module_utils._lvm.report import LV

        resource.volumes = [("vda", LV.from_report(source_lv))]
        resource.dest_pools = {lh.VG: "thinpool"}
        resource._measure()
        assert resource.facts["thin"] is thin, (data, resource.facts)
        assert bool(resource.warnings) is not thin


def test_the_guest_resumes_when_the_rethin_fails_and_the_run_warns(tmp_path):
    setup = Setup(tmp_path)
    setup.src_table = src_lvs(dump=(1, "", "thin_dump: bad checksum in superblock"))
    result = setup.run(src_mutations=[TAG_SRC, REMOVE_SRC], dest_mutations=[CREATE, *seed_copy(setup.seed),
                                                                            UNTAG_DEST])
    assert setup.dest.state(setup.dest.lookup(NAME)) == "running"
    assert setup.src.calls[-2:] != [] and RELEASE in setup.src.calls
    # The receiver started before the move still ends (given no range), before the resume.
    assert setup.remote.inputs[setup.remote.calls.index(tuple(DISCARD))] == b"" and "discarded" not in result
    assert any("re-thinning the volumes of web1 on blade2 failed" in w and "bad checksum" in w
               for w in result["warnings"]), result


def test_a_guest_that_does_not_resume_fails_the_run_and_keeps_the_source_volumes(tmp_path, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    setup = Setup(tmp_path)
    setup.mover.resume_fails = True
    with pytest.raises(ReconcileError) as caught:
        setup.run(src_mutations=[TAG_SRC], dest_mutations=[CREATE, *seed_copy(setup.seed)])
    assert "web1 is paused on blade2 after its migration and did not resume" in str(caught.value)
    assert "unable to execute QEMU command 'cont'" in str(caught.value)
    # The discard ran before the resume was tried; nothing on the destination is rolled back.
    assert tuple(DISCARD) in setup.remote.calls and caught.value.details["rolled_back"] == []
    assert REMOVE_SRC not in [list(call) for call in setup.src.calls]


def test_postcopy_is_not_paused_nor_rethinned(tmp_path):
    setup = Setup(tmp_path, postcopy_without_rollback=True)
    setup.mover.live = lambda timeout: (Mover.live(setup.mover, timeout), setup.dest.resume(
        setup.dest.lookup(NAME)))[0]
    result = setup.run(src_mutations=[TAG_SRC, REMOVE_SRC],
                       dest_mutations=[CREATE, *seed_copy(setup.seed), UNTAG_DEST])
    assert result["actions"][3].endswith("abort after 300s)")
    assert tuple(DISCARD) not in setup.remote.calls and not any("dmsetup" in c for c in setup.src.calls)
    assert any(w.startswith("post-copy: the volumes of web1 on blade2 were not re-thinned")
               for w in result["warnings"])
    assert not migrate_job.flags(setup.params) & libvirt.VIR_MIGRATE_PAUSED


def test_a_live_move_needs_room_for_the_virtual_size_a_cold_one_for_the_data(tmp_path):
    # 10 GiB pool, 1 GiB free: the 2 GiB volume holds 512 MiB.
    tight = dest_lvs(free_data=90.0)
    for running, refused in ((True, True), (False, False)):
        (tmp_path / str(running)).mkdir()
        setup = Setup(tmp_path / str(running), running=running, dest_table=dict(tight))
        if refused:
            with pytest.raises(ReconcileError) as caught:
                setup.run(check_mode=True)
            assert ("thin pool obt_vg/thinpool has 1024 MiB free; a live move writes the disks' full "
                    "virtual size (2048 MiB) there during the copy") in str(caught.value)
        else:
            assert setup.run(check_mode=True)["changed"] is True


def test_discard_frames_and_receiver_round_trip(tmp_path):
    """The receiver itself, run here on a file: writes land in place, discards punch holes
    (a file has no BLKDISCARD, so only the frame layout and the write path run)."""
    target = tmp_path / "disk"
    target.write_bytes(bytes(4096))
    frames = migrate_job.write_frame(0, 100, b"abc") + migrate_job.write_frame(0, 4000, b"xyz")
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, *migrate_job.receiver_argv([str(target)])[1:]], input=frames,
                          capture_output=True, check=True)
    data = target.read_bytes()
    assert data[100:103] == b"abc" and data[4000:4003] == b"xyz" and proc.stdout == b"0\n"
    assert migrate_job.discard_frame(1, 2, 3) == b"D\x01" + (2).to_bytes(8, "big") + (3).to_bytes(8, "big")
    argv = migrate_job.receiver_argv(["/dev/vg/a"])
    receiver = FakeRemote({tuple(argv): (0, "0\n", "")})
    assert migrate_job.discard(receiver.start(argv), ["/dev/vg/a"], {}) == {"/dev/vg/a": 0}
    assert receiver.inputs == [b""]
    assert thinmap.unmapped([(0, 10)], 10) == []


def test_a_live_move_is_refused_without_thin_dump_here(tmp_path, monkeypatch):
    monkeypatch.setattr(FakeRunner, "exists", lambda self, binary: binary != "thin_dump")
    with pytest.raises(ReconcileError, match="this blade has no thin_dump"):
        Setup(tmp_path).run(check_mode=True)
    assert Setup(tmp_path, running=False).run(check_mode=True)["changed"] is True


def test_a_failed_job_reports_itself_even_when_the_discarding_end_fails_too(tmp_path):
    setup = Setup(tmp_path, fail=True)
    setup.dest_table[tuple(DISCARD)] = (255, "", "Connection to 10.78.0.2 closed by remote host.")
    with pytest.raises(ReconcileError, match="timed out") as caught:
        setup.run(
            src_mutations=[TAG_SRC, UNTAG_SRC],
            dest_mutations=[CREATE, *seed_copy(setup.seed), REMOVE_DEST, ["rm", "-f", str(setup.seed)]],
        )
    assert caught.value.details["rolled_back"][1] == f"volume {lh.VG}/{NAME} on blade2"
