# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wall time of playbooks/site.yml on the lab's 3 blades, against an `ansible -m ping`
round over the same blades, with Mitogen (the repository's default) and with Ansible's
plain linear strategy, side by side in one run.

For each strategy: the ping round (median of --pings), then the whole cluster torn down
(not timed), the first converge of inventories/lab from bare blades (partitions, thin
pool, golden images, clones, seeds, guests), and a no-change re-run (median of
--reruns), which must change nothing. It counts, per blade, the task results of the
re-run and the remote module calls among them (a loop counts once per item; set_fact,
debug and assert run on the controller).

`--sizes 3 6 12` runs the older scan instead: the first converge and re-run with that
many guests, to show the re-run does not grow with them.

Prints medians and ratios; never fails on a timing (the lab is TCG on a shared host).
Needs `lab/lab up --blades 3` (make bench-cluster does that).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
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
PARTITIONS = ("office", "sales", "shared")
STRATEGIES = ("mitogen_linear", "linear")
# Tasks that run on the controller, not on the blade.
LOCAL_ACTIONS = {"ansible.builtin.set_fact", "set_fact", "ansible.builtin.debug", "debug",
                 "ansible.builtin.assert", "assert", "ansible.builtin.validate_argument_spec",
                 "validate_argument_spec"}
TEARDOWN = {"teardown_confirm": CLUSTER, "teardown_force_stop": True, "teardown_shutdown_timeout": 5}


def guests(count):
    """``count`` small guests (the lab's boot-stub image), spread over the partitions."""
    return [{"name": f"bench{index:02d}", "image": "lab-base", "memory": 64,
             "partitions": [PARTITIONS[index % len(PARTITIONS)]]} for index in range(1, count + 1)]


def run(playbook, variables=None, strategy=None):
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="bench-cluster-") as handle:
        json.dump(variables or {}, handle)
        handle.flush()
        started = time.monotonic()
        results = harness.ansible_playbook(os.path.join(ROOT, playbook), extra_vars=[f"@{handle.name}"],
                                           timeout=3600, strategy=strategy)
        return time.monotonic() - started, results


def ping_round(strategy):
    """Seconds for `ansible blades -m ping` (connection set-up plus one module call)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_STRATEGY=strategy)
    started = time.monotonic()
    subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible"), "blades", "-i",
                    harness.LAB_INVENTORY, "-m", "ping"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    return time.monotonic() - started


def per_blade(results):
    """{blade: (task results, remote module calls)}."""
    counts = {}
    for result in results:
        tasks, calls = counts.get(result["_host"], (0, 0))
        remote = 0 if result.get("_action") in LOCAL_ACTIONS else len(result.get("results") or [result])
        counts[result["_host"]] = (tasks + 1, calls + remote)
    return counts


def converge_and_rerun(variables, reruns, strategy=None):
    """(first converge seconds, median re-run seconds, changed results, per-blade counts)."""
    first, results = run("playbooks/site.yml", variables, strategy)
    changed = sum(1 for r in results if r.get("changed"))
    times = []
    for _i in range(reruns):
        seconds, results = run("playbooks/site.yml", variables, strategy)
        assert not any(r.get("changed") for r in results), "the re-run changed something"
        times.append(seconds)
    return first, statistics.median(times), changed, per_blade(results)


def compare_strategies(args):
    rows = []
    for strategy in STRATEGIES:
        pings = [ping_round(strategy) for _i in range(args.pings)]
        run("playbooks/teardown.yml", TEARDOWN, strategy)
        first, rerun, changed, counts = converge_and_rerun({}, args.reruns, strategy)
        ping = statistics.median(pings)
        rows.append((strategy, ping, first, rerun, counts))
        print(f"{strategy}: ping rounds {', '.join(f'{p:.1f}' for p in pings)}s; first converge {first:.0f}s "
              f"({changed} changed task results); re-run median {rerun:.0f}s; per blade (task results, "
              f"remote calls) {counts}", flush=True)
    default_ping = rows[0][1]
    print("\n| strategy | ping round | first converge | no-change re-run | re-run / ping round "
          "| re-run / default ping round | remote calls per blade (re-run) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for strategy, ping, first, rerun, counts in rows:
        calls = sorted({calls for _tasks, calls in counts.values()})
        print(f"| {strategy} | {ping:.1f} s | {first:.0f} s | {rerun:.0f} s | {rerun / ping:.1f}x | "
              f"{rerun / default_ping:.1f}x | {', '.join(map(str, calls))} |")
    print(f"\n(3 TCG lab blades on this host; medians of {args.pings} ping rounds and {args.reruns} "
          "re-run(s). Timings are noisy; the call counts are not.)", flush=True)


def scan_sizes(args):
    run("playbooks/teardown.yml", dict(TEARDOWN, cluster_guests=[]))
    seconds, _result = run("playbooks/site.yml", {"cluster_guests": []})
    print(f"base converge (bare blades to partitions, thin pool, golden images; no guests): {seconds:.0f}s",
          flush=True)
    rows = []
    for index, size in enumerate(args.sizes):
        variables = dict(TEARDOWN, cluster_guests=guests(size))
        if index:  # the base converge left no guests; later sizes start from none again
            run("playbooks/teardown.yml", dict(variables, teardown_scope="guests"))
        first, rerun, changed, counts = converge_and_rerun(variables, args.reruns)
        rows.append((size, first, rerun, sorted({tasks for tasks, _calls in counts.values()})))
        print(f"{size} guests: first converge {first:.0f}s ({changed} changed task results), "
              f"re-run median {rerun:.0f}s, per blade (task results, remote calls) {counts}", flush=True)
    smallest = rows[0]
    print("\n| guests | first converge | no-change re-run | re-run / re-run at "
          f"{smallest[0]} | task results per blade (re-run) |")
    print("| ---: | ---: | ---: | ---: | --- |")
    for size, first, rerun, tasks in rows:
        print(f"| {size} | {first:.0f} s | {rerun:.0f} s | {rerun / smallest[2]:.2f}x | "
              f"{', '.join(map(str, tasks))} |")
    run("playbooks/teardown.yml", dict(TEARDOWN, cluster_guests=guests(max(args.sizes))))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reruns", type=int, default=3, help="no-change re-runs (median printed)")
    parser.add_argument("--pings", type=int, default=3, help="ping rounds per strategy (median printed)")
    parser.add_argument("--sizes", type=int, nargs="+", help="scan these guest counts instead")
    args = parser.parse_args()
    run("lab/prepare.yml")
    if args.sizes:
        scan_sizes(args)
    else:
        compare_strategies(args)


if __name__ == "__main__":
    main()
