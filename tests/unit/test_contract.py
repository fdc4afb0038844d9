# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every resource class of the collection keeps the reconcile contract (see contract.py).

SCENARIOS registers, per resource class, worlds where a change is due; every class the
collection defines must be registered: a new resource that is not fails here.
"""

from __future__ import annotations

import importlib
import pathlib
import re

import libvirt
import pytest

from ansible_collections.openblade.kvm import plugins
from ansible_collections.openblade.kvm.plugins.module_utils import _reconcile
from ansible_collections.openblade.kvm.plugins.module_utils._backup import offsite
from ansible_collections.openblade.kvm.plugins.module_utils._cluster import ClusterView, LedgerCopy
from ansible_collections.openblade.kvm.plugins.module_utils._host import KernelModules
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.resources import (
    Guest,
    GuestInventory,
    Guests,
)
from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands, thinmap
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.base import LvmResource
from ansible_collections.openblade.kvm.plugins.module_utils._net.libvirt_networks import LibvirtNetworks
from ansible_collections.openblade.kvm.plugins.module_utils._net.links import BridgeSpec
from ansible_collections.openblade.kvm.tests.unit import (
    net_host,
    test_backup_offsite,
    test_backup_plan,
    test_hypervisor_host,
    test_libvirt_migrate,
    test_libvirt_reconcile,
    test_lvm_clone,
    test_lvm_clones,
    test_lvm_golden,
    test_lvm_info,
    test_lvm_snapshot,
    test_lvm_thinpool,
    test_lvm_volume,
    test_net_engine,
    test_net_partitions,
    test_restore_define,
    test_thinmap,
)
from ansible_collections.openblade.kvm.tests.unit.contract import (
    TableHost,
    World,
    assert_contract,
    table_world,
    tree,
)
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner
from ansible_collections.openblade.kvm.tests.unit.lvm_host import GIB, VG, lv, report

# Classes only ever used through a subclass.
ABSTRACT = {_reconcile.ReadOnlyResource, LvmResource, offsite.RepositoryResource}


# --- LVM: table hosts, before and after the listed commands ----------------------------------------

def files(tmp_path, *names):
    return lambda: {name: tree(str(tmp_path / name)) for name in names}


def thin_pool(tmp_path):
    devices = []
    for name in ("sdb",):
        (tmp_path / name).write_text("")
        devices.append(str((tmp_path / name).resolve()))
    dev = devices[0]
    mutations = [
        ["pvcreate", dev],
        ["vgcreate", "--addtag", "openblade.kvm", "obt_vg", dev],
        ["lvcreate", "--yes", "--type", "thin-pool", "--extents", "80%VG", "--chunksize", "65536b",
         "--poolmetadatasize", "16777216b", "--metadataprofile", "openblade-kvm-obt_vg-thinpool",
         "--addtag", "openblade.kvm", "--addtag", "ob_max_overcommit=3", "--name", "thinpool", "obt_vg"],
    ]
    host = TableHost(test_lvm_thinpool.host(signatures={dev: []}), mutations,
                     test_lvm_thinpool.host(**test_lvm_thinpool.converged_state(dev)))
    build = test_lvm_thinpool.builder(tmp_path, test_lvm_thinpool.params(devices))
    return table_world(build, host, files(tmp_path, "profile"))


def thin_volume(tmp_path):
    module = test_lvm_volume
    host = TableHost(module.host(**module.state()), [module.CREATE_1G],
                     module.host(**module.state(lv("vol1", size=GIB))))
    return table_world(module.builder(tmp_path, size="1g"), host)


def thin_volume_removed(tmp_path):
    # A removal checks who uses the volume: read in observe, like every other read.
    module = test_lvm_volume
    host = TableHost(module.host(**module.state(lv("vol1", size=GIB))),
                     [["lvremove", "--yes", "obt_vg/vol1"]], module.host(**module.state()))
    return table_world(module.builder(tmp_path, state="absent"), host)


def thin_volume_shrunk(tmp_path):
    module = test_lvm_volume
    shrink = ["lvreduce", "--yes", "--size", f"{GIB}b", "obt_vg/vol1"]
    host = TableHost(module.host(**module.state(lv("vol1", size=2 * GIB))), [shrink],
                     module.host(**module.state(lv("vol1", size=GIB))))
    return table_world(module.builder(tmp_path, size="1g", force=True), host)


def clones_removed(tmp_path):
    module = test_lvm_clones
    host = TableHost(module.state(module.clone("web1"), module.clone("web2")), [module.remove("web2-root")],
                     module.state(module.clone("web1")))
    return table_world(module.builder(tmp_path, [module.item("web1"), module.item("web2", state="absent")]),
                       host)


def clones(tmp_path):
    module = test_lvm_clones
    host = TableHost(module.state(), [module.create("web1"), module.extend("web1", GIB)],
                     module.state(module.clone("web1", size=GIB)))
    return table_world(module.builder(tmp_path, [module.item("web1", size="1g")]), host)


def clone(tmp_path):
    module = test_lvm_clone
    host = TableHost(module.state(), [module.CREATE], module.state(module.clone()))
    return table_world(module.builder(tmp_path), host)


def golden_image(tmp_path):
    module = test_lvm_golden
    src = tmp_path / "debian12.qcow2"
    src.write_bytes(module.CONTENT)
    host = TableHost(module.state(extra=module.info(str(src))), module.import_mutations(str(src)),
                     module.state(module.golden(), extra=module.info(str(src))))
    return table_world(module.builder(tmp_path, str(src), checksum=module.SHA), host)


def snapshots(tmp_path):
    module = test_lvm_snapshot
    host = TableHost(module.state(module.ours("a", 100), module.ours("b", 200)),
                     [module.create(), module.remove("a")],
                     module.state(module.ours("b", 200), module.ours("c", module.NOW)))
    return table_world(module.builder(tmp_path, retention=2), host)


def lvm_inventory(tmp_path):
    module = test_lvm_info
    host = TableHost(module.blade(), [])
    return table_world(lambda runner: module.LvmInventory(runner, None), host, changes=False)


# --- libvirt: the test:///default driver -------------------------------------------------------------

def libvirt_state(conn, hv=None):
    domains = {}
    for dom in conn.listAllDomains():
        live = dom.XMLDesc(0) if dom.isActive() else None
        domains[dom.name()] = (dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), live, dom.state()[0],
                               dom.autostart(), dom.snapshotNum())
    networks = {net.name(): (net.XMLDesc(0), net.isActive(), net.autostart())
                for net in conn.listAllNetworks()}
    plugged = (len(hv.hotplugged), len(hv.unplugged)) if hv is not None else None
    return domains, networks, plugged


def libvirt_world(tmp_path, build, changes=True, prepare=None):
    """``build(hv, runner, lock_dir)`` on test:///default, which is one state per process."""
    hv = test_libvirt_reconcile.DriverHypervisor()
    runner = test_libvirt_reconcile.IsoRunner()
    lock_dir = str(tmp_path / "lock")
    if prepare is not None:
        prepare(hv, runner, lock_dir)

    def cleanup():
        for dom in hv.conn.listAllDomains():
            if dom.name() != test_libvirt_reconcile.BUILTIN:
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
        for net in hv.conn.listAllNetworks():
            if net.name().startswith("obt-"):
                if net.isActive():
                    net.destroy()
                net.undefine()
    return World(lambda: build(hv, runner, lock_dir),
                 lambda: (libvirt_state(hv.conn, hv), len(runner.seeds)), changes=changes, cleanup=cleanup)


