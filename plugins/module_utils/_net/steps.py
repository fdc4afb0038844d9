# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runtime steps of a network change: what systemd-networkd does not do by itself on
``networkctl reload`` (deleting a device whose mode cannot change in place, setting STP
or miimon live, releasing ports, removing addresses, nudging links whose files did not
change), derived from the observed and the wanted state of each link."""

from __future__ import annotations

from ansible_collections.openblade.kvm.plugins.module_utils._net.links import (
    ADDRESSES,
    LIVE,
    LOWER,
    RECONFIGURE,
    RECREATE,
)
from ansible_collections.openblade.kvm.plugins.module_utils._runner import CommandError

RELOAD = ["networkctl", "reload"]


class RuntimeSteps:
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
            have, want = resource.observed_state(spec), resource.wanted_state(spec)
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
