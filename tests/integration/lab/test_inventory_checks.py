"""site.yml checks the whole inventory in its plan play, before any play changes a blade;
and report.yml and teardown.yml find the address ledger and the seeds where the roles
and modules put them, also in a non-default ledger directory.

Blades: the bad-inventory cases use every running blade (the plan play needs the whole
`blades` group) and change nothing on them; the ledger case builds a one-guest cluster
on the first blade and tears it down again (its VG, partitions, ledger and staged
images go; /dev/vdb is left blank).  `make lab-tests` runs this file first, right after
lab-up and before test_lab.py and the lanes, so the blades are new: nothing has made
them hypervisors yet, and a play that ran too early would leave its traces.
"""

from __future__ import annotations

import copy
import json
import os
import shlex

import harness
import pytest
import yaml

SITE = os.path.join(harness.REPO, "playbooks", "site.yml")
REPORT = os.path.join(harness.REPO, "playbooks", "report.yml")
TEARDOWN = os.path.join(harness.REPO, "playbooks", "teardown.yml")
PREPARE = os.path.join(harness.REPO, "lab", "prepare.yml")
CLUSTER = "obt-inv"
LEDGER_DIR = "/var/lib/obt-ledger"  # not cluster_ledger_dir's default
SEED = "/var/lib/libvirt/boot/web1-cidata.iso"

# A valid one-guest cluster, the lab inventory's shape cut down; each case breaks one thing.
BASE = {
    "cluster_name": CLUSTER,
    "hypervisor_apt_update_cache": False,
    "blade_capacity": {"cores": 2, "memory_mib": 3072, "pool_gib": 18},
    "cluster_memory_reserve_mib": 1536,
    "network_trunk": ["trunk0"],
    "network_partitions": [
        {"name": "office", "vlan": 101, "subnet": "10.77.1.0/24", "gateway": "10.77.1.1"},
        {"name": "sales", "vlan": 102, "subnet": "10.77.2.0/24"},
    ],
    "network_probe": "10.0.2.2",
    "storage_pools": [
        {
            "vg": "obt_inv_vg",
            "pvs": ["/dev/disk/by-id/virtio-bladedata"],
            "size": "90%VG",
            "max_overcommit": 3,
        }
    ],
    "storage_golden_images": [
        {
            "name": "lab-base",
            "version": "1",
            "src": "/var/lib/openblade/images/lab-base-1.raw",
            "format": "raw",
            "size": "64m",
        }
    ],
    "guests_defaults": {"domain_type": "qemu", "machine": "pc"},
    "cluster_guests": [
        {"name": "web1", "image": "lab-base", "memory": 32, "partitions": ["office"], "state": "stopped"}
    ],
}

VLAN_RULE = (
    "is not a valid VLAN ID (allowed: integers 1-4094; the kernel also accepts 0, but 0 is the "
    "802.1p priority tag, not a VLAN, and 4095 is reserved)"
)
# (what to break, the one line the plan play must refuse it with)
BAD = {
    "vlan-0": (("network_partitions", 0, "vlan", 0), f"network_partitions[0].vlan: 0 {VLAN_RULE}"),
    "vlan-4095": (("network_partitions", 1, "vlan", 4095), f"network_partitions[1].vlan: 4095 {VLAN_RULE}"),
    "overlapping-subnets": (
        ("network_partitions", 1, "subnet", "10.77.0.0/16"),
        "network_partitions: overlapping networks: office 10.77.1.0/24 and sales 10.77.0.0/16 "
        "(each network must be disjoint from the others)",
    ),
    "70-character-name": (
        ("cluster_guests", 0, "name", "g" * 70),
        f"cluster_guests[0].name (the guest's hostname): '{'g' * 70}' cannot be a hostname "
        "(a DNS label has at most 63 characters, this has 70)",
    ),
    "pool-threshold": (
        ("storage_pools", 0, "autoextend_threshold", 20),
        "storage_pools[0].autoextend_threshold: 20 is not a valid autoextend threshold in percent "
        "(100 turns it off) (allowed: integers 50-100)",
    ),
    "image-format": (
        ("storage_golden_images", 0, "format", "vmdk"),
        "storage_golden_images[0]: value of format must be one of: raw, qcow2, got: vmdk",
    ),
    "image-src": (
        ("storage_golden_images", 0, "src", "images/lab-base-1.raw"),
        "storage_golden_images[0].src: 'images/lab-base-1.raw' is not an absolute path on the host",
    ),
}

# Everything a play after the plan would change on a new blade: packages, the files the
# hypervisor, network and storage roles write, loaded modules, services, links, LVM,
# libvirt objects (their XML under /etc/libvirt: virsh would start libvirtd through its
# socket, a change of its own), ledgers and seeds.
SNAPSHOT = " ; ".join(
    [
        "dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n' | sha256sum",
        "find /etc/systemd/network /etc/modules-load.d /etc/systemd/system /etc/lvm/profile "
        f"/var/lib/openblade {LEDGER_DIR} /var/lib/libvirt/boot /etc/libvirt -xdev "
        "-printf '%p %s %T@\\n' 2>/dev/null | sort",
        "lsmod | awk 'NR > 1 {print $1}' | sort | tr '\\n' ' '; echo",
        "systemctl is-enabled libvirtd; systemctl is-active libvirtd",
        "ip -o link show | awk '{print $2}' | tr '\\n' ' '; echo",
        "pvs --noheadings -o pv_name,vg_name; lvs --noheadings -o vg_name,lv_name",
    ]
)


