# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the cluster plan reads on a blade, and the blade's copy of the address ledger.

The plan needs two things from each blade: which of the cluster's guests are defined
there, and the blade's copy of the ledger.  :class:`ClusterView` returns both in one
call; :class:`LedgerCopy` writes the merged ledger back in one call.  (They replace a
stat, a guest_info, a slurp, a file and a copy task: five round trips per blade.)
"""

from __future__ import annotations

import json
import os

from ansible_collections.openblade.kvm.plugins.module_utils._files import read_text, write_atomic
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import cpumodel
from ansible_collections.openblade.kvm.plugins.module_utils._lock import resource_lock
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    Plan,
    ReadOnlyResource,
    ReconcileError,
    Resource,
)
from ansible_collections.openblade.kvm.plugins.module_utils._validate import domain_name

LIBVIRTD = "/usr/sbin/libvirtd"
LEDGER_MODE = 0o644  # addresses are not secret; every blade's tools may read them


def ledger_path(ledger_dir, cluster):
    domain_name(cluster, "cluster")  # it names a file: no '/', no leading '.'
    if not os.path.isabs(ledger_dir):
        raise ReconcileError(f"ledger_dir: {ledger_dir!r} must be an absolute path")
    return os.path.join(ledger_dir, cluster + ".json")


def render_ledger(ledger):
    """The file's text; the same bytes for the same ledger on every blade."""
    return json.dumps(ledger, indent=4, sort_keys=True, separators=(",", ": ")) + "\n"


def read_ledger(path):
    text = read_text(path)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ReconcileError(f"the address ledger {path} is not valid JSON ({exc}); restore it from "
                             "another blade's copy", path=path) from None


class ClusterView(ReadOnlyResource):
    """This blade's guests of ``cluster`` and its copy of the ledger; changes nothing.

    A blade without libvirtd (not yet a hypervisor) has no guests, which is an answer.
    """

    def __init__(self, cluster, ledger_dir, guest_inventory, libvirtd=LIBVIRTD, cpu_target=None,
                 cpu_baseline=None):
        self.path = ledger_path(ledger_dir, cluster)
        self.cluster = cluster
        self.guest_inventory = guest_inventory  # called only when libvirtd is installed
        self.libvirtd = libvirtd
        # cluster_cpu_baseline: read this blade's host-model CPU for guests of cpu_target, and
        # (on one blade, with every blade's answer in cpu_baseline) compute their baseline.
        self.cpu_target = cpu_target
        self.cpu_baseline = cpu_baseline
        self.found = {}

    def observe(self):
        guests, hv = [], None
        if os.path.exists(self.libvirtd):
            inventory = self.guest_inventory()
            inventory.observe()
            hv = inventory.hv
            guests = [guest for guest in inventory.found if guest.get("cluster") == self.cluster]
        self.found = {"guests": guests, "ledger": read_ledger(self.path), "ledger_path": self.path}
        if self.cpu_target is not None:
            self.found["host_cpu"] = cpumodel.read_host_cpu(hv.conn, self.cpu_target) if hv else None
            if self.cpu_baseline is not None:
                if hv is None:
                    raise ReconcileError("cpu_baseline: this blade has no libvirtd to compute the baseline")
                self.found["cpu_baseline"] = cpumodel.baseline(hv.conn, self.cpu_baseline, self.cpu_target)
        return None

    def result(self, current, desired, plan, applied):
        return dict(self.found)


class LedgerCopy(Resource):
    """The blade's copy of the ledger holds exactly ``ledger``."""

    def __init__(self, cluster, ledger_dir, ledger, lock_dir=None):
        if not isinstance(ledger, dict):
            raise ReconcileError("ledger: must be a mapping (the cluster plan's ledger)")
        self.lock_kwargs = {"lock_dir": lock_dir} if lock_dir else {}
        self.cluster = cluster
        self.path = ledger_path(ledger_dir, cluster)
        self.text = render_ledger(ledger)

    def lock(self):
        return resource_lock("ledger", self.cluster, **self.lock_kwargs)

    def observe(self):
        return {"path": self.path, "content": read_text(self.path), "mode": _mode(self.path)}

    def desired(self, current):
        return {"path": self.path, "content": self.text, "mode": f"{LEDGER_MODE:04o}"}

    def plan(self, current, desired):
        plan = Plan()
        if current != desired:
            verb = "create" if current["content"] is None else "update"
            plan.add(f"{verb} {self.path}",
                     lambda: write_atomic(self.path, self.text, LEDGER_MODE, what="address ledger"))
        return plan


def _mode(path):
    try:
        return f"{os.stat(path).st_mode & 0o7777:04o}"
    except FileNotFoundError:
        return None
