# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backing up a 4 GiB thin disk with 1 % rewritten since the last backup, blade1 -> blade2:
openblade.kvm.guest_backup (an incremental) against what a user would otherwise run on the
same data, side by side in one run:

- restic: ``restic backup --stdin`` of the whole device (a read-only LVM snapshot of it),
  into a repository on blade2 over sftp (the off-site shape: the repository is not on the
  blade being backed up).  restic deduplicates, so it sends little, but reads everything;
- qemu-img: a full ``qemu-img convert`` copy of that snapshot into a thin LV on blade2,
  reading it through ``qemu-nbd`` on blade1 (read-only, on the backup partition).

The disk is a thin LV of --size-mib MiB with --written % of it random data (written once);
one full guest_backup and one restic backup seed the base and the repository (not timed
in the table, but the full backup's figures are printed).  Each round then rewrites 1 % of
the disk (random 1 MiB extents, new ones each round) and runs the three methods, the page
caches of both blades dropped before each one.  Per method:

- read src / read dst: bytes the thin pools' data devices (``VG-pool_tdata``) read, from
  ``/sys/block/dm-N/stat`` (sectors read x 512) on blade1 / blade2: what came off the disks.
  An unallocated range of a thin LV reads as zeros without touching it, so restic and
  qemu-img show the allocated part here; ``read LV`` is what the program read from the
  volume itself (guest_backup's own ``bytes_read``; the snapshot's dm device for the others);
- sent: bytes blade1 transmitted on the backup partition's interface (``tx_bytes`` of
  trunk0.VLAN): everything on the wire, SSH, sftp and NBD framing included;
- wall: the time of the whole command (guest_backup through Ansible, as a user runs it).
  One ad-hoc task on one blade runs under Ansible's default ``linear`` strategy: this
  repository's Mitogen setting pays off over many tasks, but for a single task on a cold
  TCG blade its bootstrap cost 12-15 s against 6-9 s for plain SSH with pipelining
  (measured 2026-11-26).  guest_backup's own ``seconds`` (its steps, timed in the module)
  are printed too, so the Ansible part is visible.

