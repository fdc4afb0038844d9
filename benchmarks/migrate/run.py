# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A live move between two lab blades: openblade.kvm.guest_migrate against the plain
`virsh migrate --live --persistent --undefinesource --copy-storage-all` a user would type
(to an LV they created on the destination first, with the seed ISO copied there), side by
side in one run.

The guest is the counting guest of tests/integration/lab/test_migrate.py (its setup is
reused as it is): 128 MiB of RAM, a 128 MiB thin LV with --data-mib MiB of random data,
counting once a second on its serial console.  Each round boots one guest per method at
the same time, then moves them one after the other, in alternating order, so a busy
moment of the shared machine does not always land on the same method.  Per method:

- total: wall time of what the user runs (the module call through Ansible; the lvcreate,
  seed copy and virsh migrate over SSH);
- downtime: the gap between the last count on the source and the first on the
  destination, both stamped with the source blade's clock, less the 1 s the guest waits
  between counts (so 1 s resolution at best); and libvirt's own downtime figure;
- the bytes of pool data the destination LV holds, against the source's.

Prints medians (and spreads) and the ratios virsh/ours; never fails on a timing.
Needs `lab/lab up --blades 2` (make bench-migrate does that); leaves the blades as the
lab test does (clean).
"""

# ruff: noqa: E501 - the shell commands and the table rows keep one line each

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB_TESTS = os.path.join(ROOT, "tests", "integration", "lab")
sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lab_conftest = _load("lab_conftest", os.path.join(LAB_TESTS, "conftest.py"))
lab = _load("lab_test_migrate", os.path.join(LAB_TESTS, "test_migrate.py"))

METHODS = ("openblade", "virsh")
# How long a nested guest may take to print its first counts: about 2 min on an idle lab,
# well over 10 min when other labs share the host (the lab tests' own 600 s is too short).
BOOT_TIMEOUT = 2400


class PatientBlade(lab_conftest.Blade):
    """A lab blade that waits out SSH connection failures (rc 255, no output): on a shared,
    loaded host a blade busy with nested guests misses ssh's 5 s connect timeout several
    times in a row, and a benchmark run is too long to lose to that."""

    def run(self, command, check=True, timeout=300):
        for attempt in range(6):
            proc = super().run(command, check=False, timeout=timeout)
            if proc.returncode != 255 or proc.stdout or proc.stderr.strip():
                break
            time.sleep(10 * (attempt + 1))
        if check and proc.returncode != 0:
            raise AssertionError(f"{self.name}: `{command}` failed with rc {proc.returncode}: "
                                 f"{proc.stderr.strip() or proc.stdout.strip()}")
        return proc


def plain_virsh(src, dest, name):
    """What a user types: the LV and the seed on the destination first, then virsh migrate."""
    seed = f"/var/lib/libvirt/boot/{name}-cidata.iso"
    dest_uri = f"qemu+ssh://{lab.CONTROL[2]}/system"
    mig = f"tcp://{lab.MIGRATION[2]}"
    started = time.monotonic()
    src.run(f"ssh -o BatchMode=yes {lab.CONTROL[2]} lvcreate -q --yes -T {lab.VG}/{lab.POOL} -V 128M -n {name} && "
            f"scp -q -o BatchMode=yes {seed} {lab.CONTROL[2]}:{seed} && "
            f"virsh migrate --live --persistent --undefinesource --copy-storage-all {name} {dest_uri} {mig} "
            f"--listen-address {lab.MIGRATION[2]} --disks-uri {mig}", timeout=1800)
    total = time.monotonic() - started
    info = dest.run(f"virsh domjobinfo {name} --completed", check=False).stdout
    downtime = next((int(line.split()[2]) for line in info.splitlines() if line.startswith("Total downtime:")), None)
    return total, downtime


def ours(src, name):
    started = time.monotonic()
    result = src.module("guest_migrate", lab.args(name, timeout=1800))
    total = time.monotonic() - started
    if result.get("failed"):
        raise SystemExit(f"guest_migrate failed: {result['msg']}")
    return total, result.get("job", {}).get("downtime"), result.get("paused_seconds")


def one_round(src, dest, index, order, data_mib):
    names = {method: f"obm-bench-{method}-{index}" for method in METHODS}
    for offset, method in enumerate(METHODS):
        lab.make_guest(src, names[method], 10 + 2 * index + offset, start=True, data_mib=data_mib)
    found = {}
    for method in order:
        name = names[method]
        lab.wait_counting(src, name, timeout=BOOT_TIMEOUT)
        lab.watch(src, name)
        source = lab.allocated(src, name)
        if method == "openblade":
            total, libvirt_downtime, paused = ours(src, name)
        else:
            (total, libvirt_downtime), paused = plain_virsh(src, dest, name), None
        lab.wait_counting(dest, name, timeout=BOOT_TIMEOUT)  # a few counts on the destination
        last, first, gap = lab.serial_gap(src, name)
        found[method] = {
            "total": total, "gap": gap, "downtime": max(gap - 1, 0), "libvirt_ms": libvirt_downtime,
            "paused": paused, "source": source, "dest": lab.allocated(dest, name),
            "counts": (last, first),
        }
        dest.run(f"virsh -q destroy {name}; virsh -q undefine {name}; lvremove -q -y {lab.VG}/{name}", check=False)
        src.run(f"lvremove -q -y {lab.VG}/{name} 2>/dev/null; true")
    return found


def spread(values):
    return f"{min(values):.1f}-{max(values):.1f}"


def table(rounds, data_mib):
    mib = 2**20

    def col(method, key):
        return [r[method][key] for r in rounds if r[method][key] is not None]

    rows = []
    med = {}
    for method in METHODS:
        med[method] = {key: statistics.median(col(method, key)) if col(method, key) else None
                       for key in ("total", "downtime", "gap", "libvirt_ms", "paused", "source", "dest")}
        m = med[method]
        rows.append(
            f"| {method:<9} | {m['total']:7.1f} ({spread(col(method, 'total'))}) | {m['downtime']:5.2f} "
            f"({spread(col(method, 'downtime'))}) | {m['libvirt_ms'] if m['libvirt_ms'] is not None else '-':>5} | "
            f"{m['paused'] if m['paused'] is not None else '-':>5} | {m['source'] / mib:7.1f} | {m['dest'] / mib:7.1f} | "
            f"{m['dest'] / m['source']:5.2f} |")
    o, v = med["openblade"], med["virsh"]
    lines = [
        f"Live move of a guest with 128 MiB RAM and a 128 MiB thin disk holding {data_mib} MiB, blade1 -> blade2 "
        f"(median of {len(rounds)} rounds, range in brackets)",
        "",
        "| method    | total s             | downtime s        | libvirt ms | paused s | source MiB | dest MiB | dest/source |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"ratios virsh/openblade: total {v['total'] / o['total']:.2f}, destination allocation "
        f"{v['dest'] / o['dest']:.2f}; downtime openblade - virsh: {o['downtime'] - v['downtime']:+.2f} s",
        "counts (last on the source -> first on the destination): "
        + "; ".join(f"{m} {r[m]['counts'][0]}->{r[m]['counts'][1]}" for r in rounds for m in METHODS),
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds (each moves one guest per method)")
    parser.add_argument("--data-mib", type=int, default=48, help="MiB of data written on the 128 MiB disk")
    args = parser.parse_args(argv)
    running = lab_conftest.lab_blades.running_blades()
    if len(running) < 2:
        raise SystemExit("needs two lab blades: lab/lab up --blades 2 (make bench-migrate)")
    blades = [PatientBlade(i) for i in running[:2]]
    src, dest = lab.prepare(blades)
    rounds = []
    try:
        for index in range(args.repeat):
            order = METHODS if index % 2 == 0 else tuple(reversed(METHODS))
            rounds.append(one_round(src, dest, index, order, args.data_mib))
            print(f"round {index + 1}: {rounds[-1]}", flush=True)
    finally:
        for blade in (src, dest):
            blade.run(lab.CLEANUP)
    print(table(rounds, args.data_mib))


if __name__ == "__main__":
    main()
