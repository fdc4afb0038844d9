"""Time to provision a guest disk from a golden image on a lab blade: a thin clone
(what openblade.kvm.lvm_clone does) against a full copy with qemu-img convert (what a
collection without thin clones does), for golden images of two sizes.

    python3 benchmarks/storage/provision.py [--blade 1] [--sizes 1g,8g] [--repeat 3]

The golden images are sparse but allocated: 4 KiB of data at the start of every 64 KiB
pool chunk, so every chunk is provisioned and a copy must read the whole image, while
the data itself is small.  Both methods run side by side in the same session (these
machines are noisy) with the page cache dropped before each run, and the table shows
medians and the copy/clone ratio.  It needs a blank data disk (/dev/vdb) and leaves it
blank; it never asserts anything about the numbers.
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
    for size in P["sizes"]:
        golden = f"golden{size}"
        run(P["create"][str(size)] + ["--name", golden, VG])
        fill(f"/dev/{VG}/{golden}", size)
        run(["lvchange", "--permission", "r", f"{VG}/{golden}"])
        for _ in range(P["repeat"]):
            clone = timed([P["clone"][str(size)]])
            run(["lvremove", "--yes", f"{VG}/clone"])
            copy = timed([P["create"][str(size)] + ["--name", "copy", VG],
                          ["qemu-img", "convert", "-f", "raw", "-O", "raw", "-n", "--target-is-zero",
                           "-W", f"/dev/{VG}/{golden}", f"/dev/{VG}/copy"]])
            run(["lvremove", "--yes", f"{VG}/copy"])
            results.append({"size": size, "clone": clone, "copy": copy})
        run(["lvremove", "--yes", f"{VG}/{golden}"])
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--blade", type=int, default=1, help="lab blade index (default 1)")
    parser.add_argument("--sizes", default="1g,8g", help="golden image sizes (default 1g,8g)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size and method (default 3)")
    args = parser.parse_args(argv)
    sizes = [size_bytes(text, "--sizes") for text in args.sizes.split(",")]

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

    print(f"Provisioning a guest disk from a golden image on blade{args.blade} "
          f"(median of {args.repeat} runs, seconds)\n")
    print("| golden image | thin clone (lvm_clone) | full copy (qemu-img convert) | copy / clone |")
    print("| --- | ---: | ---: | ---: |")
    for size in sizes:
        mine = [run for run in runs if run["size"] == size]
        clone = statistics.median(run["clone"] for run in mine)
        copy = statistics.median(run["copy"] for run in mine)
        print(f"| {human(size)} | {clone:.2f} | {copy:.2f} | {copy / clone:.1f}x |")
    first, last = sizes[0], sizes[-1]
    if len(sizes) > 1:
        grow = [statistics.median(run[kind] for run in runs if run["size"] == size)
                for kind in ("clone", "copy") for size in (first, last)]
        print(f"\nFrom {human(first)} to {human(last)}: the clone takes {grow[1] / grow[0]:.1f}x as "
              f"long, the copy {grow[3] / grow[2]:.1f}x.")


if __name__ == "__main__":
    main()