WEB = test_libvirt_reconcile.WEB


def domain(tmp_path):
    return libvirt_world(tmp_path, lambda hv, runner, lock_dir: Guest(
        hv, runner, test_libvirt_reconcile.params(state="running", **WEB), lock_dir=lock_dir))


def domain_live_change(tmp_path):
    def prepare(hv, runner, lock_dir):
        test_libvirt_reconcile.run(hv, runner, lock_dir, state="running", **WEB)
    wanted = {**WEB, "memory": 384, "vcpus": 2, "nics": WEB["nics"] + [{"bridge": "br1"}]}
    return libvirt_world(tmp_path, lambda hv, runner, lock_dir: Guest(
        hv, runner, test_libvirt_reconcile.params(state="running", **wanted), lock_dir=lock_dir),
        prepare=prepare)


def guests(tmp_path):
    listed = [WEB, {**WEB, "name": "web2", "state": "running",
                    "cloud_init": {"user_data": {"hostname": "web2"}, "meta_data": None,
                                   "network_config": None, "iso_path": str(tmp_path / "web2.iso")}}]
    params = test_libvirt_reconcile.guests_params(listed, prune=True)

    def prepare(hv, runner, lock_dir):  # a guest of ours the list no longer has: pruned
        test_libvirt_reconcile.run(hv, runner, lock_dir, **{**WEB, "name": "web3"})
    world = libvirt_world(tmp_path, lambda hv, runner, lock_dir: Guests(
        hv, runner, params, lock_dir=lock_dir), prepare=prepare)
    state = world.state
    world.state = lambda: (state(), tree(str(tmp_path), skip={str(tmp_path / "lock")}))
    return world


