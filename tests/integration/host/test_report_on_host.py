# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/report.yml on this host as a one-blade cluster with one tiny guest.

The playbook runs exactly as an operator would run it, through ansible-playbook with
an inventory whose group ``blades`` holds localhost.  This host class has no
device-mapper (and usually no lvm2), so the storage part must say what it found
rather than crash.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys

import harness
import pytest
from tiny_guest import CLUSTER, PARTITION, PREFIX

libvirt = pytest.importorskip("libvirt")

PLAYBOOK = os.path.join(harness.REPO, "playbooks", "report.yml")
NAME = PREFIX + "report"
ADDRESS = "192.0.2.10"  # TEST-NET-1: only ever written into the ledger, never contacted
WRITES = {"Create the report directory", "Write the report as Markdown and as HTML"}


@pytest.fixture
def guest(tiny_guest, apply_module, conn):
    args = tiny_guest("report", nics=[{"partition": PARTITION}])
    apply_module("guest", args)
    yield args
    dom = conn.lookupByName(args["name"])
    if dom.isActive():
        dom.destroy()
    dom.undefine()


@pytest.fixture
def report(tmp_path, libvirtd):
    """``report(check)`` runs the playbook; returns (task results, markdown, html)."""
    # The modules run with this interpreter, as in harness.ansible_module: it has
    # libvirt-python and lxml, which the host's own python3 may lack.
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"children": {"blades": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        # Twice the CPUs this host has: the report must say placement counts on CPUs that
        # are not there (the RAM declared is within what it has).
        "blade_capacity": {"cores": 2 * os.cpu_count(), "memory_mib": 1024}}}}}}}))
    ledger = tmp_path / "ledger.json"
    ledger.write_text(json.dumps({"cluster": CLUSTER, "partitions": {
        PARTITION: {NAME: ADDRESS}, "elsewhere": {PREFIX + "not-here": "192.0.2.99"}}}))
    out = tmp_path / "reports"
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

    def run(check):
        argv = [ansible_playbook, "-i", str(inventory), PLAYBOOK, "-e",
                json.dumps({"report_dir": str(out), "cluster_name": CLUSTER,
                            "report_address_ledger": str(ledger)})]
        if check:
            argv.append("--check")
        proc, lines = harness._run_ansible(argv, timeout=600)
        assert proc.returncode == 0, f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}"
        markdown = (out / "cluster-report.md").read_text()
        page = (out / "cluster-report.html").read_text()
        shutil.rmtree(out)
        return [json.loads(line) for line in lines], markdown, page

    return run


def section(markdown, title):
    """The lines of one ``## title`` section."""
    return markdown.split(f"\n## {title}\n")[1].split("\n## ")[0].splitlines()


def rows(lines, first_cell):
    return [[cell.strip() for cell in line.strip().strip("|").split(" | ")]
            for line in lines if line.startswith(f"| {first_cell} |")]


def _mem_total_mib():
    with open("/proc/meminfo") as handle:
        return int(re.search(r"^MemTotal:\s+(\d+) kB", handle.read(), re.M).group(1)) // 1024


def test_report_shows_this_host_and_its_guest_in_markdown_and_html(guest, report, conn):
    results, markdown, page = report(check=True)
    # --check only reads the blade; the changes are the local report files.
    changed = {r["_task"] for r in results if r.get("changed")}
    assert "Write the report as Markdown and as HTML" in changed and changed <= WRITES

    assert markdown.startswith(f"# Cluster report: {CLUSTER}\n")
    assert re.search(r"generated \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", markdown)
    # This host's cores and RAM against capacity (the defaults: 4 vCPUs a core, 2048 MiB
    # reserved).  Other host tests' guests may share this libvirtd, so allocation is a floor.
    [blade] = rows(section(markdown, "Blades"), "localhost")
    # RAM is MemTotal of /proc/meminfo, as hypervisor_info reads it; libvirt's node info can
    # be smaller (it sums the NUMA nodes' memory: 1.6 GiB less on some of these machines).
    cores, ram = os.cpu_count(), _mem_total_mib()
    assert blade[1] in ("kvm", "qemu") and blade[2:4] == [str(cores), str(cores * 4)]
    assert blade[6:8] == [str(ram), str(ram - 2048)]
    assert int(blade[4]) >= 1 and int(blade[8]) >= 192 and int(blade[10].split("/")[1]) >= 1
    # The guest: state from libvirt, its NIC's partition and its address from the ledger.
    assert rows(section(markdown, "Guests"), NAME) == [
        [NAME, "running", "localhost", "1", "192", PARTITION, f"{PARTITION} {ADDRESS}"]]
    # No device-mapper here: no pools, said plainly; without lvm2 at all, a named problem.
    [pool] = rows(section(markdown, "Thin pools"), "localhost")
    if shutil.which("vgs"):
        assert pool[1] == "no thin pools"
    else:
        assert pool[1] == "**unknown: lvm_info gave no answer (see problems) ⚠ no storage data**"
        assert any(problem[1].startswith("lvm_info: lvm2 is not installed on this host")
                   for problem in rows(section(markdown, "Problems"), "localhost"))

    assert [f"blade_capacity declares {2 * cores} cores, the blade has {cores} CPUs: placement "
            "counts on CPUs that are not there"] == [
        problem[1] for problem in rows(section(markdown, "Problems"), "localhost")
        if problem[1].startswith("blade_capacity")]

    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert f"<tr><td>{NAME}</td><td>running</td><td>localhost</td>" in page
    assert f"<td>{PARTITION} {ADDRESS}</td>" in page
    assert "<tr><td>localhost</td><td>" in page

    # A real run writes the same report, but for the time it was generated.
    results, real_markdown, _html = report(check=False)
    assert {r["_task"] for r in results if r.get("changed")} <= WRITES

    def timeless(text):
        return re.sub(r"generated [^.]*\.", "generated", text)
    assert timeless(real_markdown) == timeless(markdown)
