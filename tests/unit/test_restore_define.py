# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""guest_restore's ``define`` and ``as_guest``: the guest (or an isolated copy) brought back
from a backup point, with argv-table runners for this blade, the backup blade and a peer,
and a stand-in hypervisor (the lab tier runs it for real: test_recover.py)."""

# ruff: noqa: E501 - the domain XML reads best one line per device

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._backup import definition, target
from ansible_collections.openblade.kvm.plugins.module_utils._backup.restore import Restore
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import model
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError, reconcile
from ansible_collections.openblade.kvm.tests.unit.lvm_host import GIB, VG, host, lv, pool, vg
from ansible_collections.openblade.kvm.tests.unit.test_backup_plan import (
    DIGEST,
    MANIFEST,
    UUID,
    Blade,
    digest_argv,
)

DIR = "/var/lib/openblade/backups/web1/b1"
MAC = "52:54:00:aa:bb:cc"
SEED = b"cidata seed bytes"
XML = f"""<domain type='qemu'><name>web1</name><uuid>{UUID}</uuid>
<metadata><openblade:guest xmlns:openblade="urn:openblade:kvm:guest:1"><openblade:cluster>lab</openblade:cluster></openblade:guest></metadata>
<memory unit='MiB'>128</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices>
<disk type='block' device='disk'><source dev='/dev/{VG}/web1-root'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='cdrom'><source file='/var/lib/libvirt/boot/web1-cidata.iso'/><target dev='sda' bus='sata'/><readonly/></disk>
<interface type='bridge'><mac address='{MAC}'/><source bridge='br-office'/></interface>
<serial type='pty'><target port='0'/></serial></devices></domain>"""


class Dom:
    def __init__(self, hv, name):
        self.hv, self._name = hv, name

    def name(self):
        return self._name

    def UUIDString(self):  # noqa: N802 - libvirt's name
        return self.hv.doms[self._name][0]


class Hv:
    """The Hypervisor calls a restore with define makes: guests by name, UUID and state."""

    uri = "test:///default"

    def __init__(self, doms=None):
        self.doms = dict(doms or {})  # name -> [uuid, state]
        self.defined = []

    def lookup(self, name):
        return Dom(self, name) if name in self.doms else None

    def domains(self):
        return [Dom(self, name) for name in self.doms]

    def state(self, dom):
        return self.doms[dom.name()][1]

    def define(self, xml):
        fields = model.read_fields(model.parse(xml))
        self.doms[fields["name"]] = [fields["uuid"], "stopped"]
        self.defined.append(xml)

    def start(self, dom):
        self.doms[dom.name()][1] = "running"


def look(name, uuid, answer):
    return {("sh", "-c", definition.LOOK.format(name=name, uuid=uuid)): (0, answer, "")}


def blades(here_lvs=(), peer_answer="blade3\n", name="web1", uuid=UUID, point_tags=("openblade.kvm", "ob_backup_point")):
    here = Blade(host(vgs=[vg()], lvs=[pool(), *here_lvs]))
    for volume in ("web1-root", "rt-web1-vda"):
        here.table[digest_argv(f"/dev/{VG}/{volume}")] = (0, f"{DIGEST}\n", "")
    store = Blade(host(vgs=[vg()], lvs=[pool(), lv("bk-web1-vda-b1", size=GIB, tags=point_tags)]))
    manifest = dict(json.loads(MANIFEST), seeds=["/var/lib/libvirt/boot/web1-cidata.iso"], uuid=UUID)
    store.table.update({
        tuple(target.listing_argv("/var/lib/openblade/backups/web1")): (0, "d b1\nf b1/vda.blocks\n", ""),
        ("cat", f"{DIR}/manifest.json"): (0, json.dumps(manifest), ""),
        ("cat", f"{DIR}/domain.xml"): (0, XML, ""),
        ("cat", f"{DIR}/ledger.json"): (0, '{"office": "10.77.11.20"}\n', ""),
        ("base64", "-w0", f"{DIR}/web1-cidata.iso"): (0, "Y2lkYXRhIHNlZWQgYnl0ZXM=", ""),
        **look(name, uuid, "blade2\n"),
    })
    peer = Blade(look(name, uuid, peer_answer))
    return here, store, peer


def restorer(hv, here, store, peer, tmp_path, **extra):
    params = dict(
        name="web1", label=None, source="10.81.0.2", ssh_user="root", ssh_port=None, ssh_identity=None,
        backup_dir="/var/lib/openblade/backups", disks=None, vg=None, pool=None, volumes=None,
        overwrite_disks=False, define=True, as_guest=None, start=True, peers=["10.81.0.3"],
        seed_dir=str(tmp_path / "boot"), ledger_dir=str(tmp_path / "ipam"),
    )
    params.update(extra)

    def transfer(sender, receiver, ranges):
        return {"read": GIB, "sent": 65536, "frames": 1, "chain": "c", "digest": DIGEST, "written": 65536, "zeroed": 0}

    return Restore(hv, here, store, params, transfer=transfer, lock_dir=str(tmp_path), peers={"10.81.0.3": peer})


def run(hv, world, tmp_path, check, **extra):
    return reconcile(restorer(hv, *world, tmp_path, **extra), check_mode=check)


def ledger(tmp_path, content):
    (tmp_path / "ipam").mkdir(exist_ok=True)
    (tmp_path / "ipam" / "lab.json").write_text(json.dumps(content))


def test_define_brings_the_guest_back_with_its_identity_seed_and_addresses(tmp_path):
    ledger(tmp_path, {"partitions": {"office": {"db1": "10.77.11.10"}}})
    hv = Hv()
    checked = run(hv, blades(), tmp_path, True)
    here, store, peer = blades()
    real = run(hv, (here, store, peer), tmp_path, False)
    assert checked["actions"] == real["actions"] == [
        f"create thin volume {VG}/web1-root of 1 GiB in thin pool thinpool",
        f"copy backup point {VG}/bk-web1-vda-b1 of 10.81.0.2 into {VG}/web1-root and compare its sha256 with the backup's",
        f"write seed {tmp_path}/boot/web1-cidata.iso from the backup",
        f"record web1's addresses (office: 10.77.11.20) in {tmp_path}/ipam/lab.json",
        f"define guest web1 (UUID {UUID}, MACs and seed of the backup)",
        "start guest web1",
    ]
    assert real["defined"] == {"name": "web1", "uuid": UUID, "seeds": [f"{tmp_path}/boot/web1-cidata.iso"]}
    root = model.parse(hv.defined[0])
    assert root.findtext("uuid") == UUID and root.find("devices/interface/mac").get("address") == MAC
    assert root.find("devices/disk/source").get("dev") == f"/dev/{VG}/web1-root"
    assert root.find("devices/disk[@device='cdrom']/source").get("file") == f"{tmp_path}/boot/web1-cidata.iso"
    assert model.read_fields(root)["cluster"] == "lab"  # the ownership marker
    assert (tmp_path / "boot" / "web1-cidata.iso").read_bytes() == SEED
    assert oct(os.stat(tmp_path / "boot" / "web1-cidata.iso").st_mode & 0o777) in ("0o600", "0o640")
    assert json.loads((tmp_path / "ipam" / "lab.json").read_text())["partitions"]["office"] == {
        "db1": "10.77.11.10", "web1": "10.77.11.20"}
    assert hv.doms["web1"] == [UUID, "running"]


def test_a_second_run_changes_nothing_and_leaves_the_guests_disks_alone(tmp_path):
    ledger(tmp_path, {})
    hv = Hv()
    run(hv, blades(), tmp_path, False)
    restored = lv("web1-root", size=GIB, tags=("openblade.kvm", "ob_restored=b1", f"ob_sha256={DIGEST}"), is_open=True)
    here, store, peer = blades([restored])
    again = run(hv, (here, store, peer), tmp_path, False)
    assert (again["changed"], again["actions"]) == (False, [])
    assert here.changes() == [] and store.changes() == []


def test_a_guest_defined_elsewhere_is_refused_before_anything_changes(tmp_path):
    here, store, peer = blades(peer_answer="blade3\nrunning\nname: defined\nweb1\n")
    with pytest.raises(ReconcileError, match=r"guest web1 is running there \(10.81.0.3\); refusing to define web1 here as well: never two copies"):
        run(Hv(), (here, store, peer), tmp_path, True)
    _here, _store, peer = blades(peer_answer="blade3\nold-web1\n")
    with pytest.raises(ReconcileError, match=f"guest old-web1 has UUID {UUID} there"):
        run(Hv(), (here, store, peer), tmp_path, True)
    assert here.changes() == [] and store.changes() == []


def test_a_different_guest_of_that_name_or_uuid_here_is_refused(tmp_path):
    with pytest.raises(ReconcileError, match="a different guest named web1 .* is defined on this blade"):
        run(Hv({"web1": ["11111111-2222-3333-4444-555555555555", "stopped"]}), blades(), tmp_path, True)
    with pytest.raises(ReconcileError, match=f"guest other on this blade has UUID {UUID}"):
        run(Hv({"other": [UUID, "running"]}), blades(), tmp_path, True)


def test_an_address_held_by_another_guest_is_refused(tmp_path):
    ledger(tmp_path, {"partitions": {"office": {"db1": "10.77.11.20"}}})
    with pytest.raises(ReconcileError, match="address 10.77.11.20 of web1 on partition office is held by db1"):
        run(Hv(), blades(), tmp_path, True)


def test_only_a_verified_point_is_restored(tmp_path):
    world = blades(point_tags=("openblade.kvm", "ob_backup_incomplete"))
    with pytest.raises(ReconcileError, match="no verified backup of guest web1 on 10.81.0.2"):
        run(Hv(), world, tmp_path, True)


def test_as_guest_defines_an_isolated_copy(tmp_path):
    copy = definition.copy_uuid(UUID, "rt-web1")
    hv = Hv({"web1": [UUID, "running"]})  # the original may run: the copy has its own identity
    result = run(hv, blades(name="rt-web1", uuid=copy), tmp_path, False, define=False, as_guest="rt-web1", peers=[])
    assert result["actions"][-2:] == [
        f"define guest rt-web1 (UUID {copy}, a copy: no network interface, serial console in /var/log/libvirt/qemu/rt-web1.serial)",
        "start guest rt-web1",
    ]
    assert result["volumes"] == {"vda": f"{VG}/rt-web1-vda"}
    root = model.parse(hv.defined[0])
    assert (root.findtext("name"), root.findtext("uuid")) == ("rt-web1", copy) and copy != UUID
    assert root.find("devices/interface") is None
    assert root.find("devices/serial/source").get("path") == "/var/log/libvirt/qemu/rt-web1.serial"
    assert root.find("devices/disk/source").get("dev") == f"/dev/{VG}/rt-web1-vda"
    assert root.find("devices/disk[@device='cdrom']/source").get("file") == f"{tmp_path}/boot/rt-web1-web1-cidata.iso"
    assert model.read_fields(root)["cluster"] == definition.COPY_CLUSTER
    assert not (tmp_path / "ipam").exists()  # a copy holds no address


@pytest.mark.parametrize("extra, message", [
    ({"overwrite_disks": True}, "overwrite_disks: cannot be combined with define or as_guest"),
    ({"define": False, "start": True}, "start: needs define or as_guest"),
    ({"as_guest": "a/b"}, "as_guest"),
])
def test_contradicting_options_are_refused_before_any_command(tmp_path, extra, message):
    here, store, peer = blades()
    with pytest.raises(ReconcileError, match=message):
        restorer(Hv(), here, store, peer, tmp_path, **extra)
    assert here.calls == [] and store.calls == []


def test_merge_ledger_keeps_what_is_there_and_refuses_a_clash():
    merged, added = definition.merge_ledger({"partitions": {"office": {"web1": "10.0.0.5"}}, "drained": ["b1"]},
                                            "web1", {"office": "10.0.0.5", "backup": "10.1.0.5"})
    assert added == {"backup": "10.1.0.5"} and merged["drained"] == ["b1"]
    with pytest.raises(ReconcileError, match="gives web1 10.0.0.5 on partition office, the backup 10.0.0.6"):
        definition.merge_ledger(merged, "web1", {"office": "10.0.0.6"})