def guest_inventory(tmp_path):
    return libvirt_world(tmp_path, lambda hv, runner, lock_dir: GuestInventory(hv), changes=False,
                         prepare=lambda hv, runner, lock_dir: test_libvirt_reconcile.run(
                             hv, runner, lock_dir, state="running", **WEB))


def libvirt_networks(tmp_path):
    nets = [{"name": "obt-sales", "bridge": "br-sales"}, {"name": "obt-hr", "bridge": "br-hr"}]
    return libvirt_world(tmp_path, lambda hv, runner, lock_dir: LibvirtNetworks(
        lambda: hv, nets, prune=True, lock_dir=lock_dir))


def cluster_view(tmp_path):
    ledger_dir = tmp_path / "ipam"
    ledger_dir.mkdir()
    (ledger_dir / "dc1.json").write_text('{"web1": {"office": "10.20.10.11"}}\n')
    (tmp_path / "libvirtd").write_text("")
    world = libvirt_world(tmp_path, lambda hv, runner, lock_dir: ClusterView(
        "dc1", str(ledger_dir), lambda: GuestInventory(hv, managed_only=True),
        libvirtd=str(tmp_path / "libvirtd")), changes=False,
        prepare=lambda hv, runner, lock_dir: test_libvirt_reconcile.run(hv, runner, lock_dir, state="stopped",
                                                                        **WEB))
    state = world.state
    world.state = lambda: (state(), tree(str(ledger_dir)))
    return world


def ledger_copy(tmp_path):
    ledger = {"web1": {"office": "10.20.10.11"}, "db1": {"office": "10.20.10.12"}}
    return World(lambda: LedgerCopy("dc1", str(tmp_path / "ipam"), ledger, lock_dir=str(tmp_path / "lock")),
                 files(tmp_path, "ipam"))


# --- the host: kernel modules and the hypervisor's packages and service ------------------------------

def kernel_modules(tmp_path):
    persist = tmp_path / "etc/modules-load.d/openblade-kvm.conf"
    names = ["8021q", "dm_thin_pool"]

    def load(argv):  # as the kernel would
        (tmp_path / "sys/module" / argv[1]).mkdir(parents=True)
    host = TableHost({}, [("modprobe", name) for name in names], {}, effects={"modprobe": load})

    def build(runner):
        return KernelModules(runner, names, str(persist), str(tmp_path), lock_dir=str(tmp_path / "lock"))
    return table_world(build, host, files(tmp_path, "sys", "etc"))


def hypervisor_host(tmp_path):
    module = test_hypervisor_host
    machine = module.Host(tmp_path, **module.CONVERGED)
    reads = {module.DPKG: module.dpkg(module.PACKAGES)}
    host = TableHost({**reads, module.SHOW: module.service(False, False)},
                     [["systemctl", "enable", "libvirtd"], ["systemctl", "start", "libvirtd"]],
                     {**reads, module.SHOW: module.service(True, True)})
    return table_world(machine.resource, host, files(tmp_path, "etc", "sys"))


# --- networking: the fake host switches to the built links on networkctl reload -----------------------

class NetHost(net_host.FakeNetHost):
    def is_mutation(self, argv):
        return argv not in test_net_engine.READS


