# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LVM building blocks: report argvs and parsing (rows as lvm2 2.03.16 prints
them), sizes, tags, and the in-use checks against libvirt's test driver."""

from __future__ import annotations

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import connection
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import Hypervisor
from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands, sizes, tags
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.inuse import (
    Domains,
    Users,
    device_paths,
)
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.report import Lvm, dm_name
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError
from ansible_collections.openblade.kvm.plugins.module_utils._runner import CommandError
from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner

REPORT = ["--reportformat", "json", "--units", "b", "--nosuffix"]


def test_report_argvs_ask_for_json_bytes_and_explicit_fields():
    assert commands.pvs() == ["pvs", *REPORT, "-o",
                              "pv_name,vg_name,pv_size,dev_size,pv_used,pv_tags"]
    assert commands.vgs() == ["vgs", *REPORT, "-o", "vg_name,vg_size,vg_free,vg_extent_size,"
                              "vg_extent_count,vg_free_count,vg_tags"]
    assert commands.lvs("obt_vg") == [
        "lvs", *REPORT, "-o", "lv_name,vg_name,lv_size,lv_layout,pool_lv,origin,lv_tags,data_percent,"
        "metadata_percent,lv_metadata_size,chunk_size,lv_profile,lv_active,lv_device_open,"
        "lv_skip_activation,lv_permissions,lv_kernel_major,lv_kernel_minor,seg_monitor", "obt_vg"]


def row(**values):
    base = {"lv_name": "", "vg_name": "obt_vg", "lv_size": "0", "lv_layout": "thin,sparse",
            "pool_lv": "", "origin": "", "lv_tags": "", "data_percent": "", "metadata_percent": "",
            "lv_metadata_size": "", "chunk_size": "0", "lv_profile": "", "lv_active": "",
            "lv_device_open": "", "lv_skip_activation": "", "lv_permissions": "writeable",
            "lv_kernel_major": "-1", "lv_kernel_minor": "-1", "seg_monitor": ""}
    base.update(values)
    return base


# As `lvs` printed them on a lab blade (lvm2 2.03.16), trimmed to our fields.
LVS = {"report": [{"lv": [
    row(lv_name="pool", lv_size="2147483648", lv_layout="thin,pool", lv_tags="ob_max_overcommit=2.5,"
        "openblade.kvm", data_percent="0.00", metadata_percent="10.55", lv_metadata_size="8388608",
        chunk_size="65536", lv_profile="openblade-kvm-obt_vg-pool", lv_active="active",
        lv_device_open="open", lv_kernel_major="253", lv_kernel_minor="2", seg_monitor="monitored"),
    row(lv_name="c1", lv_size="104857600", pool_lv="pool", origin="gold", data_percent="0.00",
        lv_active="active", lv_kernel_major="253", lv_kernel_minor="5"),
    row(lv_name="s1", lv_size="104857600", pool_lv="pool", origin="c1", lv_device_open="unknown",
        lv_skip_activation="skip activation", lv_permissions="read-only"),
    # A second segment of a linear LV: one row per segment, the first one counts.
    row(lv_name="lin", lv_size="8388608", lv_layout="linear"),
    row(lv_name="lin", lv_size="8388608", lv_layout="linear", chunk_size="1"),
]}]}


def test_lvs_rows_become_records():
    lvm = Lvm(FakeRunner({tuple(commands.lvs("obt_vg")): (0, LVS, "")}))
    found = lvm.lvs("obt_vg")
    assert sorted(found) == ["c1", "lin", "pool", "s1"]
    pool, clone, snap = found["pool"], found["c1"], found["s1"]
    assert pool.is_thin_pool and not pool.is_thin
    assert (pool.size, pool.chunk_size, pool.metadata_size) == (2147483648, 65536, 8388608)
    assert (pool.data_percent, pool.metadata_percent) == (0.0, 10.55)
    assert pool.tags == ("ob_max_overcommit=2.5", "openblade.kvm")
    assert pool.profile == "openblade-kvm-obt_vg-pool" and pool.monitored
    assert clone.is_thin and clone.active and clone.kernel == (253, 5) and clone.origin == "gold"
    assert not clone.read_only and not clone.skip_activation and clone.pool == "pool"
    assert snap.read_only and snap.skip_activation and not snap.active and not snap.open
    assert snap.kernel is None and snap.path == "/dev/obt_vg/s1"
    assert found["lin"].chunk_size is None and not found["lin"].is_thin


