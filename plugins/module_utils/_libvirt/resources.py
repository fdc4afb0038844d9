# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resources behind the modules: one guest (domain), a host's list of guests
(guests) and a read-only inventory (guest_info).  All three go through
``_reconcile.reconcile`` and share :class:`.guest.GuestReconciler`."""

from __future__ import annotations

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import spec as guest_spec
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.guest import (
    GuestReconciler,
    guest_locks,
    observe_guest,
)
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import Plan, ReadOnlyResource, Resource
from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError

SUMMARY_KEYS = ("created", "updated", "started", "stopped", "removed", "unchanged",
                "reboot_required")


class Guest(Resource):
    """One guest (the domain module)."""

    def __init__(self, hypervisor, runner, params, lock_dir=None):
        spec = guest_spec.GuestSpec(params, params["cluster"])
        self.guest = GuestReconciler(hypervisor, runner, spec)
        self.lock_dir = lock_dir

    def lock(self):
        return guest_locks([self.guest.name], self.lock_dir)

    def observe(self):
        return self.guest.observe()

    def desired(self, current):
        return self.guest.desired(current)

    def plan(self, current, desired):
        plan = Plan()
        self.guest.plan(current, desired, plan)
        return plan

    def result(self, current, desired, plan, applied):
        outcome = self.guest.outcome.as_dict()
        del outcome["changed"], outcome["actions"]  # the reconcile core reports those
        return outcome


class Guests(Resource):
    """A host's whole list of guests in one call (the guests module).

    With ``prune``, our guests of the same cluster that the list no longer names are
    removed, with the same refusals as ``state: absent``.  Guests without our marker,
    or of another cluster, are never touched.
    """

    def __init__(self, hypervisor, runner, params, lock_dir=None):
        self.hv = hypervisor
        self.runner = runner
        self.cluster = params["cluster"]
        self.lock_dir = lock_dir
        self.prune_flags = {"force": params["prune_force"], "force_stop": params["prune_force_stop"],
                            "shutdown_timeout": params["prune_shutdown_timeout"]}
        names = [guest["name"] for guest in params["guests"]]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValidationError(f"guests: {', '.join(duplicates)} listed more than once",
                                  option="guests")
        self.guests = [self._reconciler(guest) for guest in params["guests"]]
        self.listed = set(names)
        self.prune = params["prune"]
        self.pruned = []

    def _reconciler(self, guest_params):
        spec = guest_spec.GuestSpec(guest_params, self.cluster)
        return GuestReconciler(self.hv, self.runner, spec)

    def lock(self):
        """Every guest this run may touch, listed or to be pruned, locked before observe."""
        if self.prune:
            self.pruned = [self._reconciler(dict(guest_spec.option_defaults(), name=name, state="absent",
                                                 **self.prune_flags))
                           for name in self._prunable()]
        return guest_locks([guest.name for guest in self.guests + self.pruned], self.lock_dir)

    def observe(self):
        current = {}
        for guest in self.guests:
            view = guest.observe()
            if view is not None:
                current[guest.name] = view
        # Seen again under the locks: one that is gone or no longer ours is left alone.
        kept = []
        for guest in self.pruned:
            view = guest.observe()
            if view is not None and self._ours(guest.observed.fields):
                current[guest.name] = view
                kept.append(guest)
        self.pruned = kept
        self.guests += kept
        return current

    def _ours(self, fields):
        return fields["managed"] and fields["cluster"] == self.cluster

    def _prunable(self):
        """Names of our guests of this cluster that are not listed."""
        return [dom.name() for dom in self.hv.domains()
                if dom.name() not in self.listed and self._ours(observe_guest(self.hv, dom, keys=()).fields)]

    def desired(self, current):
        desired = {}
        for guest in self.guests:
            view = guest.desired(current.get(guest.name))
            if view is not None:
                desired[guest.name] = view
        return desired

    def plan(self, current, desired):
        plan = Plan()
        for guest in self.guests:
            guest.plan(current.get(guest.name), desired.get(guest.name), plan)
        return plan

    def result(self, current, desired, plan, applied):
        summary = {key: [] for key in SUMMARY_KEYS}
        for guest in self.guests:
            outcome = guest.outcome
            for key in ("created", "started", "stopped", "removed", "reboot_required"):
                if getattr(outcome, key):
                    summary[key].append(outcome.name)
            if outcome.updated and not outcome.created:
                summary["updated"].append(outcome.name)
            if not outcome.changed:
                summary["unchanged"].append(outcome.name)
        return {
            "guests": {guest.name: guest.outcome.as_dict() for guest in self.guests},
            "summary": summary,
        }


class GuestInventory(ReadOnlyResource):
    """Every guest on the host with its managed fields (guest_info); changes nothing."""

    def __init__(self, hypervisor, names=None, managed_only=False):
        self.hv = hypervisor
        self.names = set(names or ())
        self.managed_only = managed_only
        self.found = []

    def observe(self):
        guests = []
        for dom in sorted(self.hv.domains(), key=lambda dom: dom.name()):
            if self.names and dom.name() not in self.names:
                continue
            observed = observe_guest(self.hv, dom)
            if self.managed_only and not observed.fields["managed"]:
                continue
            info = dict(observed.fields)
            info.update(state=observed.state, autostart=observed.autostart,
                        persistent=bool(dom.isPersistent()), reboot_pending=observed.pending)
            guests.append(info)
        self.found = guests
        return None

    def result(self, current, desired, plan, applied):
        return {"guests": self.found}
