# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile core behind the bridge, vlan, bond and partitions modules.

One :class:`Links` reconciles a set of link specs (one for the single-link
modules, a trunk with all its partitions for ``partitions``) in one transaction:

1. observe (reads only): the running links (``ip -j``, ``bridge -j``, ``networkctl
   --json``), the management path, the networkd files (:class:`.files.FileView`), and what
   the files of ours these specs cover hold now;
2. desired (from what observe read, no further reads): every file's wanted content
   (:class:`.files.FilePlan`, which refuses a file or device we did not create) and every
   link's wanted runtime fields, validated against the running state (:mod:`.validation`: a
   member enslaved elsewhere, an MTU above what the kernel allows);
3. plan (from those two): file writes, then the runtime steps networkd does not do by
   itself on ``networkctl reload`` (:mod:`.steps`), then a wait until the kernel shows the
   wanted state (:mod:`.verify`), and, on the management path, a probe (:mod:`.guard`); all
   of it inside one transaction with rollback (:mod:`.transaction`).
"""

from __future__ import annotations

import os
import time

from ansible_collections.openblade.kvm.plugins.module_utils import _validate as validate
from ansible_collections.openblade.kvm.plugins.module_utils._lock import resource_lock
from ansible_collections.openblade.kvm.plugins.module_utils._net import units
from ansible_collections.openblade.kvm.plugins.module_utils._net.files import FilePlan, FileView
from ansible_collections.openblade.kvm.plugins.module_utils._net.guard import management_guard
from ansible_collections.openblade.kvm.plugins.module_utils._net.management import (
    ManagementPath,
    Probe,
    management_address,
)
from ansible_collections.openblade.kvm.plugins.module_utils._net.observe import networkd_running, observe
from ansible_collections.openblade.kvm.plugins.module_utils._net.steps import RuntimeSteps
from ansible_collections.openblade.kvm.plugins.module_utils._net.transaction import (
    BACKUP_ROOT,
    LOCK_KIND,
    LOCK_NAME,
    LOCK_TIMEOUT,
    Transaction,
    pending_changes,
    restore_pending,
)
from ansible_collections.openblade.kvm.plugins.module_utils._net.validation import check_runtime
from ansible_collections.openblade.kvm.plugins.module_utils._net.verify import differences
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    Plan,
    ReconcileError,
    Resource,
)


def _lines(content):
    # Lists of lines diff line by line in Ansible's output; one string would be one line.
    return None if content is None else content.splitlines()


def _timeout(value):
    number = validate.as_int(value)
    if number is None or not 5 <= number <= 3600:
        raise validate.ValidationError(
            f"rollback_timeout: {value!r} is not a valid timeout (allowed: integers 5-3600 seconds)",
            option="rollback_timeout")
    return number


class Links(Resource):
    def __init__(self, runner, specs, rollback_timeout=60, probe=None, allow_management_change=False,
                 management_address=None, layout=None, environ=None, backup_root=BACKUP_ROOT,
                 lock_dir=None, clock=time.monotonic, sleep=time.sleep, connect=None, python=None):
        self.runner = runner
        self.specs = list(specs)
        names = [spec.name for spec in self.specs]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise validate.ValidationError(f"{', '.join(twice)} declared more than once", option="name")
        self.timeout = _timeout(rollback_timeout)
        self.probe = Probe(probe) if probe else None
        self.allow_management_change = bool(allow_management_change)
        self.management_option = (validate.ip_address(management_address, "management_address")
                                  if management_address else None)
        self.layout = layout or units.Layout()
        self.environ = os.environ if environ is None else environ
        self.txn_options = {"backup_root": backup_root, "lock_dir": lock_dir, "clock": clock,
                            "sleep": sleep, "connect": connect, "python": python}
        self.defined = {spec.name: spec for spec in self.specs if spec.present}
        self.warnings = []
        self.txn = None
        self.guard = None

    def lock(self):
        # One host-wide lock from observe to the last step: reload touches every link.
        kwargs = {"lock_dir": self.txn_options["lock_dir"]} if self.txn_options["lock_dir"] else {}
        return resource_lock(LOCK_KIND, LOCK_NAME, timeout=LOCK_TIMEOUT, **kwargs)

    # --- observe and desired -------------------------------------------------------------

    def observe(self):
        if not networkd_running(self.runner):
            raise ReconcileError(
                "systemd-networkd is not running on this host; the bridge, vlan, bond and "
                "partitions modules persist and apply their configuration with it "
                "(systemctl enable --now systemd-networkd)")
        # Under the lock: a pending change's module is gone (killed, or its host rebooted).
        self.pending = pending_changes(self.txn_options["backup_root"])
        self.snapshot = observe(self.runner)
        self.mgmt = ManagementPath(self.snapshot, management_address(self.management_option, self.environ))
        self.view = FileView(self.layout, [link.network_file for link in self.snapshot.links.values()])
        self.observed_specs(self.view)
        self.by_name = {spec.name: spec for spec in self.specs}
        self.previous_lower = {spec.name: self.view.previous_lower(spec) for spec in self.specs}
        return {"files": {path: _lines(content) for path, content in self.view.covered(self.specs).items()},
                "runtime": {spec.name: self.observed_state(spec) for spec in self.specs}}

    def observed_specs(self, view):
        """Hook: the specs that depend on what is on the host (partitions' pruning)."""

    def desired(self, current):
        # Which files of ours these specs cover and what they should hold, from what observe read.
        self.files = FilePlan(self.view, self.specs, self.defined, self.snapshot)
        self.warnings = self.files.warnings + check_runtime(self.files)
        files = {path: _lines(self.files.after[path]) for path in self.files.paths}
        files.update((path, lines) for path, lines in current["files"].items() if path not in files)
        return {"files": files,
                "runtime": {name: self.wanted_state(self.by_name[name]) for name in current["runtime"]}}

    def observed_state(self, spec):
        link = self.snapshot.link(spec.name)
        if link is None:
            return None
        managed = set(spec.lower_links()) | set(self.previous_lower.get(spec.name, ()))
        return spec.observed(link, self.snapshot, managed)

    def wanted_state(self, spec):
        if not spec.present:
            return None
        return spec.runtime(set(self.snapshot.links) | set(self.defined))

    # --- plan ----------------------------------------------------------------------------

    def plan(self, current, desired):
        changed_links = self.files.changed_links()
        steps = RuntimeSteps(self, changed_links)
        touched = steps.touched | changed_links
        self.guard = management_guard(self.mgmt, self.snapshot, self.specs, self.defined, touched,
                                      self.probe, self.allow_management_change)
        changes = self.files.changes()
        plan = Plan()
        for warning in self.warnings:
            plan.warn(warning)
        if self.pending:
            self._plan_recovery(plan)
        if not changes and not steps.any():
            return plan
        txn = self.txn = Transaction(self.runner, self.layout, changes, steps.restore_commands(touched),
                                     self.timeout, self.guard, **self.txn_options)
        actions = []
        if self.guard is not None:
            actions.append((
                f"arm an automatic rollback: the previous files come back unless "
                f"{self.guard.probe} succeeds within {self.timeout}s (management path: "
                f"{', '.join(self.guard.links)})", txn.arm))
        for path, before, after in changes:
            verb = "create" if before is None else "remove" if after is None else "update"
            actions.append((f"{verb} {path}", self._file_step(path, after)))
        actions += steps.actions(bool(changes))
        names = ", ".join(spec.name for spec in self.specs)
        actions.append((f"wait until the running state of {names} matches (up to {self.timeout}s)",
                        lambda: txn.settle(self.differences)))
        if self.guard is not None:
            actions.append((f"probe the management path: {self.guard.probe} must succeed within "
                            f"{self.timeout}s, else roll back", txn.probe))
        for index, (description, function) in enumerate(actions):
            plan.add(description, txn.wrap(function, final=index == len(actions) - 1))
        return plan

    def _plan_recovery(self, plan):
        """Restore what killed runs left half-done, then re-plan from the restored state.

        The restore runs first, under this run's lock, so no timer of theirs can later
        restore over this change.  What follows it is planned again after the restore; in
        check mode it is planned from the files the killed run left, and may differ.
        """
        shown = "; ".join(str(change) for change in self.pending)
        plan.warn(f"a killed network run left an uncommitted change ({shown}); this run restores "
                  "it first, then applies what it plans on the restored state (in check mode the "
                  "actions after the restore are planned from the files the killed run left, so "
                  "they can differ from the real run's)")
        index = len(plan.actions)

        def recover():
            restore_pending(self.runner, self.pending, self.txn_options["python"])
            current = self.observe()
            fresh = self.plan(current, self.desired(current))
            # Replace the actions planned from the killed run's files; _apply reads them next.
            del plan.actions[index + 1:]
            plan.actions.extend(fresh.actions)
            for warning in fresh.warnings:
                plan.warn(warning)

        plan.add("restore the uncommitted network change "
                 + ", ".join(change.backup_dir for change in self.pending)
                 + " that a killed run left, and re-plan on the restored state", recover)

    def _file_step(self, path, content):
        if content is None:
            return lambda: self.layout.remove(path)
        return lambda: self.layout.write(path, content)

    # --- verification --------------------------------------------------------------------

    def differences(self):
        """What still differs between the kernel and the configuration (empty: converged)."""
        return differences(self.runner, self.specs, self.layout)

    def result(self, current, desired, plan, applied):
        extra = {"interfaces": desired["runtime"] if plan else current["runtime"],
                 "management": dict(self.mgmt.as_dict(),
                                    touched=self.guard.links if self.guard else [],
                                    probe=str(self.guard.probe) if self.guard else None)}
        if applied and self.txn is not None and self.txn.backup_dir:
            extra["backup_dir"] = self.txn.backup_dir
        return extra