def net_world(tmp_path, host, build):
    return table_world(build, host, files(tmp_path, "etc", "backups"))


def network(tmp_path):
    after = [dict(item, master="br-sales") if item["name"] == "trunk0" else item
             for item in test_net_engine.bridge_after(tmp_path)]
    host = NetHost(net_host.lab_links(test_net_engine.etc(tmp_path)), after=after,
                   accept=test_net_engine.RELOAD)
    return net_world(tmp_path, host, lambda runner: net_host.resource(
        runner, tmp_path, [BridgeSpec("br-sales", ports=["trunk0"])]))


def partitions(tmp_path):
    module = test_net_partitions
    base = str(tmp_path / "etc")
    host = NetHost(net_host.lab_links(base), after=module.built(base, module.PARTS[1:]),
                   accept=test_net_engine.RELOAD)
    return net_world(tmp_path, host, lambda runner: module.partitions(runner, tmp_path))


# --- guest_migrate: two test drivers and two table hosts (see test_libvirt_migrate) ------------------

class RemoteTableHost(TableHost):
    """The destination, which also starts the discarding end before the switch-over."""

    start = test_libvirt_migrate.FakeRemote.start


def migration(tmp_path):
    module = test_libvirt_migrate
    setup = module.Setup(tmp_path)
    src = TableHost(setup.src_table, [module.TAG_SRC, module.REMOVE_SRC])
    dest = RemoteTableHost(setup.dest_table,
                           [module.CREATE, *module.seed_copy(setup.seed), module.UNTAG_DEST])

    def build():
        return module.Migration(setup.source, setup.dest, src, dest, setup.params, lock_dir=str(tmp_path),
                                copier=setup.mover)

    def state():
        return (libvirt_state(setup.source.conn), libvirt_state(setup.dest.conn), len(setup.mover.calls),
                [call for call in src.calls if src.is_mutation(call)],
                [call for call in dest.calls if dest.is_mutation(call)], setup.seed.exists())
    # The destination's guest answering is checked, not made: a listed step that only reads.
    return World(build, state, verifications=[f"check that {module.NAME} runs on blade2 and answers"])


# --- guest_backup / guest_restore: two blades (see test_backup_plan) ----------------------------------

def pool_metadata():
    """The source pool's metadata, read by thinmap: web1-root is thin id 1, its snapshot 2 (a
    table answers the same before and after the snapshot is taken)."""
    device, meta = thinmap.pool_device(VG, "thinpool"), thinmap.metadata_device(VG, "thinpool")
    rows = [{"lv_name": name, "vg_name": VG, "pool_lv": "thinpool", "thin_id": thin_id, "lv_size": str(GIB)}
            for name, thin_id in (("web1-root", "1"), ("web1-root-bk-b1", "2"))]
    reserve, release = (("dmsetup", "message", device, "0", f"{word}_metadata_snap")
                        for word in ("reserve", "release"))
    return reserve, release, {
        ("dmsetup", "status", device): (0, test_thinmap.STATUS_FREE, ""),
        reserve: (0, "", ""),
        release: (0, "", ""),
        tuple(commands.thin_lvs(VG)): (0, report("lv", rows), ""),
        ("thin_dump", "--metadata-snap", "--dev-id", "1", meta): (0, test_thinmap.DUMP_A, ""),
        ("thin_dump", "--metadata-snap", "--dev-id", "2", meta): (0, test_thinmap.DUMP_SNAP, ""),
    }


def guest_backup(tmp_path):
    module = test_backup_plan
    hv, src, dest, sends = module.Hv(), module.source_blade(), module.target_blade(), module.Sends()
    reserve, release, metadata = pool_metadata()
    src.table.update(metadata)

    def settle():  # the snapshot is the base of the next backup; the point and definition b1 are kept
        src.table = {**module.source_blade([module.base("b1", module.CLOCK)]).table, **metadata}
        dest.table = module.target_blade([("b1", module.CLOCK)], "b1\n").table

    # Check mode estimates the bytes to send from a metadata snapshot of the pool: reserving one
    # commits the pool's metadata (as the kernel does by itself every second) and pins its blocks
    # until the release, which always follows (finally), under the VG's lock, no data or LV
    # changed.  So a read, as long as none is left held: the world counts the held ones.
    def state():
        return (src.changes(), dest.changes(), len(sends.sent), tuple(hv.events),
                src.calls.count(reserve) - src.calls.count(release))
    world = World(lambda: module.backup(hv, src, dest, sends.transfer, str(tmp_path), world.check_mode,
                                        label="b1"), state, settle=settle)
    return world


