# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile core behind the bridge, vlan, bond and partitions modules.

One :class:`NetworkResource` reconciles a set of link specs (one for the single-link
modules, a trunk with all its partitions for ``partitions``) in one transaction:

1. observe: the running links (``ip -j``, ``bridge -j``, ``networkctl --json``) and
   the files we own;
2. desired: every file's wanted content, and every link's wanted runtime fields;
3. validate against the running state (a member enslaved elsewhere, an MTU above what
   the kernel allows, a device we did not create, the management address going away);
4. plan: file writes, then the runtime steps networkd does not do by itself on
   ``networkctl reload`` (deleting a device whose mode cannot change in place, setting
   STP or miimon live, re-enslaving ports of a recreated master), then a wait until
   the kernel shows the wanted state, and, on the management path, a probe.
"""

from __future__ import annotations

import os
import time

from ansible_collections.openblade.kvm.plugins.module_utils import _validate as validate
from ansible_collections.openblade.kvm.plugins.module_utils._lock import resource_lock
from ansible_collections.openblade.kvm.plugins.module_utils._net import units
from ansible_collections.openblade.kvm.plugins.module_utils._net.links import (
    ADDRESSES,
    LIVE,
    LOWER,
    RECONFIGURE,
    RECREATE,
)
from ansible_collections.openblade.kvm.plugins.module_utils._net.management import (
    ManagementPath,
    Probe,
    management_address,
)
from ansible_collections.openblade.kvm.plugins.module_utils._net.observe import networkd_running, observe
from ansible_collections.openblade.kvm.plugins.module_utils._net.transaction import (
    BACKUP_ROOT,
    LOCK_KIND,
    LOCK_NAME,
    LOCK_TIMEOUT,
    Guard,
    Transaction,
    pending_changes,
    restore_pending,
)
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    Plan,
    ReconcileError,
    Resource,
)
from ansible_collections.openblade.kvm.plugins.module_utils._runner import CommandError

RELOAD = ["networkctl", "reload"]
MASTER_ROLES = ("bridge", "bond")


def _lines(content):
    # Lists of lines diff line by line in Ansible's output; one string would be one line.
    return None if content is None else content.splitlines()


def _timeout(value):
    number = validate._as_int(value)
    if number is None or not 5 <= number <= 3600:
        raise validate.ValidationError(
            f"rollback_timeout: {value!r} is not a valid timeout (allowed: integers 5-3600 seconds)",
            option="rollback_timeout")
    return number


def skeleton_sections(name):
    """The main file of a link that only carries attachments (a trunk NIC, a port)."""
    return [("Match", [("Name", name)]),
            ("Network", [("LinkLocalAddressing", "no"), ("IPv6AcceptRA", "no")]),
            ("Link", [("RequiredForOnline", "no")])]


class NetworkResource(Resource):
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
        self._plan_files()
        self._check_runtime()
        return {"files": {path: _lines(self.before[path]) for path in self.paths},
                "runtime": {spec.name: self._observed(spec) for spec in self.specs}}

    def desired(self, current):
        return {"files": {path: _lines(self.after[path]) for path in self.paths},
                "runtime": {spec.name: self._wanted(spec) for spec in self.specs}}

    def _observed(self, spec):
        link = self.snapshot.link(spec.name)
        if link is None:
            return None
        managed = set(spec.lower_links()) | set(self.previous_lower.get(spec.name, ()))
        return spec.observed(link, self.snapshot, managed)

    def _wanted(self, spec):
        if not spec.present:
            return None
        return spec.runtime(set(self.snapshot.links) | set(self.defined))

    # --- files ---------------------------------------------------------------------------

    def _want(self, path, content, link):
        if path in self.after and self.after[path] != content:
            raise ReconcileError(f"{path} would be written twice with different content; "
                                 f"declare {link} once")
        self.after[path] = content
        self.before.setdefault(path, self.layout.read(path))
        self.path_link[path] = link

    def _plan_files(self):
        self.before, self.after, self.path_link = {}, {}, {}
        self.previous_lower, self.targets = {}, {}
        for spec in self.specs:
            self._plan_own_files(spec)
        for spec in self.specs:
            self._plan_attachments(spec)
        self._plan_skeletons()
        self._refuse_orphans()
        self.paths = sorted(self.after, key=self._path_order)

    def _path_order(self, path):
        rank = 2 if path.endswith(".conf") else 0 if path.endswith(".netdev") else 1
        return (rank, path)

    def _plan_own_files(self, spec):
        layout = self.layout
        netdev, network = layout.netdev(spec.name), layout.network(spec.name)
        for path in (netdev, network):
            content = layout.read(path)
            if content is not None and not units.is_ours(content):
                raise ReconcileError(f"{path} exists but was not written by openblade.kvm (it has "
                                     "no openblade.kvm header); refusing to overwrite it", path=path)
        link = self.snapshot.link(spec.name)
        ours = layout.read(netdev) is not None
        if link is not None and not ours:
            raise ReconcileError(
                f"{spec.name} exists ({link.kind or 'a physical'} link) but no openblade.kvm .netdev "
                f"defines it, so something else created it (ifupdown, libvirt, ip link); refusing to "
                f"{'take it over' if spec.present else 'delete it'}", interface=spec.name)
        if spec.present:
            self._want(netdev, units.render(spec.owner, spec.netdev_sections()), spec.name)
            self._want(network, units.render(spec.owner, spec.network_sections()), spec.name)
        else:
            for path in (netdev, network):
                if layout.read(path) is not None:
                    self._want(path, None, spec.name)

    def _dropin_link(self, path):
        owner = units.owner_of(self.layout.read(path)) or ""
        if " on " in owner:
            return owner.rsplit(" on ", 1)[1]
        name = os.path.basename(os.path.dirname(path))[:-len(".network.d")]
        return name[len(units.PREFIX):] if name.startswith(units.PREFIX) else name

    def _plan_attachments(self, spec):
        previous = {self._dropin_link(path): path
                    for path in self.layout.owned_dropins(spec.attach_role, spec.name)}
        self.previous_lower[spec.name] = sorted(previous)
        wanted = set()
        if spec.present:
            for lower in spec.lower_links():
                target = self._attach_target(lower, spec)
                path = self.layout.dropin(target, spec.attach_role, spec.name)
                self._want(path, units.render(f"{spec.owner} on {lower}", spec.attachment_sections()), lower)
                wanted.add(path)
        for link, path in previous.items():
            if path not in wanted:
                self._want(path, None, link)

    def _attach_target(self, lower, spec):
        """The .network file whose drop-in attaches ``lower`` to ``spec``."""
        ours = self.layout.network(lower)
        content = self.after.get(ours, self.layout.read(ours))
        if lower in self.defined or units.is_ours(content):
            return ours
        if content is not None:
            raise ReconcileError(f"{ours} exists but was not written by openblade.kvm; refusing "
                                 "to overwrite it", path=ours)
        link = self.snapshot.link(lower)
        applied = link.network_file if link is not None else None
        if applied and not units.is_ours(self.layout.read(applied)):
            if spec.attach_role == "vlan":
                # VLAN= belongs next to the parent's own settings (often its address).
                return applied
            if os.path.basename(applied) < os.path.basename(ours):
                raise ReconcileError(
                    f"networkd applies {applied} to {lower}, and it sorts before {ours}, so our "
                    f"file would be ignored; make {applied} stop matching {lower}", path=applied)
            self.warnings.append(f"{ours} takes precedence over {applied} for {lower}: "
                                 f"{lower} becomes a {spec.attach_role} port and loses the "
                                 f"settings of {os.path.basename(applied)}")
        self.targets[lower] = ours
        return ours

    def _plan_skeletons(self):
        for lower, target in sorted(self.targets.items()):
            if lower not in self.defined and self.layout.read(target) is None:
                self._want(target, units.render(f"link {lower}", skeleton_sections(lower)), lower)
        # A link's minimal file goes with its last drop-in.
        emptied = {os.path.dirname(path) for path, content in self.after.items()
                   if content is None and path.endswith(".conf")}
        for directory in sorted(emptied):
            main = os.path.join(self.layout.config_dir, os.path.basename(directory)[:-len(".d")])
            content = self.after.get(main, self.layout.read(main))
            if not (units.owner_of(content) or "").startswith("link "):
                continue
            if not self._remaining_dropins(main):
                self._want(main, None, os.path.basename(main)[len(units.PREFIX):-len(".network")])

    def _remaining_dropins(self, main):
        directory = self.layout.dropin_dir(main)
        existing = set(self.layout.dropins_of(main))
        planned = {path for path in self.after if os.path.dirname(path) == directory}
        return sorted(path for path in existing | planned if self.after.get(path, "kept") is not None)

    def _refuse_orphans(self):
        for spec in self.specs:
            if spec.present:
                continue
            left = self._remaining_dropins(self.layout.network(spec.name))
            if left:
                owners = ", ".join(units.owner_of(self.layout.read(p)) or p for p in left)
                raise ReconcileError(
                    f"cannot remove {spec.kind} {spec.name}: {owners} still attaches to it "
                    f"({', '.join(left)}); remove that first", interface=spec.name)

    # --- validation against the running state -------------------------------------------

    def _check_runtime(self):
        for spec in self.defined.values():
            option = {"bridge": "ports", "bond": "members", "vlan": "parent"}[spec.attach_role]
            for lower in spec.lower_links():
                link = self.snapshot.link(lower)
                if link is None:
                    if lower not in self.defined and self.layout.read(self.layout.netdev(lower)) is None:
                        self.warnings.append(f"{option}: {lower} does not exist (yet); {spec.name} "
                                             f"picks it up when it appears")
                    continue
                master = self.snapshot.link(link.master) if link.master else None
                if spec.attach_role in MASTER_ROLES:
                    if master is not None and link.master != spec.name:
                        raise validate.ValidationError(
                            f"{option}: {lower} is already enslaved to {link.master} (a "
                            f"{master.kind or 'link'}); an interface has one master, release it "
                            "from there first", option=option)
                    self._refuse_other_master_dropins(spec, lower, option)
                elif master is not None and master.kind == "bond":
                    raise validate.ValidationError(
                        f"parent: {lower} is a member of bond {link.master}; put the VLAN on "
                        f"{link.master} instead", option="parent")
            self._check_mtu(spec)

    def _refuse_other_master_dropins(self, spec, lower, option):
        main = self.layout.network(lower)
        mine = os.path.basename(self.layout.dropin(main, spec.attach_role, spec.name))
        for path in self.layout.dropins_of(main):
            name = os.path.basename(path)
            claimed = any(name.startswith(f"{units.DROPIN_PREFIX}{role}-") for role in MASTER_ROLES)
            if claimed and name != mine and self.after.get(path, "kept") is not None:
                raise validate.ValidationError(
                    f"{option}: {lower} is already claimed by "
                    f"{units.owner_of(self.layout.read(path)) or path} ({path}); release it there "
                    "first", option=option)

    def _check_mtu(self, spec):
        if not spec.mtu:
            return
        link = self.snapshot.link(spec.name)
        if link is not None and link.max_mtu and not (link.min_mtu or 0) <= spec.mtu <= link.max_mtu:
            raise validate.ValidationError(
                f"mtu: {spec.mtu} is outside what the kernel allows for {spec.name} "
                f"({link.min_mtu}-{link.max_mtu})", option="mtu")
        for lower in spec.lower_links():
            link = self.snapshot.link(lower)
            if spec.kind == "vlan":
                parent = self.defined.get(lower)
                limit = parent.mtu if parent is not None and parent.mtu else link.mtu if link else None
                if limit and spec.mtu > limit:
                    raise validate.ValidationError(
                        f"mtu: {spec.mtu} is above the MTU of the parent {lower} ({limit}); the "
                        "kernel caps a VLAN at its parent's MTU, raise the parent's first",
                        option="mtu")
            elif link is not None and link.max_mtu and spec.mtu > link.max_mtu:
                raise validate.ValidationError(
                    f"mtu: {spec.mtu} is above what {lower} supports (at most {link.max_mtu})",
                    option="mtu")

    # --- plan ----------------------------------------------------------------------------

    def plan(self, current, desired):
        changed_links = {self.path_link[p] for p in self.paths if self.before[p] != self.after[p]}
        steps = _RuntimeSteps(self, changed_links)
        touched = steps.touched | changed_links
        self.guard = self._management_guard(touched, steps)
        changes = [(p, self.before[p], self.after[p]) for p in self.paths if self.before[p] != self.after[p]]
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

    def _management_guard(self, touched, steps):
        mgmt = self.mgmt
        address = mgmt.address
        takes_over = sorted(spec.name for spec in self.defined.values()
                            if address and any(a.split("/")[0] == address for a in spec.addresses))
        hit = mgmt.touched(touched) + [name for name in takes_over if name not in mgmt.links]
        removed = self._management_address_removals(steps) if address else []
        if removed and not takes_over and not self.allow_management_change:
            raise ReconcileError(
                f"refusing a change that removes the management address {address} "
                f"({'; '.join(removed)}) with nothing in this change taking it over: the host "
                f"would be cut off. Put {address} in the addresses of the bridge that takes over "
                "the path, or set allow_management_change: true if another path remains",
                management=mgmt.as_dict())
        if not hit:
            return None
        probe = self.probe
        if probe is None and self.snapshot.gateway():
            probe = Probe(self.snapshot.gateway(), option="default gateway")
        if probe is None:
            raise ReconcileError(
                f"this change touches the management path ({', '.join(hit)}), which is applied "
                "with a probe and an automatic rollback, but the host has no default gateway to "
                "probe: set probe to an address that must answer afterwards (e.g. a router or a "
                "peer on the management network)", management=mgmt.as_dict())
        expected = address if address and (takes_over or not removed) else None
        return Guard(probe, expected, hit)

    def _management_address_removals(self, steps):
        address = self.mgmt.address
        removed = []
        for holder in self.mgmt.holders:
            spec = next((s for s in self.specs if s.name == holder), None)
            if spec is not None and not spec.present:
                removed.append(f"{holder} is deleted")
            elif spec is not None and spec.kind == "bridge" and not any(
                    a.split("/")[0] == address for a in spec.addresses):
                removed.append(f"{holder} no longer carries it")
            else:
                for master in self.defined.values():
                    link = self.snapshot.link(holder)
                    if (master.attach_role in MASTER_ROLES and holder in master.lower_links()
                            and link.master != master.name):
                        removed.append(f"{holder} becomes a {master.attach_role} port of {master.name}")
        return removed

    # --- verification --------------------------------------------------------------------

    def differences(self):
        """What still differs between the kernel and the configuration (empty: converged)."""
        snapshot = observe(self.runner)
        pending = []
        for spec in self.specs:
            link = snapshot.link(spec.name)
            if not spec.present:
                if link is not None:
                    pending.append(f"{spec.name} still exists")
                continue
            if spec.kind == "vlan" and snapshot.link(spec.parent) is None:
                continue  # created by networkd once the parent appears (warned about)
            if link is None:
                pending.append(f"{spec.name} does not exist")
                continue
            if link.admin_state == "failed":
                raise ReconcileError(f"systemd-networkd failed to configure {spec.name} "
                                     "(see journalctl -u systemd-networkd)", interface=spec.name)
            want = spec.runtime(set(snapshot.links))
            have = spec.observed(link, snapshot, set(spec.lower_links()))
            pending += [f"{spec.name} {key} is {have.get(key)!r}, wanted {value!r}"
                        for key, value in want.items() if have.get(key) != value]
            expected = self.layout.network(spec.name)
            if link.network_file != expected:
                pending.append(f"networkd applies {link.network_file or 'no file'} to {spec.name}, "
                               f"not {expected}")
        return pending

    def result(self, current, desired, plan, applied):
        extra = {"interfaces": desired["runtime"] if plan else current["runtime"],
                 "management": dict(self.mgmt.as_dict(),
                                    touched=self.guard.links if self.guard else [],
                                    probe=str(self.guard.probe) if self.guard else None)}
        if applied and self.txn is not None and self.txn.backup_dir:
            extra["backup_dir"] = self.txn.backup_dir
        return extra


class _RuntimeSteps:
    """The runtime work around ``networkctl reload``, derived from observed vs wanted."""

    def __init__(self, resource, changed_links):
        self.resource = resource
        self.changed = changed_links
        self.deleted, self.recreated, self.created = [], [], []
        self.reconfigure, self.releases, self.live, self.address_deletes = [], [], [], []
        snapshot = resource.snapshot
        for spec in resource.specs:
            link = snapshot.link(spec.name)
            if not spec.present:
                if link is not None:
                    self.deleted.append(spec)
                continue
            if link is None:
                if spec.kind == "vlan" and snapshot.link(spec.parent) is None \
                        and spec.parent not in resource.defined:
                    continue  # networkd creates it when the parent appears
                self.created.append(spec)
                self._after_creation(spec)
                continue
            have, want = resource._observed(spec), resource._wanted(spec)
            differing = [key for key, value in want.items() if have.get(key) != value]
            why = [f"{key} {have.get(key)} -> {want[key]}" for key in differing
                   if spec.strategy(key) == RECREATE]
            if why:
                self.recreated.append((spec, why))
                self._after_creation(spec)
                continue
            for key in differing:
                self._repair(spec, key, have[key], want[key])

    def _reconfigure(self, name):
        if name not in self.changed and name not in self.reconfigure:
            self.reconfigure.append(name)

    def _after_creation(self, spec):
        # networkd enslaves a port when it configures the port, and creates a VLAN when it
        # configures the parent: links whose files did not change need a nudge.
        for lower in spec.lower_links():
            if self.resource.snapshot.link(lower) is not None:
                self._reconfigure(lower)

    def _repair(self, spec, key, have, want):
        strategy = spec.strategy(key)
        if strategy == LIVE:
            self.live.append((f"set {key} {_shown(want)} on {spec.kind} {spec.name}",
                              spec.live_argv(key, want), spec.name, spec.live_argv(key, have)))
        elif strategy == RECONFIGURE:
            self._reconfigure(spec.name)
        elif strategy == LOWER:
            for name in sorted(set(want) - set(have)):
                self._reconfigure(name)
            for name in sorted(set(have) - set(want)):
                self.releases.append((f"release {name} from {spec.kind} {spec.name}",
                                      ["ip", "link", "set", "dev", name, "nomaster"], name))
        elif strategy == ADDRESSES:
            if set(want) - set(have):
                self._reconfigure(spec.name)
            for address in sorted(set(have) - set(want)):
                self.address_deletes.append((f"remove address {address} from {spec.name}",
                                             ["ip", "address", "del", address, "dev", spec.name], spec.name))

    @property
    def touched(self):
        names = {spec.name for spec in self.deleted} | {spec.name for spec, _why in self.recreated}
        names |= set(self.reconfigure)
        names |= {entry[2] for entry in self.releases + self.address_deletes + self.live}
        return names

    def any(self):
        return bool(self.deleted or self.recreated or self.created or self.reconfigure
                    or self.releases or self.live or self.address_deletes)

    def actions(self, files_changed):
        # reload reads the files, and creates the netdevs that are missing.
        reload = files_changed or bool(self.created or self.recreated)
        run = self.resource.runner.run
        steps = []
        for spec in self.deleted:
            steps.append((f"delete {spec.kind} {spec.name}", _delete_argv(spec.name)))
        for spec, why in self.recreated:
            steps.append((f"delete {spec.kind} {spec.name} to recreate it ({', '.join(why)})",
                          _delete_argv(spec.name)))
        if reload:
            steps.append(("reload systemd-networkd (networkctl reload)", RELOAD))
        steps += [(description, argv) for description, argv, _name in self.releases]
        steps += [(f"reconfigure {name} (networkctl reconfigure)", ["networkctl", "reconfigure", name])
                  for name in self.reconfigure]
        steps += [(description, argv) for description, argv, _name, _reverse in self.live]
        actions = [(description, lambda argv=argv: run(argv)) for description, argv in steps]
        actions += [(description, lambda argv=argv: _delete_address(run, argv))
                    for description, argv, _name in self.address_deletes]
        return actions

    def restore_commands(self, touched):
        """What the restore script runs after putting the previous files back."""
        snapshot = self.resource.snapshot
        commands = [{"argv": _delete_argv(spec.name), "may_fail": True}
                    for spec in self.created + [spec for spec, _why in self.recreated]]
        commands += [{"argv": reverse, "may_fail": True} for *_step, reverse in self.live]
        commands.append({"argv": RELOAD, "may_fail": False})
        created = {spec.name for spec in self.created}
        commands += [{"argv": ["networkctl", "reconfigure", name], "may_fail": True}
                     for name in sorted(touched) if snapshot.link(name) is not None and name not in created]
        return commands


def _delete_address(run, argv):
    """Remove an address the files no longer give; networkd may have dropped it itself on the
    reload (it was in the previous file), and the kernel then answers EADDRNOTAVAIL: gone."""
    result = run(argv, check=False)
    if result.rc != 0 and "Cannot assign requested address" not in result.stderr:
        raise CommandError(argv, result.rc, result.stdout, result.stderr)


def _delete_argv(name):
    return ["ip", "link", "delete", "dev", name]


def _shown(value):
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)
