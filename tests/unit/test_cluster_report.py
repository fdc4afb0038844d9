# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster_report filter: both formats from one set of rows, flags, escaping, problems."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.openblade.kvm.plugins.filter.cluster_report import (
    FilterModule,
    build_report,
    cluster_report,
)

GIB = 1024 ** 3


def hypervisor(cores, memory_mib, problems=()):
    """What hypervisor_info registers."""
    return {"changed": False, "hypervisor": {
        "virt_type": "kvm", "can_run_guests": True, "cpu_count": cores, "memory_mib": memory_mib,
        "problems": list(problems)}}


def pool(name, size_gib, data, meta, virtual_gib, max_overcommit=None, vg="vg_guests"):
    """A thin pool as lvm_info returns it."""
    return {"vg": vg, "name": name, "size": size_gib * GIB, "data_percent": data, "metadata_percent": meta,
            "metadata_size": 64 * 1024 ** 2, "virtual_size": virtual_gib * GIB,
            "overcommit": round(virtual_gib / size_gib, 3), "max_overcommit": max_overcommit, "managed": True}


def lvm(*pools):
    return {"changed": False, "vgs": [{"name": "vg_guests", "size": 200 * GIB, "free": 0, "managed": True}],
            "thin_pools": list(pools), "volumes": []}


def guest(name, vcpus, memory, state="running", partitions=("office",), **extra):
    """A guest as domain_info returns it (only the fields the report reads, plus a few)."""
    nics = [{"mac": f"52:54:00:00:00:{i:02x}", "partition": p, "bridge": None, "model": "virtio"}
            for i, p in enumerate(partitions)]
    return {"name": name, "state": state, "vcpus": vcpus, "max_vcpus": vcpus, "memory": memory,
            "max_memory": memory, "managed": True, "reboot_pending": False, "nics": nics, **extra}


def cluster():
    """Three blades: one fine, one over capacity everywhere, one that sent nothing."""
    return {
        "cluster": "prod-a",
        "generated": "2024-06-01 12:00 UTC",
        "cpu_ratio": 4,
        "memory_reserve_mib": 2048,
        "blades": {
            "blade1": {
                "hypervisor": hypervisor(8, 65536),
                "lvm": lvm(pool("thinpool", 100, 41.5, 12.0, 180, max_overcommit=2.0)),
                "guests": [guest("web1", 4, 8192), guest("db1", 8, 16384, partitions=("office", "dmz")),
                           guest("batch", 2, 4096, state="stopped", partitions=())],
            },
            "blade2": {
                # 4 cores x 4 = 16 vCPUs, 8192 - 2048 = 6144 MiB: both overcommitted below.
                "hypervisor": hypervisor(4, 8192, problems=["guests run under TCG software emulation"]),
                "lvm": lvm(pool("thinpool", 50, 91.2, 85.0, 150, max_overcommit=2.5)),
                "guests": [guest("big", 12, 4096), guest("<x>", 6, 4096, partitions=("dmz",),
                                                         reboot_pending=True)],
                "problems": ["domain_info: something odd"],
            },
            "blade3": {},
        },
        "addresses": {"web1": {"office": "10.1.0.11"}, "db1": {"office": "10.1.0.12", "dmz": "10.2.0.12"},
                      "<x>": {"dmz": "10.2.0.66"}},
    }


def rows(markdown, first_cell):
    """The Markdown table rows whose first cell is ``first_cell``, as lists of cells."""
    found = []
    for line in markdown.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells and cells[0] == first_cell:
            found.append(cells)
    return found


class Cells(HTMLParser):
    """Every <td> of an HTML page as (text, class attribute), grouped by row."""

    def __init__(self, page):
        super().__init__()
        self.rows, self._cell = [], None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag == "td":
            self._cell = ["", dict(attrs).get("class") or ""]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data

    def handle_endtag(self, tag):
        if tag == "td":
            self.rows[-1].append(tuple(self._cell))
            self._cell = None

    def starting(self, first_cell):
        return [row for row in self.rows if row and row[0][0] == first_cell]


def test_registered_as_an_ansible_filter():
    assert FilterModule().filters()["cluster_report"] is cluster_report