def write_inventory(directory, blades, variables):
    """An inventory of the lab's ``blades`` (their connection details) with ``variables``."""
    with open(os.path.join(harness.LAB_INVENTORY, "hosts.yml")) as handle:
        hosts = yaml.safe_load(handle)["all"]["children"]["blades"]["hosts"]
    (directory / "group_vars").mkdir(parents=True, exist_ok=True)
    (directory / "hosts.yml").write_text(
        yaml.safe_dump(
            {"all": {"children": {"blades": {"hosts": {blade.name: hosts[blade.name] for blade in blades}}}}}
        )
    )
    (directory / "group_vars" / "blades.yml").write_text(yaml.safe_dump(variables))
    return str(directory)


def snapshot(blades):
    found = {}
    for blade in blades:
        # A loaded TCG blade can miss the lab's 5-second SSH connect timeout (rc 255).
        for _attempt in range(5):
            proc = blade.run(SNAPSHOT, check=False)
            if proc.returncode != 255:
                break
        assert proc.returncode == 0, f"{blade}: the state snapshot failed: {proc.stderr}"
        found[blade.name] = proc.stdout
    return found


@pytest.fixture(scope="class")
def untouched(blades):
    """The blades' state before the class's cases, compared again after the last of them."""
    before = snapshot(blades)
    yield
    after = snapshot(blades)
    for blade in blades:
        assert after[blade.name] == before[blade.name], (
            f"{blade} changed:\n{before[blade.name]}\n---\n{after[blade.name]}"
        )


class TestBadInventory:
    """Each case alone; the blades' state is compared once, after the last of them."""

    @pytest.mark.parametrize("case", sorted(BAD))
    def test_bad_inventory_stops_in_the_plan_play(self, case, blades, untouched, tmp_path):
        (key, index, field, value), expected = BAD[case]
        variables = copy.deepcopy(BASE)
        variables[key][index][field] = value
        proc, results = harness.playbook_run(
            SITE, inventory=write_inventory(tmp_path, blades, variables), timeout=600
        )
        assert proc.returncode != 0, proc.stdout[-2000:]
        # Only the plan play's tasks ran, and none of them on a blade: nothing of the
        # hypervisor, network, storage or guests roles, not even the plan's reads.
        ran = sorted({result["_task"] for result in results})
        assert all(task.startswith("openblade.kvm.cluster : ") for task in ran), ran
        assert (
            "openblade.kvm.cluster : Our guests on this blade and its copy of the address ledger" not in ran
        )
        failed = [result for result in results if result["failed"]]
        assert [result["_task"] for result in failed] == [
            "openblade.kvm.cluster : Refuse a bad inventory before anything changes"
        ], failed
        # One clean line naming the field, the value and the rule; no templating wrapper.
        assert failed[0]["msg"].splitlines() == [expected]
        output = proc.stdout + proc.stderr
        assert "Finalization of task args" not in output and "filter plugin" not in output, output[-3000:]
        assert "PLAY [Hypervisor hosts]" not in output


@pytest.fixture()
def small_cluster(blades, tmp_path):
    """blades[0] alone, as a one-guest cluster whose ledger lives in LEDGER_DIR."""
    blade = blades[0]
    if blade.run("wipefs --no-act /dev/vdb", check=False).stdout.strip():
        pytest.fail(f"{blade}: /dev/vdb is not blank; this test builds a VG on it")
    variables = dict(copy.deepcopy(BASE), cluster_ledger_dir=LEDGER_DIR)
    inventory = write_inventory(tmp_path / "inventory", [blade], variables)
    harness.ansible_playbook(PREPARE, inventory=inventory)
    yield blade, inventory
    # Whatever a failed step left: the guest, the VG on /dev/vdb, the staged images.
    blade.run(
        f"virsh undefine web1 >/dev/null 2>&1; vgremove -ff -y {BASE['storage_pools'][0]['vg']} "
        ">/dev/null 2>&1; pvremove -y /dev/vdb >/dev/null 2>&1; "
        f"rm -rf {LEDGER_DIR} {SEED} /var/lib/openblade/images",
        check=False,
    )


def test_report_and_teardown_find_a_custom_ledger_dir(small_cluster, tmp_path):
    blade, inventory = small_cluster
    ledger = f"{LEDGER_DIR}/{CLUSTER}.json"
    harness.ansible_playbook(SITE, inventory=inventory)
    address = json.loads(blade.run(f"cat {shlex.quote(ledger)}").stdout)["partitions"]["office"]["web1"]
    assert blade.run(f"test -f {SEED}", check=False).returncode == 0
    assert blade.run(f"test -e /var/lib/openblade/ipam/{CLUSTER}.json", check=False).returncode != 0, (
        "the cluster role wrote to the default ledger dir"
    )

    # The report reads the ledger where the cluster role wrote it; teardown removes it, and
    # the guest's seed, from where they are.  Both are looked at before asserting, so a
    # failure names every defect.
    report_dir = tmp_path / "report"
    harness.ansible_playbook(REPORT, inventory=inventory, extra_vars=[f"report_dir={report_dir}"])
    report = (report_dir / "cluster-report.md").read_text()
    harness.ansible_playbook(TEARDOWN, inventory=inventory, extra_vars=[f"teardown_confirm={CLUSTER}"])
    left = [path for path in (ledger, SEED) if blade.run(f"test -e {path}", check=False).returncode == 0]
    defects = (
        [f"the report does not show web1's address {address} from {ledger}"] if address not in report else []
    ) + [f"teardown left {path}" for path in left]
    assert defects == [], report
    assert blade.run("wipefs --no-act /dev/vdb").stdout.strip() == "", "teardown left /dev/vdb in use"