def guest_restore(tmp_path):
    module = test_backup_plan
    src, store = module.restore_blades()
    sent = []

    def settle():
        src.table = module.restore_blades([module.restored_lv()])[0].table
    return World(lambda: module.restorer(module.Hv(), src, store, sent, str(tmp_path)),
                 lambda: (src.changes(), store.changes(), len(sent)), settle=settle)


# --- offsite_copy / offsite_check / offsite_restore: a stand-in restic repository (see test_backup_offsite)

def offsite_mutations(runner):
    return tuple(call for call in runner.calls if call not in runner.reads)


def offsite_copy(tmp_path):
    module = test_backup_offsite
    restic, runner = module.restic_for(), module.target_blade(tmp_path)
    return World(lambda: module.copier(runner, restic, tmp_path),
                 lambda: (restic.state(), offsite_mutations(runner)))


def offsite_check(tmp_path):
    restic = test_backup_offsite.filled_repository(tmp_path)
    return World(lambda: test_backup_offsite.checker(restic, "1/7"), restic.state, changes=False)


def offsite_restore(tmp_path):
    module = test_backup_offsite
    restic = module.filled_repository(tmp_path)
    blade = [module.restore_blade()[0]]

    def settle():  # the restored volume, tagged
        blade[0] = module.restore_blade([module.restored_lv()])[0]
    return World(lambda: module.restorer(blade[0], restic),
                 lambda: (restic.state(), offsite_mutations(blade[0])), settle=settle)


def guest_restore_define(tmp_path):
    """guest_restore with define: the guest back with its disks, seed, ledger entry and domain."""
    module = test_restore_define
    hv = module.Hv()
    here, store, peer = module.blades()
    tags = ("openblade.kvm", "ob_restored=b1", f"ob_sha256={module.DIGEST}")
    restored = module.lv("web1-root", size=GIB, tags=tags)

    def settle():
        here.table = module.blades([restored])[0].table
    return World(lambda: module.restorer(hv, here, store, peer, tmp_path),
                 lambda: (here.changes(), store.changes(), {n: tuple(d) for n, d in hv.doms.items()},
                          len(hv.defined), tree(tmp_path / "boot"), tree(tmp_path / "ipam")), settle=settle)


SCENARIOS = {
    "Backup": [guest_backup],
    "OffsiteCopy": [offsite_copy],
    "OffsiteCheck": [offsite_check],
    "OffsiteRestore": [offsite_restore],
    "Restore": [guest_restore, guest_restore_define],
    "Migration": [migration],
    "Clone": [clone],
    "Guest": [domain, domain_live_change],
    "Guests": [guests],
    "GuestInventory": [guest_inventory],
    "LibvirtNetworks": [libvirt_networks],
    "ClusterView": [cluster_view],
    "LedgerCopy": [ledger_copy],
    "KernelModules": [kernel_modules],
    "HypervisorHost": [hypervisor_host],
    "Links": [network],
    "Partitions": [partitions],
    "ThinPool": [thin_pool],
    "ThinVolume": [thin_volume, thin_volume_removed, thin_volume_shrunk],
    "Clones": [clones, clones_removed],
    "GoldenImage": [golden_image],
    "Snapshots": [snapshots],
    "LvmInventory": [lvm_inventory],
}


# --- the contract, for every registered scenario ----------------------------------------------------

REGISTERED = [(name, scenario) for name, scenarios in sorted(SCENARIOS.items()) for scenario in scenarios]


@pytest.mark.parametrize("name, scenario", REGISTERED,
                         ids=lambda value: value if isinstance(value, str) else value.__name__)