def test_vgs_and_pvs():
    runner = FakeRunner({
        tuple(commands.vgs()): (0, {"report": [{"vg": [
            {"vg_name": "obt_vg", "vg_size": "21470642176", "vg_free": "19306381312",
             "vg_extent_size": "4194304", "vg_extent_count": "5119", "vg_free_count": "4603",
             "vg_tags": "openblade.kvm"}]}]}, ""),
        tuple(commands.pvs()): (0, {"report": [{"pv": [
            {"pv_name": "/dev/vdb", "vg_name": "obt_vg", "pv_size": "21470642176",
             "dev_size": "21474836480", "pv_used": "2164260864", "pv_tags": ""},
            {"pv_name": "/dev/vdc", "vg_name": "", "pv_size": "1", "dev_size": "1", "pv_used": "0",
             "pv_tags": ""}]}]}, ""),
    })
    lvm = Lvm(runner)
    group = lvm.vgs()["obt_vg"]
    assert (group.extent_size, group.free, group.tags) == (4194304, 19306381312, ("openblade.kvm",))
    pvs = lvm.pvs()
    assert pvs["/dev/vdb"].used == 2164260864 and pvs["/dev/vdc"].vg is None


@pytest.mark.parametrize("stdout, found", [
    ("", []),
    ('{"signatures": []}', []),
    ('{"signatures": [{"device": "sdb", "offset": "0x1fe", "type": "PMBR"},'
     ' {"device": "sdb", "offset": "0x200", "type": "gpt"}]}', ["PMBR", "gpt"]),
])
def test_signatures(stdout, found):
    lvm = Lvm(FakeRunner({("wipefs", "--no-act", "--json", "/dev/sdb"): (0, stdout, "")}))
    assert lvm.signatures("/dev/sdb") == found


def test_report_that_is_not_json_is_a_command_error():
    lvm = Lvm(FakeRunner({tuple(commands.vgs()): (0, "  VG  #PV\n", "")}))
    with pytest.raises(CommandError, match="printed output that is not JSON"):
        lvm.vgs()


def test_mutation_argvs():
    # The option order is fixed by commands.py; the module tests pin each use end to end.
    assert commands.LVCREATE.argv(type="thin", virtualsize="1b", thinpool="p", addtag=["a", "b"],
                                  name="v", positional=["vg"]) == [
        "lvcreate", "--yes", "--type", "thin", "--virtualsize", "1b", "--thinpool", "p",
        "--addtag", "a", "--addtag", "b", "--name", "v", "vg"]
    assert commands.LVCHANGE.argv(deltag="x", addtag="y", permission="r", positional=["vg/v"]) == [
        "lvchange", "--deltag", "x", "--addtag", "y", "--permission", "r", "vg/v"]
    assert commands.QEMU_IMG_INFO.argv(format="raw", positional=["/i.raw"]) == [
        "qemu-img", "info", "--output=json", "-f", "raw", "/i.raw"]
    assert commands.qemu_img_convert("/i.qcow2", "qcow2", "/dev/vg/v") == [
        "setpriv", "--pdeathsig", "KILL", "--",
        "qemu-img", "convert", "-f", "qcow2", "-O", "raw", "-n", "--target-is-zero", "-W",
        "/i.qcow2", "/dev/vg/v"]
    assert commands.WIPEFS_ALL.argv(positional=["/dev/sdb"]) == ["wipefs", "--all", "/dev/sdb"]


# --- sizes and tags ------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("10g", sizes.Size(nbytes=10 * 1024 ** 3)),
    ("1.5TiB", sizes.Size(nbytes=3 * 1024 ** 4 // 2)),
    (4096, sizes.Size(nbytes=4096)),
    ("80%VG", sizes.Size(percent=80, base="VG")),
    (" 100 %free ", sizes.Size(percent=100, base="FREE")),
])
def test_size_parse(value, expected):
    assert sizes.parse(value, "size", bases=("VG", "FREE")) == expected


def test_size_rounding_and_text():
    extent = 4 * 1024 ** 2
    assert sizes.round_up(1, extent) == extent
    assert sizes.round_up(extent, extent) == extent
    assert sizes.percent_of(50, 10 * extent + 1, extent) == 5 * extent
    assert sizes.percent_of(1, extent, extent) == extent  # never zero extents
    assert [sizes.human(n) for n in (512, 1024 ** 3, 1536 * 1024 ** 2, 4864 * 1024 ** 2)] == [
        "512 B", "1 GiB", "1.5 GiB", "4.75 GiB"]
    assert str(sizes.Size(percent=80, base="VG")) == "80%VG"


