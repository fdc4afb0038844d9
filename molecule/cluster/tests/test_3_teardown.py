"""Teardown, last (file order): refused without confirmation; with it, everything of the
cluster is gone from every blade, and a guest made by hand is left alone."""

from __future__ import annotations

import os

import pytest

from ansible_collections.openblade.kvm.tests.integration import harness

TEARDOWN = os.path.join(harness.REPO, "playbooks", "teardown.yml")
HANDMADE = "handmade1"
# A domain defined by hand, without our metadata: teardown must not touch it.
HANDMADE_XML = (f"<domain type='qemu'><name>{HANDMADE}</name><memory unit='MiB'>32</memory>"
                "<os><type arch='x86_64'>hvm</type></os></domain>")


def test_teardown_refuses_without_confirmation():
    with pytest.raises(AssertionError, match="teardown_confirm=lab"):
        harness.ansible_playbook(TEARDOWN)


@pytest.fixture(scope="module")
def torn_down(cluster):
    cluster.run("blade1", f"echo \"{HANDMADE_XML}\" > /tmp/{HANDMADE}.xml; virsh define /tmp/{HANDMADE}.xml")
    harness.ansible_playbook(TEARDOWN, extra_vars=[f"teardown_confirm={cluster.name}",
                                                   "teardown_force_stop=true", "teardown_shutdown_timeout=5"])
    yield
    cluster.run("blade1", f"virsh undefine {HANDMADE}")


@pytest.mark.parametrize("name", ("blade1", "blade2", "blade3"))
def test_teardown_removes_the_cluster_and_only_it(cluster, torn_down, name):
    left = cluster.run(name, "virsh -q list --all --name; virsh -q net-list --all --name; "
                             "vgs --noheadings -o vg_name; ip -br link; ls /var/lib/libvirt/boot "
                             "/var/lib/openblade/ipam").split()
    guests = {g["name"] for g in cluster.inventory["cluster_guests"]}
    assert not guests & set(left), left
    assert not {p["name"] for p in cluster.inventory["network_partitions"]} & set(left), left
    assert "vg_guests" not in left and "bond0" not in left, left
    assert not [item for item in left if item.startswith(("br-", "bond0.")) or item.endswith(".iso")], left
    assert f"{cluster.name}.json" not in left
    if name == "blade1":
        assert HANDMADE in left
