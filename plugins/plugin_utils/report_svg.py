# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster report's three pictures, as inline SVG: capacity bars, placement, partition map.

The pictures are drawn from a ``ClusterView`` that the ``cluster_report`` filter builds
next to its tables, with the same flags: this module decides nothing about capacity,
it only draws.  Plain SVG 1.1 elements, no script, no external reference (fonts, CSS,
images): the page must open the same on an air-gapped operator laptop.  Every string
that comes from an inventory or a blade goes through ``esc``; ids are our own.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

# Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), each
# with the text colour that stays readable on it.
PALETTE = (("#E69F00", "#000"), ("#56B4E9", "#000"), ("#009E73", "#fff"), ("#F0E442", "#000"),
           ("#0072B2", "#fff"), ("#D55E00", "#fff"), ("#CC79A7", "#000"))
NO_PARTITION = ("#9e9e9e", "#000")
OK, OVER, TRACK, MARK = "#4a7bd0", "#c62828", "#e6e8eb", "#1d1d1f"
# Dash patterns of anti-affinity outlines; the legend and each block's title name the group.
DASHES = ("6 3", "2 2", "9 3 2 3", "1 4", "12 4")
FONT = 'font-family="system-ui, sans-serif" font-size="12"'

IDS = {"capacity": "report-capacity", "placement": "report-placement", "partitions": "report-partition-map"}


def esc(value):
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class Bar:
    """One capacity bar: ``value`` against ``limit``, drawn on a track that ends at ``scale``."""

    label: str
    value: float | None
    limit: float | None
    scale: float
    text: str  # the value in words, shown beside the bar
    limit_text: str  # what the marker stands for
    flagged: bool = False  # decided by the report's tables, never here


@dataclass(frozen=True)
class Guest:
    name: str
    memory: float
    vcpus: float | None
    partitions: tuple
    group: str | None  # anti-affinity group
    state: str


@dataclass
class Blade:
    name: str
    bars: list = field(default_factory=list)
    memory_capacity: float | None = None
    guests: list = field(default_factory=list)
    networks: frozenset | None = None  # libvirt networks on the blade; None: not known


@dataclass
class ClusterView:
    title: str
    blades: list
    partitions: list  # in the inventory's order, then any other a guest uses

    def colour(self, partition):
        if partition not in self.partitions:
            return NO_PARTITION
        return PALETTE[self.partitions.index(partition) % len(PALETTE)]

    @property
    def groups(self):
        return sorted({g.group for b in self.blades for g in b.guests if g.group})

    def dash(self, group):
        return DASHES[self.groups.index(group) % len(DASHES)]


def _n(value):
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg(kind, width, height, title, desc, body):
    name = IDS[kind]
    return "\n".join([
        f'<svg id="{name}" role="img" aria-labelledby="{name}-title {name}-desc" '
        f'width="{_n(width)}" height="{_n(height)}" viewBox="0 0 {_n(width)} {_n(height)}" {FONT}>',
        f'<title id="{name}-title">{esc(title)}</title>', f'<desc id="{name}-desc">{esc(desc)}</desc>',
        *body, "</svg>"])


def _text(x, y, text, anchor="start", extra=""):
    return f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}"{extra}>{esc(text)}</text>'


def _rect(x, y, width, height, fill, extra=""):
    return f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" height="{_n(height)}" fill="{fill}"{extra}/>'


# --- capacity bars ----------------------------------------------------------------------------

TRACK_W, ROW_H, BAR_H, CHAR_W = 380, 22, 14, 7  # CHAR_W: a generous 12px sans-serif character


def _bar(blade, meter, x, y):
    """One bar row; ``x`` is where the track starts, after the label column."""
    where = f"{blade}: {meter.label}: {meter.text}"
    if meter.limit is not None:
        where += f", {meter.limit_text}"
    if meter.flagged:
        where += " (over the limit)"
    out = [f'<g class="bar{" over" if meter.flagged else ""}">', f"<title>{esc(where)}</title>",
           _text(0, y + BAR_H - 2, meter.label), _rect(x, y, TRACK_W, BAR_H, TRACK)]
    if meter.value is not None and meter.scale > 0:
        width = min(max(meter.value, 0), meter.scale) / meter.scale * TRACK_W
        out.append(_rect(x, y, width, BAR_H, OVER if meter.flagged else OK))
    if meter.limit is not None and meter.scale > 0:
        mark = x + min(meter.limit, meter.scale) / meter.scale * TRACK_W
        out.append(f'<line class="limit" x1="{_n(mark)}" y1="{_n(y - 3)}" x2="{_n(mark)}" '
                   f'y2="{_n(y + BAR_H + 3)}" stroke="{MARK}" stroke-width="2"/>')
    words = meter.text + (f" ({meter.limit_text})" if meter.limit is not None else "")
    out += [_text(x + TRACK_W + 10, y + BAR_H - 2, ("\u26a0 " if meter.flagged else "") + words,
                  extra=' font-weight="bold" fill="#8a1111"' if meter.flagged else ""), "</g>"]
    return out