def test_tags_follow_lvm_rules():
    assert tags.check_value("web1.example:8", "owner", tags.OWNER) == "web1.example:8"
    with pytest.raises(ValidationError, match=r"owner: 'wëb' cannot be stored in an LVM tag .*found 'ë'"):
        tags.check_value("wëb", "owner", tags.OWNER)
    with pytest.raises(ValidationError, match="the tag ob_owner=... may have at most 1024 characters"):
        tags.check_value("x" * 1020, "owner", tags.OWNER)
    assert tags.value(("a", "ob_version=1.2", "ob_owner=x=y"), tags.OWNER) == "x=y"
    assert tags.value(("a",), tags.VERSION) is None


# --- in use --------------------------------------------------------------------------------

NODE = """<node>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>db1</name><memory>1024</memory><os><type>hvm</type></os>
    <devices><disk type='block' device='disk'><source dev='/dev/mapper/obt_vg-vol--1'/>
      <target dev='vda'/></disk></devices>
    <test:runstate>5</test:runstate>
  </domain>
  <domain type='test'>
    <name>web1</name><memory>1024</memory><os><type>hvm</type></os>
    <devices>
      <disk type='volume' device='disk'><source pool='lvpool' volume='vol2'/><target dev='vda'/></disk>
      <disk type='file' device='disk'><source file='/var/lib/overlay.qcow2'/>
        <backingStore type='block'><format type='raw'/><source dev='/dev/obt_vg/golden'/></backingStore>
        <target dev='vdb'/></disk>
    </devices>
  </domain>
  <pool type='dir'><name>lvpool</name><target><path>/dev/obt_vg</path></target>
    <volume><name>vol2</name><capacity>1024</capacity></volume></pool>
</node>
"""


@pytest.fixture
def domains(tmp_path):
    node = tmp_path / "node.xml"
    node.write_text(NODE)
    return Domains(connect=lambda: Hypervisor(f"test://{node}", readonly=True))


def test_domains_are_found_by_every_name_of_the_device(domains):
    # db1 is defined but shut off and names the LV by its /dev/mapper name ('-' doubled).
    assert domains.using("obt_vg", "vol-1") == ([], ["db1"])
    # web1 runs; it uses vol2 through a libvirt storage volume, golden as a backing file.
    assert domains.using("obt_vg", "vol2") == (["web1"], [])
    assert domains.using("obt_vg", "golden") == (["web1"], [])
    assert domains.using("obt_vg", "vol1") == ([], [])


def test_unreachable_libvirt_refuses_instead_of_guessing(tmp_path):
    # A real connection failure: the test driver cannot read a node file that is not there.
    with pytest.raises(ReconcileError, match="cannot check which libvirt domains .* use the volume: "
                       ".*refusing to go on without knowing") as failed:
        Domains(uri=f"test://{tmp_path}/missing.xml").using("obt_vg", "vol1")
    assert "cannot connect to libvirt at" not in str(failed.value)  # libvirt's reason, said once


def test_missing_bindings_refuse_with_a_clear_message(monkeypatch):
    monkeypatch.setattr(connection, "bindings", lambda: None)
    with pytest.raises(ReconcileError, match=r"cannot check which libvirt domains use the volume: the "
                       r"libvirt Python bindings are missing \(Debian: python3-libvirt\)"):
        Domains().using("obt_vg", "vol1")


def test_device_paths():
    assert dm_name("my-vg", "web-1") == "my--vg-web--1"
    assert {"/dev/my-vg/web-1", "/dev/mapper/my--vg-web--1",
            "/dev/disk/by-id/dm-name-my--vg-web--1"} <= device_paths("my-vg", "web-1")


def test_users_explain_themselves():
    users = Users(lv="vg/v", open=True, mounts=["/srv"], running=["web1"], stopped=["db1"])
    assert users.active_users() == ["it is mounted on /srv",
                                    "libvirt domain 'web1' (running) uses it"]
    assert Users(lv="vg/v", stopped=["db1"]).refuse("remove", force=True) == [
        "remove vg/v although libvirt domain 'db1' (not running) uses it (force)"]
    assert Users(lv="vg/v").refuse("remove", force=False) == []