Prints medians over the rounds and the ratios against guest_backup; never fails on a
timing.  Needs `lab/lab up --blades 2` (make bench-backup does that); removes what it made.
"""

# ruff: noqa: E501 - the shell commands and the table rows keep one line each

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB_TESTS = os.path.join(ROOT, "tests", "integration", "lab")
sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))
sys.path.insert(0, LAB_TESTS)


from blade_pair import Pair  # noqa: E402

import conftest as lab_conftest  # noqa: E402 - the lab tier's blades and harness

VG = "obk_vg"
VLAN = 192
GUEST = "obk-disk"
UUID = "7d6a3f5e-1c2b-5d4e-9f00-0b1adeb00b0c"
SNAP = "obk-snap"  # what restic and qemu-img read: a plain read-only snapshot of the same state
COPY = "obk-copy"  # qemu-img's copy on blade2
REPO_LV = "obk-restic"
REPO = "/srv/obk-restic"
PASSWORD = "RESTIC_PASSWORD=obk-bench"  # a throwaway repository on a lab blade
NBD_PORT = 10809
METHODS = ("guest_backup", "restic", "qemu-img")
MIB = 2**20


class Bench:
    def __init__(self, src, dest, size_mib):
        self.src, self.dest = src, dest
        self.pair = Pair(src, dest, VG, {VLAN: "10.82.0"}, "obk", pool_size="16G")
        self.size = size_mib * MIB
        self.there = self.pair.address(dest, VLAN)
        self.here = self.pair.address(src, VLAN)
        self.repo = f"sftp:root@{self.there}:{REPO}"

    # --- counters --------------------------------------------------------------------------

    @staticmethod
    def sectors_read(blade, dm_name):
        out = blade.run(
            f"for d in /sys/block/dm-*; do [ \"$(cat $d/dm/name)\" = {dm_name} ] && awk '{{print $3}}' $d/stat; done; true"
        ).stdout.split()
        return int(out[0]) * 512 if out else 0

    def counters(self):
        return {
            "src": self.sectors_read(self.src, f"{VG}-pool_tdata"),
            "dst": self.sectors_read(self.dest, f"{VG}-pool_tdata"),
            "snap": self.sectors_read(self.src, f"{VG}-{SNAP.replace('-', '--')}"),
            "sent": int(self.src.run(f"cat /sys/class/net/trunk0.{VLAN}/statistics/tx_bytes").stdout),
        }

    def measure(self, action):
        for blade in (self.src, self.dest):
            blade.run("sync; echo 3 >/proc/sys/vm/drop_caches")
        before = self.counters()
        started = time.monotonic()
        reported = action()
        wall = time.monotonic() - started
        after = self.counters()
        delta = {key: after[key] - before[key] for key in before}
        return {
            "wall": wall,
            "read_src": delta["src"],
            "read_dst": delta["dst"],
            "read_lv": reported if reported is not None else delta["snap"],
            "sent": delta["sent"],
        }

    # --- setup -----------------------------------------------------------------------------

    def setup(self, written):
        self.pair.setup()
        data_mib = self.size * written // 100 // MIB
        self.pair.make_guest(GUEST, UUID, size=f"{self.size // MIB}M", data_mib=1, data_at_mib=0)
        self.src.run(f"dd if=/dev/urandom of=/dev/{VG}/{GUEST} bs=4M count={data_mib // 4} oflag=direct status=none", timeout=3600)
        self.dest.run(
            f"lvcreate -q --yes -T {VG}/pool -V 8G -n {REPO_LV} && mkfs.ext4 -q /dev/{VG}/{REPO_LV} && "
            f"mkdir -p {REPO} && mount /dev/{VG}/{REPO_LV} {REPO} && "
            f"lvcreate -q --yes -T {VG}/pool -V {self.size // MIB}M -n {COPY}"
        )
        self.src.run(f"{PASSWORD} restic -q -r {self.repo} init", timeout=600)
        full = self.measure(lambda: self.ours("full"))
        self.snapshot()
        seed = self.measure(self.restic)
        self.drop_snapshot()
        return full, seed

    def cleanup(self):
        self.src.run(f"pkill -x qemu-nbd; lvremove -q -y {VG}/{SNAP} 2>/dev/null; rm -rf /root/.cache/restic; true", check=False)
        self.dest.run(f"umount {REPO} 2>/dev/null; rmdir {REPO} 2>/dev/null; rm -rf /var/lib/openblade/backups/{GUEST}; true", check=False)
        self.pair.cleanup()

    # --- the methods -----------------------------------------------------------------------

    def ours(self, label):
        result = lab_conftest.harness.ansible_module(
            "guest_backup", {"name": GUEST, "label": label, "target": self.there, "quiesce": "off"},
            host=self.src.name, timeout=3600, strategy="linear",
        )
        if result.get("failed"):
            raise SystemExit(f"guest_backup failed: {result['msg']}")
        self.last = result
        return result["bytes_read"]

    def snapshot(self):
        self.src.run(f"lvcreate -q --yes -s -n {SNAP} -pr -K {VG}/{GUEST} && lvchange -ay -K {VG}/{SNAP}")

    def drop_snapshot(self):
        self.src.run(f"lvremove -q -y {VG}/{SNAP}")

    def restic(self):
        self.src.run(
            f"{PASSWORD} restic -q -r {self.repo} backup --stdin --stdin-filename {GUEST}.raw </dev/{VG}/{SNAP}",
            timeout=3600,
        )

    def qemu_img(self):
        self.src.run(f"qemu-nbd --fork -r -f raw -b {self.here} -p {NBD_PORT} /dev/{VG}/{SNAP} </dev/null >/dev/null 2>&1")
        self.dest.run(f"qemu-img convert -n -f raw -O raw nbd://{self.here}:{NBD_PORT} /dev/{VG}/{COPY}", timeout=3600)

    def rewrite(self, seed, percent=1):
        """``percent`` % of the disk rewritten with random data, in 1 MiB extents at random MiB."""
        count = self.size * percent // 100 // MIB
        extents = random.Random(seed).sample(range(self.size // MIB), count)
        self.src.run(" && ".join(f"dd if=/dev/urandom of=/dev/{VG}/{GUEST} bs=1M seek={at} count=1 oflag=direct status=none" for at in extents))
        return count * MIB

    def round(self, index):
        changed = self.rewrite(index)
        found = {"guest_backup": self.measure(lambda: self.ours(f"r{index}"))}
        found["guest_backup"]["detail"] = self.last["disks"]["vda"]
        found["guest_backup"]["steps"] = self.last["seconds"]
        self.snapshot()
        try:
            order = ("restic", "qemu-img") if index % 2 else ("qemu-img", "restic")
            for method in order:
                found[method] = self.measure(self.restic if method == "restic" else self.qemu_img)
        finally:
            self.drop_snapshot()
        return changed, found


def human(value):
    return f"{value / MIB:9.1f}"


def steps_line(rounds, wall):
    """guest_backup's steps, as the module timed them: the median of each over the rounds."""
    steps = {}
    for _changed, r in rounds:
        for step, seconds in r["guest_backup"]["steps"].items():
            steps.setdefault(step, []).append(seconds)
    medians = {step: statistics.median(values) for step, values in steps.items()}
    inside = sum(medians.values())
    return (
        "guest_backup by step (median s, as the module timed them): "
        + ", ".join(f"{step} {seconds:.2f}" for step, seconds in medians.items())
        + f"; {inside:.1f} s in the module, {wall - inside:.1f} s of the {wall:.1f} s wall in Ansible around it"
    )