def capacity_svg(view):
    labels = [len(meter.label) for blade in view.blades for meter in blade.bars]
    x = CHAR_W * max(labels + [8]) + 12
    body = [_rect(0, 4, 12, 12, OK), _text(18, 14, "within its limit"), _rect(140, 4, 12, 12, OVER),
            _text(158, 14, "over its limit"),
            f'<line x1="270" y1="2" x2="270" y2="18" stroke="{MARK}" stroke-width="2"/>',
            _text(278, 14, "capacity or threshold")]
    y = 44
    for blade in view.blades:
        body.append(_text(0, y, blade.name, extra=' font-weight="bold" font-size="14"'))
        y += 10
        if not blade.bars:
            body.append(_text(0, y + BAR_H - 2, "no capacity data"))
            y += ROW_H
        for meter in blade.bars:
            body += _bar(blade.name, meter, x, y)
            y += ROW_H
        y += 18
    return _svg("capacity", x + TRACK_W + 340, y, f"Capacity of {view.title}",
                "Per blade, bars for vCPU and memory use against capacity and, per thin pool, data and "
                "metadata use against the threshold and overcommit against the pool's maximum; a black "
                "mark shows each limit, a red bar is over it.", body)


# --- placement ----------------------------------------------------------------------------------

COL_W, COL_GAP, AXIS_W, TOP, MIN_BLOCK, MAX_H = 160, 40, 10, 36, 16, 900


def _placement_scale(view):
    """(pixels per MiB, column height): the smallest guest tall enough for its label, if it fits."""
    tallest = max([1.0] + [max(b.memory_capacity or 0, sum(g.memory for g in b.guests)) for b in view.blades])
    smallest = min([g.memory for b in view.blades for g in b.guests if g.memory > 0] or [tallest])
    per_mib = min(max(300 / tallest, MIN_BLOCK / smallest), MAX_H / tallest)
    return per_mib, tallest * per_mib


def _guest_block(view, blade, guest, x, y, height):
    fill, ink = view.colour(guest.partitions[0] if guest.partitions else None)
    parts = ", ".join(guest.partitions) or "no partition"
    words = (f"{guest.name} on {blade}: {_n(guest.memory)} MiB, {_n(guest.vcpus or 0)} vCPU, {guest.state}, "
             f"partitions {parts}" + (f", anti-affinity group {guest.group}" if guest.group else ""))
    outline = (f' stroke="{MARK}" stroke-width="2.5" stroke-dasharray="{view.dash(guest.group)}"'
               if guest.group else ' stroke="#fff" stroke-width="1"')
    dim = "" if guest.state == "running" else ' fill-opacity="0.45"'
    out = ['<g class="guest">', f"<title>{esc(words)}</title>",
           _rect(x + 2, y, COL_W - 4, height, fill, outline + dim)]
    # The guest's other partitions as stripes on its right edge.
    for index, partition in enumerate(guest.partitions[1:]):
        out.append(_rect(x + COL_W - 10 - 8 * index, y + 1, 6, max(height - 2, 1), view.colour(partition)[0],
                         ' stroke="#fff" stroke-width="0.5"'))
    if height >= 12:
        label = (f"{guest.name} {_n(guest.memory)} MiB"
                 + ("" if guest.state == "running" else f" ({guest.state})")
                 + (f" \u2260{guest.group}" if guest.group else ""))
        out.append(_text(x + 6, y + height / 2 + 4, label, extra=f' fill="{ink}" font-size="11"'))
    out.append("</g>")
    return out


def _legend(view, y):
    out, x = [_text(0, y, "Partitions:", extra=' font-weight="bold"')], 80
    shown = list(view.partitions) + (
        [None] if any(not g.partitions for b in view.blades for g in b.guests) else [])
    for partition in shown:
        name = "no partition" if partition is None else partition
        out += [_rect(x, y - 10, 12, 12, view.colour(partition)[0]), _text(x + 16, y, name)]
        x += 28 + 7 * len(name)
    for group in view.groups:
        y += 20
        members = ", ".join(f"{g.name} on {b.name}"
                            for b in view.blades for g in b.guests if g.group == group)
        out += [_rect(0, y - 10, 24, 12, "none", f' stroke="{MARK}" stroke-width="2.5" '
                      f'stroke-dasharray="{view.dash(group)}"'),
                _text(32, y, f"\u2260{group}: anti-affinity group {group}, {members}")]
    return out, y


