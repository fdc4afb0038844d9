# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-guest reconcile, shared by the domain module (one guest) and the guests
module (a host's whole list).

For one guest:

1. observe: libvirt's inactive XML, read into managed fields; state; autostart; and,
   for a running guest, whether its persistent config already differs from the live one;
2. desired: the XML we would define (our skeleton or the ``xml`` template for a new
   guest, libvirt's own inactive XML for an existing one, with the managed fields
   written in), read back with the same reader;
3. classify every difference (see :mod:`.classify`) and plan the actions: define,
   hotplug, start, graceful stop, undefine.

Everything is decided while planning, so check mode reports exactly what a real run
does.  The resources hold the lock of every guest they touch from observe to the last
action (:func:`guest_locks`), so two runs never plan from the same view of a guest.
"""

from __future__ import annotations

import contextlib
import os
import time

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import model, seed
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.classify import (
    IMPOSSIBLE,
    LIVE,
    NEXT_BOOT,
    classify,
    pending_reboot,
)
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import (
    PAUSED,
    RUNNING,
    STOPPED,
)
from ansible_collections.openblade.kvm.plugins.module_utils._lock import resource_lock
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError

LOCK_KIND = "domain"
LOCK_TIMEOUT = 120


@contextlib.contextmanager
def guest_locks(names, lock_dir=None, timeout=None):
    """Hold the locks of the guests ``names`` for the whole block.

    Sorted, so two batches naming the same guests take them in the same order and cannot
    deadlock; one deadline for all of them, so the whole wait stays bounded.  A timeout
    names the guest and the PID that holds it (see ``_lock``).
    """
    kwargs = {"lock_dir": lock_dir} if lock_dir else {}
    deadline = time.monotonic() + (LOCK_TIMEOUT if timeout is None else timeout)
    with contextlib.ExitStack() as stack:
        for name in sorted(set(names)):
            remaining = max(0.0, deadline - time.monotonic())
            stack.enter_context(resource_lock(LOCK_KIND, name, timeout=remaining, **kwargs))
        yield


class Outcome:
    """What happened (or would happen) to one guest, for results and summaries."""

    def __init__(self, name):
        self.name = name
        self.created = False
        self.updated = False
        self.started = False
        self.stopped = False
        self.removed = False
        self.reboot_required = False
        self.actions = []
        self.changes = []
        self.state = None
        self.uuid = None
        self.macs = []

    @property
    def changed(self):
        return bool(self.actions)

    def as_dict(self):
        return {
            "changed": self.changed,
            "actions": list(self.actions),
            "changes": [{"field": change.label, "when": change.when} for change in self.changes],
            "reboot_required": self.reboot_required,
            "state": self.state,
            "uuid": self.uuid,
            "macs": list(self.macs),
        }


class Observed:
    """A guest as libvirt has it."""

    def __init__(self, dom, root, fields, state, autostart, pending, live=None):
        self.dom = dom
        self.root = root          # the inactive XML, parsed
        self.fields = fields      # every managed field of it
        self.live = live          # the managed fields of the running guest (None when it is off)
        self.state = state
        self.autostart = autostart
        self.pending = pending    # persistent config ahead of the running guest

    @property
    def active(self):
        return self.state in (RUNNING, PAUSED)


def observe_guest(hypervisor, dom, keys=None):
    root = model.parse(hypervisor.inactive_xml(dom))
    fields = model.read_fields(root)
    state = hypervisor.state(dom)
    pending = False
    live = None
    if state in (RUNNING, PAUSED):
        live = model.read_fields(model.parse(hypervisor.live_xml(dom)))
        pending = pending_reboot(live, fields, keys) if keys else pending_reboot(live, fields)
    return Observed(dom, root, fields, state, hypervisor.autostart(dom), pending, live)


class GuestReconciler:
    """Observe, plan and (through the plan's actions) apply one guest."""

    def __init__(self, hypervisor, runner, spec):
        self.hv = hypervisor
        self.runner = runner
        self.spec = spec
        self.params = spec.params
        self.name = spec.name
        self.observed = None
        self.dom = None
        self.outcome = Outcome(spec.name)
        self._xml = None
        self._fields = None
        self._keys = spec.managed_keys() if spec.state != "absent" else []

    # --- observe and desired (the views the diff shows) -----------------------------------------

    def observe(self):
        dom = self.hv.lookup(self.name)
        self.host = self._observe_host(dom)
        if dom is None:
            return None
        self.dom = dom
        self.observed = observe_guest(self.hv, dom, self._keys)
        return self._view(self.observed.fields, self.observed.state, self.observed.autostart)

    def _observe_host(self, dom):
        """What the plan checks around the guest (its disks, networks and seed; what
        undefining it would orphan), read here so that the plan reads nothing itself."""
        host = {"disks": {}, "networks": {}, "seed": None, "snapshots": 0, "managed_save": False}
        if self.spec.state != "absent":
            host["disks"] = {disk["path"]: os.path.exists(disk["path"]) for disk in self.spec.disks
                             if disk["path"] != self.spec.seed_path}
            host["networks"] = {nic["partition"]: self.hv.network_exists(nic["partition"])
                                for nic in self.spec.nic_params if nic.get("partition")}
            if self.spec.seed_files is not None:
                path = self.spec.seed_path
                exists = os.path.exists(path)
                host["seed"] = {"exists": exists, "exposed": exists and seed.exposed(path)}
        if dom is not None and (self.spec.state == "absent" or self.params.get("recreate")):
            host["snapshots"] = self.hv.snapshot_count(dom)
            host["managed_save"] = self.hv.has_managed_save(dom)
        return host

    def _view(self, fields, state, autostart):
        view = {key: fields.get(key) for key in self._keys}
        view["state"] = state
        if self.params.get("autostart") is not None:
            view["autostart"] = autostart
        return view

    def desired(self, current):
        if self.spec.state == "absent":
            return None
        observed = self.observed
        fields = self.spec.fields(observed.fields if observed else None)
        self._fields = fields
        self._xml = model.to_string(model.render(self._base(fields), fields))
        desired_fields = model.read_fields(model.parse(self._xml))
        state = self._final_state()
        autostart = self.params.get("autostart")
        return self._view(desired_fields, state, autostart)

    def _base(self, fields):
        """What the managed fields are written into: the guest's own config when it
        exists and keeps its shape; a fresh skeleton (or the xml template) otherwise."""
        observed = self.observed
        template = self.spec.template
        if observed is not None and not self.params["recreate"]:
            if template is None or observed.fields.get("template") == fields["template"]:
                return observed.root
        return template if template is not None else model.skeleton()

    def _final_state(self):
        wanted = self.spec.state
        if wanted == "present":
            return self.observed.state if self.observed else STOPPED
        return wanted

    # --- plan ---------------------------------------------------------------------------------------

    def plan(self, current, desired, plan):
        """Add this guest's actions to ``plan``; returns the guest's :class:`Outcome`."""
        outcome = self.outcome
        first = len(plan.actions)
        if self.spec.state == "absent":
            self._plan_absent(plan)
        elif self.observed is None:
            self._warn_missing(plan)
            self._plan_create(plan, desired)
        else:
            self._warn_missing(plan)
            self._plan_update(plan, current, desired)
        outcome.actions = plan.descriptions()[first:]
        if desired is not None:
            outcome.state = desired["state"]
            outcome.uuid = self._fields["uuid"]
            outcome.macs = [nic["mac"] for nic in self._fields["nics"]]
        elif current is not None:
            outcome.state = "absent"
            outcome.uuid = self.observed.fields["uuid"]
        return outcome

    def _add(self, plan, description, function):
        plan.add(description, function)

    def _warn_missing(self, plan):
        """Name the disks and networks that do not exist (yet).

        In check mode they are usually what an earlier task of the same play would create
        (a clone, a partition's network); the plan is the same either way, but the guest
        cannot start without them, so the result says what it assumed.
        """
        for disk in self._fields["disks"]:
            if disk["path"] != self.spec.seed_path and not self.host["disks"][disk["path"]]:
                plan.warn(f"guest {self.name}: disk {disk['path']} does not exist (yet); this plan assumes "
                          "an earlier task creates it, and the guest cannot start without it")
        for nic in self._fields["nics"]:
            if nic["partition"] and not self.host["networks"][nic["partition"]]:
                plan.warn(f"guest {self.name}: libvirt network {nic['partition']} (a partition) is not "
                          "defined (yet); this plan assumes an earlier task defines it, and the guest "
                          "cannot start without it")

    def _plan_create(self, plan, desired):
        if self.spec.seed_files is not None:
            self._add(plan, f"build cloud-init seed {self.spec.seed_path} for {self.name}",
                      self._build_seed)
        self._add(plan, f"define {self.name}", self._define)
        self.outcome.created = True
        if self.params.get("autostart"):
            self._add(plan, f"enable autostart of {self.name}",
                      lambda: self.hv.set_autostart(self.dom, True))
        if desired["state"] in (RUNNING, PAUSED):
            paused = desired["state"] == PAUSED
            self._add(plan, f"start {self.name}{' paused' if paused else ''}",
                      lambda: self.hv.start(self.dom, paused=paused))
            self.outcome.started = True

    def _plan_update(self, plan, current, desired):
        observed = self.observed
        outcome = self.outcome
        if not observed.fields["managed"] and not self.params["force"]:
            raise ReconcileError(
                f"guest {self.name} exists but was not created by openblade.kvm (it has no openblade "
                "metadata); refusing to change it. Set force: true to take it over.",
                guest=self.name)
        desired_fields = {key: desired[key] for key in self._keys}
        # Live changes are judged against the limits the guest runs with, which a change
        # waiting for its reboot has already moved away from in the persistent config.
        changes = classify(observed.fields, desired_fields, running=observed.live)
        outcome.changes = changes
        impossible = [change for change in changes if change.when == IMPOSSIBLE]
        impossible_labels = ", ".join(change.label for change in impossible)
        if impossible and not self.params["recreate"]:
            reasons = "; ".join(f"{change.label}: {change.why}" for change in impossible)
            raise ReconcileError(
                f"guest {self.name}: cannot change {impossible_labels} in place: {reasons}. Set "
                "recreate: true to redefine the guest from scratch (its disks, UUID and MACs are kept).",
                guest=self.name, impossible=[change.label for change in impossible])

        if self.spec.seed_files is not None and (
                observed.fields["seed"] != desired["seed"] or not self.host["seed"]["exists"]):
            self._add(plan, f"build cloud-init seed {self.spec.seed_path} for {self.name}",
                      self._build_seed)
        elif self.spec.seed_files is not None and self.host["seed"]["exposed"]:
            # A seed written before seeds were closed to other users (mode 0644).
            self._add(plan, f"restrict cloud-init seed {self.spec.seed_path} of {self.name} to root and "
                      "the QEMU user", lambda: seed.restrict(self.spec.seed_path))
        if impossible:
            flags = self._refuse_if_unsafe_to_undefine("recreate")
            self._add(plan, f"recreate {self.name}: undefine (keeping disks and NVRAM) and define "
                      f"{impossible_labels}", lambda: self._recreate(flags))
        elif changes:
            labels = ", ".join(change.label for change in changes)
            self._add(plan, f"update the persistent config of {self.name}: {labels}", self._define)
        if changes:
            outcome.updated = True

        final_state = desired["state"]
        will_run = final_state in (RUNNING, PAUSED)
        next_boot = bool(impossible) or any(change.when == NEXT_BOOT for change in changes)
        if observed.active and will_run and not impossible:
            for change in changes:
                if change.when == LIVE:
                    self._plan_live(plan, change)
        desired_autostart = self.params.get("autostart")
        if desired_autostart is not None and desired_autostart != observed.autostart:
            verb = "enable" if desired_autostart else "disable"
            self._add(plan, f"{verb} autostart of {self.name}",
                      lambda: self.hv.set_autostart(self.dom, desired_autostart))
            outcome.updated = True

        pending = observed.active and (observed.pending or next_boot)
        if not observed.active and will_run:
            paused = final_state == PAUSED
            self._add(plan, f"start {self.name}{' paused' if paused else ''}",
                      lambda: self.hv.start(self.dom, paused=paused))
            outcome.started = True
        elif observed.active and final_state == STOPPED:
            self._plan_stop(plan, f"stop {self.name}")
            outcome.stopped = True
            pending = False
        elif observed.active and pending and self.params["restart_if_required"]:
            self._plan_stop(plan, f"shut down {self.name} to apply next-boot changes")
            self._add(plan, f"start {self.name}",
                      lambda: self.hv.start(self.dom, paused=final_state == PAUSED))
            pending = False
        elif observed.state == RUNNING and final_state == PAUSED:
            self._add(plan, f"pause {self.name}", lambda: self.hv.suspend(self.dom))
        elif observed.state == PAUSED and final_state == RUNNING:
            self._add(plan, f"resume {self.name}", lambda: self.hv.resume(self.dom))
        outcome.reboot_required = bool(pending and will_run)

    def _plan_live(self, plan, change):
        name = self.name
        if change.field == "memory":
            self._add(plan, f"set memory of running {name} to {change.after} MiB",
                      lambda: self.hv.set_memory_live(self.dom, change.after))
        elif change.field == "vcpus":
            self._add(plan, f"set vCPUs of running {name} to {change.after}",
                      lambda: self.hv.set_vcpus_live(self.dom, change.after))
        elif change.device == "attach":
            self._add(plan, f"hotplug {change.label} into running {name}",
                      lambda: self._hotplug(change))
        elif change.device == "detach":
            self._add(plan, f"unplug {change.label} from running {name}",
                      lambda: self._unplug(change))

    def _plan_stop(self, plan, description):
        timeout = self.params["shutdown_timeout"]
        if self.params["force_stop"]:
            description += f" (ACPI shutdown, power off after {timeout}s)"
        else:
            description += f" (ACPI shutdown, wait up to {timeout}s)"
        self._add(plan, description, self._stop)

    def _plan_absent(self, plan):
        observed = self.observed
        if observed is None:
            return
        if not observed.fields["managed"] and not self.params["force"]:
            raise ReconcileError(
                f"guest {self.name} was not created by openblade.kvm (it has no openblade metadata); "
                "refusing to remove it. Set force: true to remove it anyway.",
                guest=self.name)
        flags = self._refuse_if_unsafe_to_undefine("remove", nvram_counts=True)
        if observed.active:
            self._plan_stop(plan, f"stop {self.name}")
            self.outcome.stopped = True
        self._add(plan, f"undefine {self.name} (its disks are kept)",
                  lambda: self.hv.undefine(self.dom, **flags))
        self.outcome.removed = True

    def _refuse_if_unsafe_to_undefine(self, verb, nvram_counts=False):
        """Snapshots, a managed save and (for removal) NVRAM hold state that undefining
        would orphan or delete; they need force.  Returns the undefine flags to use."""
        holds = []
        count = self.host["snapshots"]
        if count:
            holds.append(f"{count} snapshot{'' if count == 1 else 's'}")
        managed_save = self.host["managed_save"]
        if managed_save:
            holds.append("a managed save image")
        nvram = model.has_nvram(self.observed.root)
        if nvram and nvram_counts:
            holds.append("UEFI NVRAM")
        if holds and not self.params["force"]:
            raise ReconcileError(
                f"guest {self.name} has {' and '.join(holds)}; refusing to {verb} it. Set force: "
                f"true to {verb} it anyway (disks are never removed).", guest=self.name, holds=holds)
        return {"snapshots": bool(count), "managed_save": managed_save,
                "nvram": ("remove" if nvram_counts else "keep") if nvram else None}

    # --- apply (called by the plan's actions) -----------------------------------------------------

    def _build_seed(self):
        seed.build_seed_iso(self.runner, self.spec.seed_files, self.spec.seed_path)

    def _define(self):
        self.dom = self.hv.define(self._xml)

    def _recreate(self, flags):
        self.hv.undefine(self.dom, **flags)
        self.dom = self.hv.define(self._xml)

    def _device_node(self, xml, change):
        root = model.parse(xml)
        if change.field == "nics":
            for node in root.findall("devices/interface"):
                mac = node.find("mac")
                if mac is not None and mac.get("address").lower() == _before_or_after(change)["mac"]:
                    return node
        else:
            for node in root.findall("devices/disk"):
                target = node.find("target")
                if target is not None and target.get("dev") == _before_or_after(change)["target"]:
                    return node
        raise ReconcileError(f"guest {self.name}: {change.label} is missing from its XML")

    def _hotplug(self, change):
        # Take the device as libvirt stored it in the new config, PCI address included,
        # so the running guest and its next boot see it in the same slot.
        node = self._device_node(self.hv.inactive_xml(self.dom), change)
        self.hv.attach_live(self.dom, model.etree.tostring(node, encoding="unicode"))

    def _unplug(self, change):
        node = self._device_node(self.hv.live_xml(self.dom), change)
        self.hv.detach_live(self.dom, model.etree.tostring(node, encoding="unicode"))

    def _stop(self):
        dom = self.dom
        timeout = self.params["shutdown_timeout"]
        if self.hv.state(dom) == PAUSED:
            self.hv.resume(dom)  # a paused guest cannot react to the power button
        self.hv.shutdown_acpi(dom)
        if self.hv.wait_stopped(dom, timeout):
            return
        if not self.params["force_stop"]:
            raise ReconcileError(
                f"guest {self.name} is still running {timeout}s after the ACPI shutdown request; it "
                "did not shut down. Set force_stop: true to power it off after the timeout, or "
                "raise shutdown_timeout.", guest=self.name)
        self.hv.destroy(dom)
        if not self.hv.wait_stopped(dom, 30):
            raise ReconcileError(f"guest {self.name} is still running after a forced power off",
                                 guest=self.name)


def _before_or_after(change):
    return change.after if change.after is not None else change.before