def test_both_formats_show_every_blade_and_guest_from_the_same_rows():
    data = cluster()
    markdown, page = cluster_report(data, "markdown"), cluster_report(data, "html")
    cells = Cells(page)
    for blade in ("blade1", "blade2", "blade3"):
        # blade table + pool table (one pool, or a placeholder row) in both formats.
        assert len(rows(markdown, blade)) >= 2, blade
        assert len(cells.starting(blade)) == len(rows(markdown, blade)), blade
    for name in ("web1", "db1", "batch", "big"):
        [md_row] = rows(markdown, name)
        [html_row] = cells.starting(name)
        assert md_row == [text for text, _flag in html_row]
    assert rows(markdown, "db1") == [["db1", "running", "blade1", "8", "16384", "office, dmz",
                                      "dmz 10.2.0.12, office 10.1.0.12"]]
    assert rows(markdown, "batch") == [["batch", "stopped", "blade1", "2", "4096", "none", "none"]]
    # Headers: cluster name and generation time in both.
    for text in (markdown, page):
        assert "Cluster report: prod-a" in text and "2024-06-01 12:00 UTC" in text


def test_capacity_numbers_and_the_cluster_total():
    cluster_data = cluster()
    markdown = cluster_report(cluster_data, "markdown")
    # blade1: 8 cores x 4 = 32 vCPUs, 14 allocated; 65536 - 2048 MiB, 28672 MiB for guests.
    [blade1, _pool] = rows(markdown, "blade1")  # blade1 has no problems
    assert blade1 == ["blade1", "kvm", "8", "32", "14", "44%", "65536", "63488", "28672", "45%", "2/3"]
    # blade3 sent nothing: its values and every cluster sum they feed are unknown, not zero.
    assert rows(markdown, "blade3")[0][2:] == ["?"] * 8 + ["?/?"]
    [total] = rows(markdown, "cluster total")
    assert total[1:] == [""] + ["?"] * 8 + ["?/?"]
    del cluster_data["blades"]["blade3"]
    [total] = rows(cluster_report(cluster_data, "markdown"), "cluster total")
    assert total == ["cluster total", "", "12", "48", "32", "67%", "73728", "69632", "36864", "53%", "4/5"]


def test_values_over_capacity_or_threshold_are_flagged_in_both_formats():
    data = cluster()
    markdown = cluster_report(data, "markdown")
    blade2, pool2 = rows(markdown, "blade2")[:2]  # then its problems
    assert blade2[5] == "**112% ⚠ over capacity**"  # 18 vCPUs on 16
    assert blade2[9] == "**133% ⚠ over capacity**"  # 8192 MiB on 6144
    assert pool2[3:5] == ["**91.2% ⚠ over 80%**", "**85.0% ⚠ over 80%**"]
    assert pool2[6] == "**3x ⚠ over max 2.5x**"
    # blade1's values are all within their limits.
    assert not any("⚠" in cell for row in rows(markdown, "blade1") for cell in row)
    page = Cells(cluster_report(data, "html"))
    html_blade2, html_pool2 = page.starting("blade2")[:2]
    flagged = [text for text, classes in html_blade2 + html_pool2 if "flag" in classes.split()]
    assert flagged == ["112% ⚠ over capacity", "133% ⚠ over capacity", "91.2% ⚠ over 80%",
                       "85.0% ⚠ over 80%", "3x ⚠ over max 2.5x"]
    # The threshold is an option; a higher one leaves only the data use flagged.
    relaxed = rows(cluster_report(data, "markdown", pool_threshold=90), "blade2")[1]
    assert relaxed[3:5] == ["**91.2% ⚠ over 90%**", "85.0%"]
    # blade3's missing storage is flagged, and the count reaches the header.
    assert build_report(data).flags == 6
    assert "⚠ 6 flagged values: over capacity, over threshold or unknown." in markdown
    assert "3 blades, 5 guests (4 running), 3 problems." in markdown