def placement_svg(view):
    per_mib, height = _placement_scale(view)
    width = max(AXIS_W + len(view.blades) * (COL_W + COL_GAP), 480)
    bottom = TOP + height
    body = []
    for index, blade in enumerate(view.blades):
        x = AXIS_W + index * (COL_W + COL_GAP)
        used = sum(g.memory for g in blade.guests)
        over = any(meter.flagged for meter in blade.bars if meter.label == "memory")
        body += ['<g class="blade">', _text(x + COL_W / 2, 16, blade.name, "middle", ' font-weight="bold"'),
                 _text(x + COL_W / 2, 30, ("\u26a0 " if over else "") + f"{_n(used)} MiB of "
                       + (f"{_n(blade.memory_capacity)} MiB" if blade.memory_capacity is not None else "?"),
                       "middle", ' font-size="11"' + (' font-weight="bold" fill="#8a1111"' if over else "")),
                 _rect(x, TOP, COL_W, height, "#f7f8fa", ' stroke="#c8c8cc"')]
        y = bottom
        for guest in blade.guests:
            block = guest.memory * per_mib
            y -= block
            body += _guest_block(view, blade.name, guest, x, y, block)
        if blade.memory_capacity is not None:
            line = bottom - blade.memory_capacity * per_mib
            words = f"{blade.name}: memory capacity {_n(blade.memory_capacity)} MiB"
            body += [f'<line class="limit" x1="{_n(x - 4)}" y1="{_n(line)}" x2="{_n(x + COL_W + 4)}" '
                     f'y2="{_n(line)}" stroke="{OVER}" stroke-width="2" stroke-dasharray="5 3">'
                     f"<title>{esc(words)}</title></line>"]
        body.append("</g>")
    legend, y = _legend(view, bottom + 28)
    return _svg("placement", width, y + 12, f"Placement of {view.title}",
                "Blades as columns with their memory capacity as a red dashed line; guests as blocks "
                "sized by memory, coloured by their first partition with stripes for the others, faded when "
                "not running; a dashed black outline marks an anti-affinity group.", body + legend)


# --- partition map ------------------------------------------------------------------------------

NAME_W, CELL_W, LINE_H = 120, 170, 14


def _cell(view, blade, partition, x, y, height):
    guests = [g.name for g in blade.guests if partition in g.partitions]
    carried = None if blade.networks is None else partition in blade.networks
    fill, _ink = view.colour(partition)
    wrong = carried is False and guests
    state, fill, style = {
        None: ("unknown", "#fff", ' stroke="#c8c8cc" stroke-dasharray="3 3"'),
        True: ("carried", fill, f' fill-opacity="0.3" stroke="{fill}"'),
        False: ("not carried", "#f4f4f4", ' stroke="#c8c8cc"'),
    }[carried]
    if wrong:
        state, fill, style = "\u26a0 not carried", "#fde2e1", f' stroke="{OVER}" stroke-width="2"'
    style = _rect(x, y, CELL_W - 6, height, fill, style)
    words = f"{partition} on {blade.name}: {state}; guests: {', '.join(guests) or 'none'}"
    out = ['<g class="cell">', f"<title>{esc(words)}</title>", style,
           _text(x + 6, y + 14, state, extra=' font-size="11" font-style="italic"'
                 + (' fill="#8a1111" font-weight="bold"' if wrong else ""))]
    out += [_text(x + 6, y + 14 + LINE_H * (i + 1), name) for i, name in enumerate(guests)]
    return out + ["</g>"]


def partition_svg(view):
    width = NAME_W + len(view.blades) * CELL_W + 10
    body = [_text(NAME_W + i * CELL_W + (CELL_W - 6) / 2, 16, blade.name, "middle", ' font-weight="bold"')
            for i, blade in enumerate(view.blades)]
    y = 28
    for partition in view.partitions:
        lines = max([1] + [sum(1 for g in b.guests if partition in g.partitions) for b in view.blades])
        height = 20 + LINE_H * lines
        fill, _ink = view.colour(partition)
        body += [_rect(0, y, 12, 12, fill), _text(18, y + 11, partition, extra=' font-weight="bold"')]
        for index, blade in enumerate(view.blades):
            body += _cell(view, blade, partition, NAME_W + index * CELL_W, y, height)
        y += height + 6
    if not view.partitions:
        body.append(_text(0, y + 14, "no partitions"))
        y += 20
    return _svg("partitions", width, y + 4, f"Partition map of {view.title}",
                "Partitions as rows and blades as columns: whether the blade carries the partition "
                "(has its libvirt network) and which guests sit on it there.", body)


def pictures(view):
    """The three pictures, each (heading, svg), in the order the page shows them."""
    return [("Capacity", capacity_svg(view)), ("Placement", placement_svg(view)),
            ("Partition map", partition_svg(view))]
