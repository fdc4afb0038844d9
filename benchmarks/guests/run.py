# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""No-change reconcile of 100 defined guests, three ways, side by side in one run.

1. one ``openblade.kvm.guests`` task with the whole list;
2. a loop of 100 ``openblade.kvm.guest`` tasks;
3. a loop of 100 ``community.libvirt.virt`` tasks (``command: define`` with each guest's
   XML), the module users reach for today; it is taken from the ``ansible`` package on
   PyPI (the wheel is downloaded once with pip and only community.libvirt is unpacked).

Each way runs as its own ansible-playbook on localhost against the host's libvirtd
(qemu:///system, which must be running), the three interleaved round by round, since
these machines are noisy.  Prints medians and ratios; asserts nothing about timings,
only that every run changed nothing.

    python benchmarks/guests/run.py [--guests 100] [--rounds 3]
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
import zipfile

import libvirt

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = "/var/tmp/openblade-bench"
ANSIBLE_WHEEL = "ansible==12.3.0"  # the community package matching ansible-core 2.19
PREFIX = "obb-"
CLUSTER = "openblade-bench"
BIN = os.path.dirname(sys.executable)


def community_libvirt():
    """A collections path holding community.libvirt from the ansible wheel."""
    collections = os.path.join(CACHE, "collections")
    if not os.path.exists(os.path.join(collections, "ansible_collections/community/libvirt/MANIFEST.json")):
        wheels = os.path.join(CACHE, "wheels")
        subprocess.run([os.path.join(BIN, "pip"), "download", ANSIBLE_WHEEL, "--no-deps", "-q",
                        "-d", wheels], check=True)
        [wheel] = [name for name in os.listdir(wheels)
                   if name.startswith("ansible-") and name.endswith(".whl")]
        with zipfile.ZipFile(os.path.join(wheels, wheel)) as archive:
            members = [name for name in archive.namelist()
                       if name.startswith("ansible_collections/community/libvirt/")]
            archive.extractall(collections, members=members)
    return collections


def guest_list(count):
    return [{"name": f"{PREFIX}{index:03d}", "domain_type": "qemu", "memory": 64, "state": "present",
             "nics": [], "disks": []} for index in range(count)]


PLAYBOOKS = {
    "guests (1 call)": """
- hosts: localhost
  gather_facts: false
  tasks:
    - openblade.kvm.guests:
        cluster: {cluster}
        guests: "{{{{ bench_guests }}}}"
""",
    "domain (loop)": """
- hosts: localhost
  gather_facts: false
  tasks:
    - openblade.kvm.guest: "{{{{ item | combine({{'cluster': '{cluster}'}}) }}}}"
      loop: "{{{{ bench_guests }}}}"
      loop_control: {{label: "{{{{ item.name }}}}"}}
""",
    "community.libvirt.virt (loop)": """
- hosts: localhost
  gather_facts: false
  tasks:
    - community.libvirt.virt:
        command: define
        xml: "{{{{ item.xml }}}}"
      loop: "{{{{ bench_xml }}}}"
      loop_control: {{label: "{{{{ item.name }}}}"}}
""",
}


def play(workdir, collections, name, extra_vars_file):
    path = os.path.join(workdir, "bench.yml")
    with open(path, "w") as handle:
        handle.write(PLAYBOOKS[name].format(cluster=CLUSTER))
    collections_path = os.path.join(REPO, ".build/collections") + ":" + collections
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path,
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_NOCOLOR="1")
    argv = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
            "-e", f"ansible_python_interpreter={sys.executable}", "-e", "@" + extra_vars_file, path]
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO, env=env, check=False, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    recap = [line for line in proc.stdout.splitlines() if line.startswith("localhost")]
    if proc.returncode != 0 or not recap or "changed=0" not in recap[-1]:
        sys.exit(f"{name}: expected a run without changes\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--guests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()

    sys.path.insert(0, os.path.join(REPO, ".build", "collections"))
    conn = libvirt.open("qemu:///system")
    collections = community_libvirt()
    guests = guest_list(options.guests)
    with tempfile.TemporaryDirectory(prefix="openblade-bench-") as workdir:
        extra = os.path.join(workdir, "vars.json")
        with open(extra, "w") as handle:
            json.dump({"bench_guests": guests, "bench_xml": []}, handle)
        print(f"defining {len(guests)} guests ...", flush=True)
        setup = subprocess.run(
            [os.path.join(BIN, "ansible"), "localhost", "-i", "localhost,", "-c", "local",
             "-e", f"ansible_python_interpreter={sys.executable}", "-m", "openblade.kvm.guests",
             "-a", json.dumps({"cluster": CLUSTER, "guests": guests})],
            cwd=REPO, check=False, capture_output=True, text=True)
        if setup.returncode != 0:
            sys.exit(setup.stdout[-3000:] + setup.stderr[-2000:])
        # virt's define compares with what is defined, so give it each guest's own XML.
        xml = [{"name": guest["name"],
                "xml": conn.lookupByName(guest["name"]).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)}
               for guest in guests]
        with open(extra, "w") as handle:
            json.dump({"bench_guests": guests, "bench_xml": xml}, handle)

        timings = {name: [] for name in PLAYBOOKS}
        try:
            for round_number in range(1, options.rounds + 1):
                for name in PLAYBOOKS:
                    seconds = play(workdir, collections, name, extra)
                    timings[name].append(seconds)
                    print(f"round {round_number}: {name:32s} {seconds:7.2f} s", flush=True)
        finally:
            for guest in guests:
                try:
                    conn.lookupByName(guest["name"]).undefine()
                except libvirt.libvirtError:
                    pass

    medians = {name: statistics.median(values) for name, values in timings.items()}
    fastest = medians["guests (1 call)"]
    print()
    print(f"No-change reconcile of {options.guests} defined guests, median of {options.rounds} rounds")
    print(f"{'way':32s} {'median':>9s} {'per guest':>10s} {'vs guests':>10s}")
    for name, median in medians.items():
        print(f"{name:32s} {median:8.2f}s {median / options.guests * 1000:8.1f}ms {median / fastest:9.1f}x")


if __name__ == "__main__":
    main()