def test_problems_list_failed_modules_hypervisor_problems_and_silent_blades():
    data = cluster()
    data["blades"]["blade1"]["lvm"] = {"failed": True, "msg": "lvm2 is not installed on this host"}
    data["blades"]["blade1"]["guests"] = None  # as the playbook passes a failed domain_info
    markdown = cluster_report(data, "markdown")
    # Unknown guests mean unknown use, not an idle blade.
    assert rows(markdown, "blade1")[0][4:6] == ["?", "?"] and rows(markdown, "blade1")[0][-1] == "?/?"
    assert "| blade1 | lvm_info: lvm2 is not installed on this host |" in markdown
    assert "| blade2 | guests run under TCG software emulation |" in markdown
    assert "| blade2 | domain_info: something odd |" in markdown
    assert "| blade3 | no data: the blade was unreachable or failed before the report |" in markdown
    assert rows(markdown, "blade1")[1][1] == ("**unknown: lvm_info gave no answer (see problems) "
                                              "⚠ no storage data**")


def test_a_blade_without_thin_pools_says_so():
    data = cluster()
    data["blades"]["blade1"]["lvm"] = {"changed": False, "vgs": [], "thin_pools": [], "volumes": []}
    assert rows(cluster_report(data, "markdown"), "blade1")[1][:2] == ["blade1", "no thin pools"]


def test_html_escapes_every_value_and_is_self_contained():
    data = cluster()
    data["cluster"] = "a&b <script>"
    page = cluster_report(data, "html")
    assert "<x>" not in page and "&lt;x&gt;" in page
    assert "<script>" not in page and "a&amp;b &lt;script&gt;" in page
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert not re.search(r"""(?:src|href)=|@import|url\(""", page)  # no external assets
    [row] = Cells(page).starting("<x>")
    assert [text for text, _flag in row] == ["<x>", "running (reboot pending)", "blade2", "6", "4096", "dmz",
                                             "dmz 10.2.0.66"]


def test_markdown_escapes_what_would_break_a_table_or_become_html():
    data = cluster()
    data["blades"]["blade2"]["guests"][0]["name"] = "a|b"
    markdown = cluster_report(data, "markdown")
    assert "| \\<x\\> | running (reboot pending) |" in markdown
    assert "| a\\|b | running | blade2 |" in markdown


def test_no_guests_and_an_empty_cluster_render():
    data = {"cluster": "empty", "generated": "now", "cpu_ratio": 4, "memory_reserve_mib": 2048,
            "blades": {}, "addresses": {}}
    for fmt in ("markdown", "html"):
        text = cluster_report(data, fmt)
        assert "no guests" in text and "0 blades, 0 guests (0 running), 0 problems." in text
        assert "No value is over its capacity or threshold." in text


@pytest.mark.parametrize("args, message", [
    ((cluster(), "pdf"), "format must be one of markdown, html, not 'pdf'"),
    (("not a dict", "markdown"), "expects a dict"),
    (({"cpu_ratio": "many"}, "html"), "cpu_ratio, memory_reserve_mib and pool_threshold must be numbers"),
])
def test_bad_input_fails_with_a_readable_message(args, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        cluster_report(*args)


def test_a_declared_capacity_above_what_the_blade_has_is_a_problem():
    """blade1 has 8 CPUs, 65536 MiB and a 100 GiB pool (see cluster())."""
    data = cluster()
    data["blades"]["blade1"]["declared"] = {"cores": 16, "memory_mib": 131072, "pool_gib": 150}
    markdown = cluster_report(data, "markdown")
    assert ("| blade1 | blade_capacity declares 16 cores, the blade has 8 CPUs: placement counts on "
            "CPUs that are not there |") in markdown
    assert ("| blade1 | blade_capacity declares 131072 MiB of RAM, the blade has 65536 MiB: placement "
            "counts on memory that is not there |") in markdown
    assert ("| blade1 | blade_capacity declares pool_gib 150, the largest thin pool here is 100.0 GiB: "
            "placement counts on disk that is not there |") in markdown


@pytest.mark.parametrize("declared", [
    {"cores": 8, "memory_mib": 65536, "pool_gib": 100},  # exactly what the blade reports
    {"cores": 4, "memory_mib": 68000, "pool_gib": 0},  # nominal RAM a little above MemTotal
])
def test_a_declared_capacity_within_what_the_blade_has_is_no_problem(declared):
    data = cluster()
    data["blades"]["blade1"]["declared"] = declared
    assert "blade_capacity" not in cluster_report(data, "markdown")
