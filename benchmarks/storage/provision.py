"""Time to provision a guest disk from a golden image on a lab blade: a thin clone
(what openblade.kvm.lvm_clone does) against a full copy with qemu-img convert (what a
collection without thin clones does), for golden images of two or more sizes.

    python3 benchmarks/storage/provision.py [--blade 1] [--sizes 1g,8g] [--repeat 5]

The golden images are sparse but allocated: 4 KiB of data at the start of every 64 KiB
pool chunk, so every chunk is provisioned and a copy must read the whole image, while
the data itself is small.  All golden images are written first; then each round runs
every size and both methods, sizes in ascending order on even rounds and descending on
odd ones, so the load of a busy machine (these are noisy) falls on all sizes alike
instead of on whichever size happens to run last.  The page cache is dropped before each
run.  The table shows medians of at least 5 runs per size side by side, with the ratio
of the largest size to the smallest and the copy/clone ratio, plus each column's spread.
It needs a blank data disk (/dev/vdb) and leaves it blank; it never asserts anything
about the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "lab"))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "openblade", "kvm")
if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(REPO, LINK)
sys.path.insert(0, COLLECTIONS)

import blades  # noqa: E402

from ansible_collections.openblade.kvm.plugins.module_utils._lvm import commands  # noqa: E402
from ansible_collections.openblade.kvm.plugins.module_utils._lvm.sizes import (  # noqa: E402
    argv_bytes,
    human,
)
from ansible_collections.openblade.kvm.plugins.module_utils._validate import size_bytes  # noqa: E402

VG = "obbench_vg"
DISK = "/dev/vdb"

# Runs on the blade (python3 from stdin); prints one JSON list of timings.
REMOTE = r'''
import json, os, subprocess, sys, time
P = json.loads(sys.argv[1])
VG, CHUNK = P["vg"], 64 * 1024

def run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{argv}: {proc.stderr.strip()}")

def timed(argvs):
    run(["sync"])
    with open("/proc/sys/vm/drop_caches", "w") as handle:
        handle.write("3\n")
    started = time.monotonic()
    for argv in argvs:
        run(argv)
    return time.monotonic() - started

def fill(device, size):
    block = (b"openblade-benchmark-" * 205)[:4096]
    fd = os.open(device, os.O_WRONLY)
    try:
        for offset in range(0, size, CHUNK):
            os.pwrite(fd, block, offset)
        os.fsync(fd)
    finally:
        os.close(fd)

results = []
try:
    run(["vgcreate", VG, P["disk"]])
    run(["lvcreate", "--yes", "--type", "thin-pool", "--extents", "95%VG", "--chunksize", "64k",
         "--name", "pool", VG])
    pool = int(subprocess.run(["lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "lv_size",
                               f"{VG}/pool"], capture_output=True, text=True).stdout)
    need = sum(P["sizes"]) + max(P["sizes"])  # every golden image plus a copy of the largest
    if need > pool:
        raise SystemExit(f"the golden images and a copy of the largest need {need} bytes of pool, "
                         f"the pool on {P['disk']} has {pool}; use smaller --sizes")
    for size in P["sizes"]:
        golden = f"golden{size}"
        run(P["create"][str(size)] + ["--name", golden, VG])
        fill(f"/dev/{VG}/{golden}", size)
        run(["lvchange", "--permission", "r", f"{VG}/{golden}"])
    for round_ in range(P["repeat"]):
        for size in P["sizes"] if round_ % 2 == 0 else P["sizes"][::-1]:
            golden = f"golden{size}"
            clone = timed([P["clone"][str(size)]])
            run(["lvremove", "--yes", f"{VG}/clone"])
            copy = timed([P["create"][str(size)] + ["--name", "copy", VG],
                          ["qemu-img", "convert", "-f", "raw", "-O", "raw", "-n", "--target-is-zero",
                           "-W", f"/dev/{VG}/{golden}", f"/dev/{VG}/copy"]])
            run(["lvremove", "--yes", f"{VG}/copy"])
            results.append({"size": size, "round": round_, "clone": clone, "copy": copy})
finally:
    subprocess.run(["vgremove", "-ff", "-y", VG], capture_output=True)
    subprocess.run(["pvremove", "-y", P["disk"]], capture_output=True)
print(json.dumps(results))
'''


def remote_params(sizes, repeat):
    create, clone = {}, {}
    for size in sizes:
        # The argvs the modules run: a thin LV (golden_image, lvm_volume), a thin clone (lvm_clone).
        create[str(size)] = commands.LVCREATE.argv(type="thin", virtualsize=argv_bytes(size),
                                                   thinpool="pool")
        clone[str(size)] = commands.LVCREATE.argv(
            snapshot=True, activationskip="n", permission="rw", name="clone",
            positional=[f"{VG}/golden{size}"])
    return {"vg": VG, "disk": DISK, "sizes": sizes, "repeat": repeat, "create": create,
            "clone": clone}


MIN_REPEAT = 5


def summary(runs, sizes):
    """The side-by-side table: per method, the median per size, the largest/smallest
    ratio, and the spread (min-max) of each size's runs."""
    def runs_of(size, kind):
        return [run[kind] for run in runs if run["size"] == size]

    first, last = sizes[0], sizes[-1]
    ratio = f" {human(last)} / {human(first)} |" if len(sizes) > 1 else ""
    lines = ["| method |" + "".join(f" {human(size)} |" for size in sizes) + ratio,
             "| --- |" + " ---: |" * (len(sizes) + (len(sizes) > 1))]
    medians = {}
    for kind, label in (("clone", "thin clone (lvm_clone)"), ("copy", "full copy (qemu-img convert)")):
        medians[kind] = {size: statistics.median(runs_of(size, kind)) for size in sizes}
        row = f"| {label} |" + "".join(f" {medians[kind][size]:.2f} |" for size in sizes)
        if len(sizes) > 1:
            row += f" {medians[kind][last] / medians[kind][first]:.2f} |"
        lines.append(row)
    lines.append("| copy / clone |" + "".join(
        f" {medians['copy'][size] / medians['clone'][size]:.1f}x |" for size in sizes)
        + (" |" if len(sizes) > 1 else ""))
    lines.append("")
    for kind in ("clone", "copy"):
        spread = ", ".join(f"{human(size)} {min(runs_of(size, kind)):.2f}-{max(runs_of(size, kind)):.2f}"
                           for size in sizes)
        lines.append(f"Spread of the {kind} runs (min-max, seconds): {spread}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--blade", type=int, default=1, help="lab blade index (default 1)")
    parser.add_argument("--sizes", default="1g,8g", help="golden image sizes (default 1g,8g)")
    parser.add_argument("--repeat", type=int, default=MIN_REPEAT,
                        help=f"runs per size and method, at least {MIN_REPEAT} (default {MIN_REPEAT})")
    args = parser.parse_args(argv)
    if args.repeat < MIN_REPEAT:
        parser.error(f"--repeat: at least {MIN_REPEAT} runs per size; fewer give medians that the "
                     "noise of these machines decides")
    sizes = sorted({size_bytes(text, "--sizes") for text in args.sizes.split(",")})

    probe = subprocess.run(blades.ssh_argv(args.blade, f"wipefs --no-act {DISK}; vgs {VG}"),
                           check=False, capture_output=True, text=True)
    if probe.stdout.strip():
        sys.exit(f"{DISK} on blade{args.blade} is not blank (or {VG} exists); run the benchmark on "
                 f"a blank data disk:\n{probe.stdout}")
    params = json.dumps(remote_params(sizes, args.repeat))
    proc = subprocess.run(blades.ssh_argv(args.blade, "python3", "-", f"'{params}'"), input=REMOTE,
                          check=False, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"the benchmark failed on blade{args.blade}: {proc.stderr.strip() or proc.stdout}")
    runs = json.loads(proc.stdout)

    print(f"Provisioning a guest disk from a golden image on blade{args.blade} (median of "
          f"{args.repeat} runs per size and method, interleaved, seconds)\n")
    print(summary(runs, sizes))


if __name__ == "__main__":
    main()