def table(bench, rounds, full, seed, load):
    size = bench.size
    med = {
        method: {key: statistics.median(r[method][key] for _changed, r in rounds) for key in ("wall", "read_src", "read_dst", "read_lv", "sent")}
        for method in METHODS
    }
    changed = statistics.median(c for c, _r in rounds)
    walls = {method: [r[method]["wall"] for _c, r in rounds] for method in METHODS}
    lines = [
        f"{size // MIB} MiB thin disk, {changed / MIB:.0f} MiB (1 %) rewritten since the last backup, blade1 -> blade2; "
        f"median of {len(rounds)} rounds (wall range in brackets); load average at start {load}",
        "",
        "| method | read LV MiB | read src disk MiB | read dst disk MiB | sent MiB | wall s | read LV % of disk | sent % of disk |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for method in METHODS:
        m = med[method]
        lines.append(
            f"| {method} | {human(m['read_lv'])} | {human(m['read_src'])} | {human(m['read_dst'])} | {human(m['sent'])} | "
            f"{m['wall']:7.1f} ({min(walls[method]):.1f}-{max(walls[method]):.1f}) | {100 * m['read_lv'] / size:5.1f} | "
            f"{100 * m['sent'] / size:5.1f} |"
        )
    o = med["guest_backup"]
    for method in METHODS[1:]:
        m = med[method]
        lines.append(
            f"\n{method}/guest_backup: read LV {m['read_lv'] / o['read_lv']:.1f}x, read src disk "
            f"{m['read_src'] / max(o['read_src'], 1):.1f}x, sent {m['sent'] / max(o['sent'], 1):.1f}x, wall {m['wall'] / o['wall']:.1f}x"
        )
    lines += [
        "",
        f"seed (not in the medians): guest_backup full: read LV {human(full['read_lv']).strip()} MiB, read src disk "
        f"{human(full['read_src']).strip()}, read dst disk {human(full['read_dst']).strip()}, sent {human(full['sent']).strip()}, "
        f"wall {full['wall']:.1f} s; restic first backup: read src disk {human(seed['read_src']).strip()} MiB, "
        f"sent {human(seed['sent']).strip()}, wall {seed['wall']:.1f} s",
        f"goal (issue 14): guest_backup reads {100 * o['read_lv'] / size:.1f} % and sends {100 * o['sent'] / size:.1f} % of "
        f"the disk (at most 3 %), and takes {o['wall'] / med['qemu-img']['wall']:.2f} of the full qemu-img read's time "
        f"(at most 0.10)",
        steps_line(rounds, o["wall"]),
        "per round guest_backup disk detail: "
        + "; ".join(
            f"read {r['guest_backup']['detail']['bytes_read'] // MIB} MiB, read there {r['guest_backup']['detail']['bytes_read_target'] // MIB} MiB, "
            f"sent {r['guest_backup']['detail']['bytes_sent'] // MIB} MiB"
            for _c, r in rounds
        ),
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=4096, help="the disk's size")
    parser.add_argument("--written", type=int, default=60, help="%% of the disk holding random data")
    args = parser.parse_args(argv)
    running = lab_conftest.lab_blades.running_blades()
    if len(running) < 2:
        raise SystemExit("needs two lab blades: lab/lab up --blades 2 (make bench-backup)")
    src, dest = (lab_conftest.Blade(i) for i in running[:2])
    bench = Bench(src, dest, args.size_mib)
    load = open("/proc/loadavg").read().split()[0]
    rounds = []
    try:
        full, seed = bench.setup(args.written)
        print(f"seed: guest_backup full {full}; restic {seed}", flush=True)
        for index in range(1, args.rounds + 1):
            rounds.append(bench.round(index))
            print(f"round {index}: {rounds[-1][1]}", flush=True)
    finally:
        bench.cleanup()
    print(table(bench, rounds, full, seed, load))


if __name__ == "__main__":
    main()
