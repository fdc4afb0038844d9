# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster's capacity and status report, as Markdown or as one self-contained HTML page.

The report is built once as plain tables of cells (text plus an optional flag), and
each format only knows how to print a table: every number and every flag is decided
in one place, so the Markdown and the HTML page can never disagree.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: cluster_report
short_description: Render the capacity and status report of a blade cluster
version_added: 1.0.0
description:
  - Turns what M(openblade.kvm.hypervisor_info), M(openblade.kvm.lvm_info) and M(openblade.kvm.guest_info) found on every blade into the
    capacity-planning tables operations teams otherwise keep by hand, as Markdown or as a self-contained HTML page
    (inline CSS, no external assets, every value HTML-escaped).
  - The HTML page draws three pictures as inline SVG, without JavaScript or any external reference, each with a C(<title>) and text labels,
    with the element ids C(report-capacity), C(report-placement) and C(report-partition-map).
  - The capacity bars show per blade vCPU and memory use, thin pool data and metadata use and overcommit, with the capacity or threshold marked.
    The placement shows blades as columns and guests as blocks sized by memory, coloured by partition, with anti-affinity groups outlined.
    The partition map shows which partitions each blade carries and which guests sit on each.
  - Per blade, vCPUs allocated to guests against the blade's cores times C(cpu_ratio), and guest memory against its RAM minus C(memory_reserve_mib),
    the same capacity rules as the P(openblade.kvm.place#filter) filter.
    Guests count whether they run or not, because a stopped guest may start at any time.
  - Per thin pool, data and metadata use against C(pool_threshold) and overcommit against the pool's C(max_overcommit) tag.
  - Per guest, state, blade, vCPUs, memory, partitions (from its NICs), addresses and anti-affinity group.
  - Per partition and blade, the guests there; guests on a blade that does not carry their partition are flagged.
  - Every value over its capacity or threshold is flagged with a warning sign and words, in both formats.
    Blades whose information could not be read (an unreachable blade, a failed info module, a missing lvm2)
    are listed as problems instead of stopping the report.
options:
  _input:
    description:
      - A dict with C(cluster) (name), C(generated) (a timestamp, shown as given), C(cpu_ratio), C(memory_reserve_mib), C(blades) and C(addresses).
      - C(blades) maps each blade name to a dict with C(hypervisor) (the registered result of M(openblade.kvm.hypervisor_info)),
        C(lvm) (the registered result of M(openblade.kvm.lvm_info)),
        C(guests) (the C(guests) list of M(openblade.kvm.guest_info), null when it could not be read),
        optionally C(problems) (a list of strings) and C(declared) (the blade's C(blade_capacity), which placement uses;
        the report lists it as a problem where it promises more cores, RAM or thin pool than the blade reports;
        C(pool_gib) is compared with the largest thin pool plus what LVM's own allocation takes from a pool of that size,
        one extent or chunk of rounding and the pool's metadata and spare metadata volumes)
        and C(networks) (the names of the blade's active libvirt networks, which are its partitions; null or absent when unknown).
        A failed registered result is reported as a problem; an empty dict stands for a blade that gave no data at all.
      - C(addresses) maps a guest name to a dict of partition name to address.
      - Optionally C(partitions), the inventory's partition names in order (rows and colours of the partition map), and C(anti_affinity),
        a dict of guest name to anti-affinity group.
    type: dict
    required: true
  format:
    description: The output format.
    type: str
    choices: [markdown, html]
    default: markdown
  pool_threshold:
    description: Thin pool data and metadata use, in percent, above which the value is flagged.
    type: float
    default: 80
"""

EXAMPLES = r"""
- name: Write the report as Markdown and as HTML
  ansible.builtin.copy:
    dest: "reports/cluster-report.{{ item.ext }}"
    content: "{{ report_data | openblade.kvm.cluster_report(item.format) }}"
    mode: "0644"
  loop:
    - {format: markdown, ext: md}
    - {format: html, ext: html}
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
_value:
  description: The report, as Markdown text or as a complete HTML document.
  type: str
"""

import html
from dataclasses import dataclass, field

from ansible.errors import AnsibleFilterError

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.sizes import human
from ansible_collections.openblade.kvm.plugins.plugin_utils import report_svg

GIB = 1024 ** 3
WARN = "\u26a0"  # warning sign: visible in a terminal, in a rendered page and in print


@dataclass(frozen=True)
class Cell:
    text: str
    flag: str | None = None  # why the value needs attention, in words
    number: bool = False  # right-aligned


@dataclass
class Table:
    title: str
    headers: list
    rows: list = field(default_factory=list)
    footer: list | None = None  # a totals row
    empty: str = "none"  # shown instead of a table without rows

    @property
    def all_rows(self):
        return self.rows + ([self.footer] if self.footer else [])


@dataclass
class Report:
    title: str
    lines: list
    tables: list
    view: report_svg.ClusterView | None = None  # what the HTML page draws

    @property
    def flags(self):
        return sum(1 for table in self.tables for row in table.all_rows for cell in row if cell.flag)


# --- numbers, once for both formats -----------------------------------------------------------

def _num(value):
    """A number from a registered result (int, float or a numeric string), or None."""
    if isinstance(value, bool) or value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _count(number, noun):
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _show(value, suffix=""):
    return "?" if value is None else f"{value:g}{suffix}"


def _use(used, capacity):
    """Used against capacity as a percentage cell, flagged past 100 %."""
    if used is None or capacity is None:
        return Cell("?", number=True)
    if capacity <= 0:
        return Cell("no capacity", flag="over capacity" if used > 0 else None, number=True)
    percent = used / capacity * 100
    return Cell(f"{percent:.0f}%", flag="over capacity" if used > capacity else None, number=True)


def _percent(value, threshold):
    value = _num(value)
    if value is None:
        return Cell("unknown", number=True)  # an inactive pool reports no use
    return Cell(f"{value:.1f}%", flag=f"over {threshold:g}%" if value > threshold else None, number=True)


def _size(value):
    value = _num(value)
    return Cell(human(int(value)) if value is not None else "?", number=True)


# --- what each blade holds ---------------------------------------------------------------------

def _failed(result, module):
    if isinstance(result, dict) and result.get("failed"):
        return [f"{module}: {result.get('msg', 'failed')}"]
    return []


def _blade_facts(blade):
    """(hypervisor facts, lvm result, guests or None, problems) of one blade, whatever it sent."""
    if not blade:
        return {}, {}, None, ["no data: the blade was unreachable or failed before the report"]
    hv_result, lvm = blade.get("hypervisor") or {}, blade.get("lvm") or {}
    facts = hv_result.get("hypervisor") or {}
    problems = _failed(hv_result, "hypervisor_info") + list(facts.get("problems") or [])
    problems += _failed(lvm, "lvm_info") + list(blade.get("problems") or [])
    problems += _declared_problems(blade.get("declared"), facts, lvm)
    guests = blade.get("guests")
    return facts, lvm, None if guests is None else list(guests), problems


# Nominal RAM (what an inventory declares) is a little above the MemTotal the kernel
# reports (3.0% on a lab blade): only a larger gap means a wrong declaration.
NOMINAL_RAM_SLACK = 1.05


def _declared_problems(declared, facts, lvm):
    """Where the blade_capacity placement counts on is more than the blade has."""
    if not declared:
        return []
    problems = []
    cores, cpus = _num(declared.get("cores")), _num(facts.get("cpu_count"))
    if cores is not None and cpus is not None and cores > cpus:
        problems.append(f"blade_capacity declares {cores:g} cores, the blade has {cpus:g} CPUs: "
                        "placement counts on CPUs that are not there")
    memory, ram = _num(declared.get("memory_mib")), _num(facts.get("memory_mib"))
    if memory is not None and ram is not None and memory > ram * NOMINAL_RAM_SLACK:
        problems.append(f"blade_capacity declares {memory:g} MiB of RAM, the blade has {ram:g} MiB: "
                        "placement counts on memory that is not there")
    problem = _pool_shortfall(_num(declared.get("pool_gib")), lvm.get("thin_pools") or [])
    return problems + ([problem] if problem else [])


# lvm2's default extent size: lvm_info reports no extent size, and lvm_thinpool keeps the VG's.
DEFAULT_EXTENT = 4 * 1024 ** 2


def _allocation_slack(pool):
    """How far below a declared size LVM's own allocation may put a pool sized for it.

    LVM allocates whole extents (or chunks, where those are larger): a pool sized as a
    share of its VG loses up to one unit to rounding down (inventories/lab: 90% of 5119
    extents is 4607.1, so the data LV is 4607 extents, 4 MiB short of 18 GiB).  A pool
    sized to fill its VG leaves room for its metadata LV and the spare (``lvol0_pmspare``)
    of the same size: the data LV that ``lvs`` shows as ``size`` is smaller by both.
    """
    unit = max(_num(pool.get("extent_size")) or DEFAULT_EXTENT, _num(pool.get("chunk_size")) or 0)
    return unit + 2 * (_num(pool.get("metadata_size")) or 0)


def _gib(nbytes, declared):
    """nbytes in GiB with the fewest decimals (at least 1) that do not print as ``declared``."""
    for digits in range(1, 5):
        text = f"{nbytes / GIB:.{digits}f}"
        if float(text) != declared:
            return text
    return text


def _pool_shortfall(pool_gib, pools):
    """The problem when the largest thin pool is really smaller than pool_gib, else None.

    Compared in bytes with the pool's allocation slack: ``pool_gib: 18`` on the lab's
    ``90%VG`` of a 20 GiB disk (a 17.996 GiB data LV, ``lvs``: ``<18.00g``) is no shortfall.
    """
    sized = [(size, pool) for pool in pools if (size := _num(pool.get("size"))) is not None]
    if not pool_gib or not sized:
        return None
    size, pool = max(sized, key=lambda item: item[0])
    if pool_gib * GIB <= size + _allocation_slack(pool):
        return None
    return (f"blade_capacity declares pool_gib {pool_gib:g}, the largest thin pool here is "
            f"{_gib(size, pool_gib)} GiB: placement counts on disk that is not there")


def _blade_numbers(facts, guests, cpu_ratio, reserve):
    """The blade's capacity and allocation; None for what it did not tell (guests None: no list)."""
    cores, ram = _num(facts.get("cpu_count")), _num(facts.get("memory_mib"))

    def total(count):
        return None if guests is None else sum(count(g) for g in guests)
    return {
        "cores": cores, "vcpu_capacity": cores * cpu_ratio if cores is not None else None,
        "vcpus": total(lambda g: _num(g.get("vcpus")) or 0),
        "ram": ram, "memory_capacity": ram - reserve if ram is not None else None,
        "memory": total(lambda g: _num(g.get("memory")) or 0),
        "running": total(lambda g: g.get("state") == "running"), "guests": total(lambda g: 1),
    }


def _total(numbers):
    """The cluster row: sums, unknown as soon as one blade's value is unknown."""
    columns = {key: [n[key] for n in numbers] for key in numbers[0]}
    return {key: None if None in column else sum(column) for key, column in columns.items()}


def _blade_cells(name, virt, n):
    def num(key):
        return Cell(_show(n[key]), number=True)
    return [Cell(name), Cell(virt), num("cores"), num("vcpu_capacity"), num("vcpus"),
            _use(n["vcpus"], n["vcpu_capacity"]), num("ram"), num("memory_capacity"), num("memory"),
            _use(n["memory"], n["memory_capacity"]),
            Cell(f"{_show(n['running'])}/{_show(n['guests'])}", number=True)]


def _pool_rows(name, lvm, threshold):
    if lvm.get("failed") or "thin_pools" not in lvm:
        return [[Cell(name), Cell("unknown: lvm_info gave no answer (see problems)", flag="no storage data"),
                 *[Cell("") for _i in range(6)]]]
    if not lvm["thin_pools"]:
        return [[Cell(name), Cell("no thin pools"), *[Cell("") for _i in range(6)]]]
    rows = []
    for pool in lvm["thin_pools"]:
        ratio, limit = _num(pool.get("overcommit")), _num(pool.get("max_overcommit"))
        over = ratio is not None and limit is not None and ratio > limit
        rows.append([
            Cell(name), Cell(f"{pool.get('vg')}/{pool.get('name')}"), _size(pool.get("size")),
            _percent(pool.get("data_percent"), threshold), _percent(pool.get("metadata_percent"), threshold),
            _size(pool.get("virtual_size")),
            Cell(_show(ratio, "x"), flag=f"over max {limit:g}x" if over else None, number=True),
            Cell(_show(limit, "x") if limit is not None else "none", number=True),
        ])
    return rows


def _guest_row(guest, blade, addresses, groups):
    name = str(guest.get("name"))
    partitions = list(dict.fromkeys(
        nic.get("partition") or (f"bridge {nic['bridge']}" if nic.get("bridge") else "?")
        for nic in guest.get("nics") or []))
    known = addresses.get(name) or {}
    state = str(guest.get("state", "?")) + (" (reboot pending)" if guest.get("reboot_pending") else "")
    return [Cell(name), Cell(state), Cell(blade), Cell(_show(_num(guest.get("vcpus"))), number=True),
            Cell(_show(_num(guest.get("memory"))), number=True), Cell(", ".join(partitions) or "none"),
            Cell(", ".join(f"{part} {known[part]}" for part in sorted(known)) or "none"),
            *([Cell(str(groups.get(name) or ""))] if groups else [])]


def _nic_partitions(guest):
    return tuple(dict.fromkeys(nic["partition"] for nic in guest.get("nics") or [] if nic.get("partition")))


def _raw_bars(n, blade_cells, lvm, pool_rows):
    """(kind, Bar fields) per bar of one blade; flags come from the table cells, so a bar is
    red exactly where the table shows the warning sign."""
    def use(label, used, capacity, cell, unit):
        percent = used / capacity * 100 if None not in (used, capacity) and capacity > 0 else None
        text = f"{_show(used)} of {_show(capacity)} {unit} ({cell.text})" if percent is not None else "unknown"
        return "use", dict(label=label, value=percent, limit=100.0, text=text,
                           limit_text="capacity 100%", flagged=bool(cell.flag))
    bars = [use("vCPU", n["vcpus"], n["vcpu_capacity"], blade_cells[5], "vCPUs"),
            use("memory", n["memory"], n["memory_capacity"], blade_cells[9], "MiB")]
    pools = [] if lvm.get("failed") else lvm.get("thin_pools") or []
    # Without pools, pool_rows holds one placeholder row and no bar is drawn.
    for pool, row in zip(pools, pool_rows, strict=False):
        name = row[1].text
        for label, key, cell in (("data", "data_percent", row[3]), ("metadata", "metadata_percent", row[4])):
            bars.append(("pool", dict(label=f"{name} {label}", value=_num(pool.get(key)), limit=None,
                                      text=cell.text + (" used" if cell.text != "unknown" else ""), limit_text="",
                                      flagged=bool(cell.flag))))
        ratio, limit = _num(pool.get("overcommit")), _num(pool.get("max_overcommit"))
        bars.append(("overcommit", dict(label=f"{name} overcommit", value=ratio, limit=limit,
                                        text=f"{_show(ratio, 'x')} of the pool size",
                                        limit_text=f"max {_show(limit, 'x')}", flagged=bool(row[6].flag))))
    return bars


def _bars(raw, threshold):
    """Bars of every blade, each kind on one scale across the cluster so blades compare."""
    values = {kind: [b[k] for _n, bars in raw for kd, b in bars if kd == kind for k in ("value", "limit")
                     if b[k] is not None] for kind in ("use", "pool", "overcommit")}
    scale = {"use": max([100.0] + values["use"]), "pool": 100.0, "overcommit": max([1.0] + values["overcommit"])}
    out = {}
    for name, bars in raw:
        out[name] = []
        for kind, fields in bars:
            if kind == "pool":
                fields = dict(fields, limit=threshold, limit_text=f"threshold {threshold:g}%")
            out[name].append(report_svg.Bar(scale=scale[kind], **fields))
    return out


def _partition_cells(view):
    """The partition map as table rows: per partition and blade, the guests there, flagged
    where guests sit on a blade that does not carry the partition."""
    rows = []
    for partition in view.partitions:
        row = [Cell(partition)]
        for blade in view.blades:
            names = ", ".join(g.name for g in blade.guests if partition in g.partitions)
            if blade.networks is None:
                row.append(Cell(names or "unknown"))
            elif partition in blade.networks:
                row.append(Cell(names or "carried, no guests"))
            else:
                row.append(Cell(names or "not carried", flag="partition not carried here" if names else None))
        rows.append(row)
    return rows


def build_report(data, pool_threshold=80):
    """The report as tables of cells: the one place that decides what is shown and flagged."""
    if not isinstance(data, dict):
        raise ValueError(f"expects a dict with cluster, blades and addresses, got {type(data).__name__}")
    cpu_ratio, reserve = _num(data.get("cpu_ratio", 4)), _num(data.get("memory_reserve_mib", 2048))
    threshold = _num(pool_threshold)
    if cpu_ratio is None or reserve is None or threshold is None:
        raise ValueError("cpu_ratio, memory_reserve_mib and pool_threshold must be numbers")
    addresses = data.get("addresses") or {}
    blades = Table("Blades", ["blade", "virt", "cores", "vCPU capacity", "vCPUs allocated", "vCPU use",
                              "RAM MiB", "memory capacity MiB", "guest memory MiB", "memory use",
                              "guests running/total"])
    pools = Table("Thin pools", ["blade", "pool", "size", "data used", "metadata used", "virtual size",
                                 "overcommit", "max overcommit"])
    groups = data.get("anti_affinity") or {}
    # The anti-affinity column only where the inventory has groups: most clusters have none.
    guests = Table("Guests", ["guest", "state", "blade", "vCPUs", "memory MiB", "partitions", "addresses"]
                   + (["anti-affinity"] if groups else []),
                   empty="no guests")
    problems = Table("Problems", ["blade", "problem"], empty="none")
    numbers, guest_rows, raw_bars, view_blades = [], [], [], []
    for name in sorted(data.get("blades") or {}):
        blade = data["blades"][name]
        facts, lvm, blade_guests, found = _blade_facts(blade)
        numbers.append(_blade_numbers(facts, blade_guests, cpu_ratio, reserve))
        blades.rows.append(_blade_cells(name, facts.get("virt_type") or "?", numbers[-1]))
        blade_pools = _pool_rows(name, lvm, threshold)
        pools.rows += blade_pools
        raw_bars.append((name, _raw_bars(numbers[-1], blades.rows[-1], lvm, blade_pools)))
        guest_rows += [(str(g.get("name")), name, g) for g in blade_guests or ()]
        problems.rows += [[Cell(name), Cell(str(problem))] for problem in found]
        networks = (blade or {}).get("networks")
        view_blades.append(report_svg.Blade(
            name, memory_capacity=numbers[-1]["memory_capacity"],
            networks=None if networks is None else frozenset(str(n) for n in networks),
            guests=[report_svg.Guest(str(g.get("name")), _num(g.get("memory")) or 0, _num(g.get("vcpus")),
                                     _nic_partitions(g), groups.get(str(g.get("name"))), str(g.get("state", "?")))
                    for g in sorted(blade_guests or (), key=lambda g: str(g.get("name")))]))
    if len(numbers) > 1:
        blades.footer = _blade_cells("cluster total", "", _total(numbers))
    guests.rows = [_guest_row(g, blade, addresses, groups)
                   for _name, blade, g in sorted(guest_rows, key=lambda r: r[:2])]
    bars = _bars(raw_bars, threshold)
    for blade in view_blades:
        blade.bars = bars[blade.name]
    declared = [str(p) for p in data.get("partitions") or []]
    used = sorted({p for b in view_blades for g in b.guests for p in g.partitions} - set(declared))
    view = report_svg.ClusterView(str(data.get("cluster", "default")), view_blades, declared + used)
    partition_map = Table("Partition map", ["partition"] + [b.name for b in view_blades],
                          _partition_cells(view), empty="no partitions")
    running = sum(1 for *_where, g in guest_rows if g.get("state") == "running")
    lines = [
        f"Cluster {data.get('cluster', 'default')}, generated {data.get('generated', 'at an unknown time')}.",
        f"{_count(len(numbers), 'blade')}, {_count(len(guest_rows), 'guest')} ({running} running), "
        f"{_count(len(problems.rows), 'problem')}.",
        f"Capacity per blade: vCPUs = cores x {cpu_ratio:g}, memory = RAM - {reserve:g} MiB. "
        f"Guests count whether running or not. Thin pool use is flagged above {threshold:g}%, "
        "overcommit above the pool's max_overcommit.",
    ]
    report = Report(f"Cluster report: {data.get('cluster', 'default')}", lines,
                    [blades, pools, guests, partition_map, problems], view)
    flags = report.flags
    report.lines.append(f"{WARN} {_count(flags, 'flagged value')}: over capacity, over threshold or unknown."
                        if flags else "No value is over its capacity or threshold.")
    return report


# --- the two formats: tables only ------------------------------------------------------------------

def _md_text(text):
    # Backslash-escape what would end a cell or become HTML, a link or code in a Markdown viewer.
    for char in "\\|<>[]`":
        text = text.replace(char, "\\" + char)
    return " ".join(text.split())


def _md_cell(cell):
    text = _md_text(cell.text)
    return f"**{text} {WARN} {_md_text(cell.flag)}**" if cell.flag else text


def render_markdown(report):
    out = [f"# {_md_text(report.title)}", ""]
    out += [line for text in report.lines for line in (_md_text(text), "")]
    if report.view:
        out += ["The HTML report draws the capacity bars, the placement and the partition map as pictures.", ""]
    for table in report.tables:
        out += [f"## {table.title}", ""]
        if not table.rows:
            out += [f"_{table.empty}_", ""]
            continue
        rows = table.all_rows
        aligns = ["---:" if any(r[i].number for r in rows) else "---" for i in range(len(table.headers))]
        out.append("| " + " | ".join(_md_text(h) for h in table.headers) + " |")
        out.append("| " + " | ".join(aligns) + " |")
        out += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]
        out.append("")
    return "\n".join(out)


CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1d1d1f; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #c8c8cc; padding: 0.3em 0.6em; text-align: left; }
th { background: #eef0f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.flag { background: #fde2e1; color: #8a1111; font-weight: bold; }
tfoot td { font-weight: bold; border-top: 2px solid #555; }
p.empty { font-style: italic; }
figure { margin: 0 0 2em 0; overflow-x: auto; }
""".strip()


def _html_cell(cell):
    classes = " ".join(name for name, on in (("num", cell.number), ("flag", cell.flag)) if on)
    attr = f' class="{classes}"' if classes else ""
    text = html.escape(cell.text)
    if cell.flag:
        text += f" {WARN} {html.escape(cell.flag)}"
    return f"<td{attr}>{text}</td>"


def render_html(report):
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{esc(report.title)}</title>", f"<style>\n{CSS}\n</style>", "</head>", "<body>",
           f"<h1>{esc(report.title)}</h1>"]
    out += [f"<p>{esc(text)}</p>" for text in report.lines]
    # The pictures first (what one looks at), then the tables with every figure.
    for heading, svg in report_svg.pictures(report.view) if report.view else ():
        out += [f'<h2>{esc(heading)}</h2>', '<figure>', svg, '</figure>']
    for table in report.tables:
        out.append(f"<h2>{esc(table.title)}</h2>")
        if not table.rows:
            out.append(f'<p class="empty">{esc(table.empty)}</p>')
            continue
        out += ["<table>", "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in table.headers)
                + "</tr></thead>", "<tbody>"]
        out += ["<tr>" + "".join(_html_cell(cell) for cell in row) + "</tr>" for row in table.rows]
        out.append("</tbody>")
        if table.footer:
            out.append('<tfoot><tr>' + "".join(_html_cell(cell) for cell in table.footer) + "</tr></tfoot>")
        out.append("</table>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


RENDERERS = {"markdown": render_markdown, "html": render_html}


def cluster_report(data, format="markdown", pool_threshold=80):
    if format not in RENDERERS:
        raise AnsibleFilterError(f"openblade.kvm.cluster_report: format must be one of "
                                 f"{', '.join(RENDERERS)}, not {format!r}")
    try:
        return RENDERERS[format](build_report(data, pool_threshold))
    except ValueError as exc:
        raise AnsibleFilterError(f"openblade.kvm.cluster_report: {exc}") from None


class FilterModule:
    def filters(self):
        return {"cluster_report": cluster_report}
