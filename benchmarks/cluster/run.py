#!/usr/bin/env python3
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wall time of playbooks/site.yml on the lab's 3 blades with 3, 6 and 12 guests.

First the whole cluster is torn down and converged without guests (the base: partitions,
thin pool, golden images), timed once. Then for each size: remove the guests and their
disks (teardown_scope=guests, not timed), converge with that many guests (the first
converge of those guests: their clones, seeds and domains), then run site.yml again with
nothing to change (re-run). It also counts the task results per blade of each
re-run: one module call per host per resource kind means that number does not grow
with the guests, and the re-run time should not either.

Prints medians and ratios; never fails on a timing (the lab is TCG on a shared host).
Needs `lab/lab up --blades 3` (make bench-cluster does that).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))

from ansible_collections.openblade.kvm.tests.integration import harness  # noqa: E402

# The lab inventory's own cluster, so the first teardown also clears what make demo or
# the Molecule scenario left on the blades.
with open(os.path.join(ROOT, "inventories", "lab", "group_vars", "blades.yml")) as _handle:
    CLUSTER = yaml.safe_load(_handle)["cluster_name"]
SIZES = (3, 6, 12)
PARTITIONS = ("office", "sales", "shared")


def guests(count):
    """``count`` small guests (the lab's boot-stub image), spread over the partitions."""
    return [{"name": f"bench{index:02d}", "image": "lab-base", "memory": 64,
             "partitions": [PARTITIONS[index % len(PARTITIONS)]]} for index in range(1, count + 1)]


def run(playbook, variables, check=False):
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="bench-cluster-") as handle:
        json.dump(variables, handle)
        handle.flush()
        started = time.monotonic()
        results = harness.ansible_playbook(os.path.join(ROOT, playbook), check=check,
                                           extra_vars=[f"@{handle.name}"], timeout=3600)
        return time.monotonic() - started, results


def per_blade(results):
    counts = {}
    for result in results:
        counts[result["_host"]] = counts.get(result["_host"], 0) + 1
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reruns", type=int, default=1, help="no-change re-runs per size (median printed)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args()

    base = {"teardown_confirm": CLUSTER, "teardown_force_stop": True, "teardown_shutdown_timeout": 5}
    run("lab/prepare.yml", {})
    run("playbooks/teardown.yml", dict(base, cluster_guests=[]))
    seconds, _ = run("playbooks/site.yml", {"cluster_guests": []})
    print(f"base converge (bare blades to partitions, thin pool, golden images; no guests): {seconds:.0f}s",
          flush=True)
    rows = []
    for index, size in enumerate(args.sizes):
        variables = dict(base, cluster_guests=guests(size))
        if index:  # the base converge left no guests; later sizes start from none again
            run("playbooks/teardown.yml", dict(variables, teardown_scope="guests"))
        first, results = run("playbooks/site.yml", variables)
        changed = sum(1 for r in results if r.get("changed"))
        reruns = []
        for _ in range(args.reruns):
            seconds, results = run("playbooks/site.yml", variables)
            assert not any(r.get("changed") for r in results), "the re-run changed something"
            reruns.append(seconds)
        tasks = per_blade(results)
        rows.append((size, first, statistics.median(reruns), changed, sorted(set(tasks.values()))))
        print(f"{size} guests: first converge {first:.0f}s ({changed} changed task results), "
              f"re-run median {statistics.median(reruns):.0f}s, task results per blade {tasks}", flush=True)
    smallest = rows[0]
    print("\n| guests | first converge | no-change re-run | re-run / re-run at "
          f"{smallest[0]} | task results per blade (re-run) |")
    print("| ---: | ---: | ---: | ---: | --- |")
    for size, first, rerun, _changed, tasks in rows:
        print(f"| {size} | {first:.0f} s | {rerun:.0f} s | {rerun / smallest[2]:.2f}x | "
              f"{', '.join(map(str, tasks))} |")
    print(f"\n(3 TCG lab blades on this host, {args.reruns} re-run(s) per size; medians. "
          "Timings are noisy; the task count is not.)", flush=True)
    run("playbooks/teardown.yml", dict(base, cluster_guests=guests(max(args.sizes))))


if __name__ == "__main__":
    main()