def test_resource_keeps_the_contract(name, scenario, tmp_path):
    world = scenario(tmp_path)
    try:
        assert type(world.build()).__name__ == name, "the scenario builds the class it is registered for"
        assert_contract(world)
    finally:
        world.cleanup()


def resource_classes():
    """Every subclass of _reconcile.Resource that the collection's plugins define."""
    # plugins/ and its folders are namespace packages, which pkgutil does not walk: every file is.
    root = pathlib.Path(next(iter(plugins.__path__)))
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        importlib.import_module(".".join((plugins.__name__, *parts)).removesuffix(".__init__"))
    found, todo = set(), [_reconcile.Resource]
    while todo:
        for subclass in todo.pop().__subclasses__():
            if subclass.__module__.startswith(plugins.__name__) and subclass not in found:
                found.add(subclass)
                todo.append(subclass)
    return found


def test_every_resource_class_is_registered_with_the_contract():
    names = {cls.__name__ for cls in resource_classes() - ABSTRACT}
    assert names - set(SCENARIOS) == set(), "register a contract scenario for each new resource class"
    assert set(SCENARIOS) - names == set(), "a registered class no longer exists"


def test_every_resource_that_changes_anything_holds_a_lock():
    """lock() covers the whole cycle; only read-only resources may go without one."""
    unlocked = {cls.__name__ for cls in resource_classes() - ABSTRACT
                if cls.lock is _reconcile.Resource.lock and not issubclass(cls, _reconcile.ReadOnlyResource)}
    assert unlocked == set()


def test_resource_classes_are_named_for_what_they_manage():
    """One naming rule: only the abstract bases end in "Resource"; a concrete class is
    named for its thing (Guest, Links, ThinPool), plural for a batch (Guests, Partitions)."""
    misnamed = {cls.__name__ for cls in resource_classes() - ABSTRACT if cls.__name__.endswith("Resource")}
    assert misnamed == set()
    assert all(cls.__name__.endswith("Resource") for cls in ABSTRACT)


# --- the contract test itself fails on each kind of breach -------------------------------------------

class Toy(_reconcile.Resource):
    """A file resource that breaks the contract the way ``breach`` says."""

    def __init__(self, path, breach=None):
        self.path, self.breach = path, breach

    def observe(self):
        if self.breach == "writes in observe":
            self.path.with_suffix(".seen").write_text("x")
        return {"content": self.path.read_text()} if self.path.exists() else None

    def desired(self, current):
        if self.breach == "runs a command in desired":
            FakeRunner({("cat", str(self.path)): (0, "", "")}).run(["cat", str(self.path)])
        if self.breach == "asks libvirt in plan":
            conn = libvirt.open("test:///default")
            conn.listAllDomains()
            conn.close()
        if self.breach == "reads in desired":
            self.path.exists() and self.path.read_text()
        return {"content": "wanted"}

    def plan(self, current, desired):
        plan = _reconcile.Plan()
        if self.breach == "reads in plan":  # decides on the disk, not on current
            current = {"content": self.path.read_text()} if self.path.exists() else None
        if current != desired or self.breach == "never converges":
            apply = (lambda: None) if self.breach == "idle action" else (
                lambda: self.path.write_text("wanted"))
            plan.add(f"write {self.path}", apply)
        if self.breach == "writes in check mode":
            self.path.write_text("early")
        return plan


@pytest.mark.parametrize("breach, message", [
    (None, None),
    ("writes in observe", "changed the world in ['observe']"),
    ("writes in check mode", "changed the world in ['plan']"),
    ("idle action", "listed actions that changed nothing"),
    ("never converges", "a second run is not a no-op"),
    ("reads in plan", "desired or plan read the host"),
    ("reads in desired", "desired or plan read the host"),
    ("runs a command in desired", "desired or plan read the host"),
    ("asks libvirt in plan", "desired or plan read the host"),
])
def test_the_contract_catches_each_breach(tmp_path, breach, message):
    path = tmp_path / "file"
    world = World(lambda: Toy(path, breach), lambda: tree(str(tmp_path)))
    if message is None:
        assert_contract(world)
    else:
        with pytest.raises(AssertionError, match=re.escape(message)):
            assert_contract(world)
