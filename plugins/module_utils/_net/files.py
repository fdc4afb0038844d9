# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network resources' files: what observe reads (:class:`FileView`) and what desired
plans from it (:class:`FilePlan`).

:class:`FileView` reads once, in observe, every networkd file these resources may touch or
look at: the files in the configuration directory and the file networkd applies to each
link.  :class:`FilePlan` reads nothing: from that view it works out which files of ours a
set of link specs covers, what each holds now and what it should hold (``None``: absent).

Each spec has its own .netdev and .network; each link below it (a bridge's ports, a bond's
members, a VLAN's parent) gets a drop-in on that link's .network, and a link nothing else
configures gets a minimal .network to carry its drop-ins.  Files without our header are
never overwritten.
"""

from __future__ import annotations

import glob
import os

from ansible_collections.openblade.kvm.plugins.module_utils._net import units
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError


def skeleton_sections(name):
    """The main file of a link that only carries attachments (a trunk NIC, a port)."""
    return [("Match", [("Name", name)]),
            ("Network", [("LinkLocalAddressing", "no"), ("IPv6AcceptRA", "no")]),
            ("Link", [("RequiredForOnline", "no")])]


class FileView:
    """The networkd files as observe read them: every .netdev and .network in the layout's
    directory, every drop-in below it, and ``extra`` files (those networkd applies, which
    may live in /run or /usr/lib).  It answers what :class:`units.Layout` would, without
    touching the disk again, so desired and plan decide on exactly what observe saw."""

    def __init__(self, layout, extra=()):
        self.layout = layout
        root = glob.escape(layout.config_dir)
        paths = glob.glob(os.path.join(root, "*.netdev")) + glob.glob(os.path.join(root, "*.network"))
        paths += glob.glob(os.path.join(root, "*.network.d", "*.conf"))
        paths += [path for path in extra if path and not self._inside(path)]
        self.content = {path: layout.read(path) for path in sorted(set(paths))}

    def _inside(self, path):
        directory = os.path.dirname(path)
        if directory.endswith(".network.d"):
            directory = os.path.dirname(directory)
        return directory == self.layout.config_dir

    def read(self, path):
        if path in self.content or self._inside(path):
            return self.content.get(path)
        raise LookupError(f"{path} was not read when the network state was observed")

    def owned_dropins(self, role, owner_name):
        """Every drop-in of ours that ``role owner_name`` placed, on whatever link."""
        name = f"{units.DROPIN_PREFIX}{role}-{owner_name}.conf"
        return sorted(path for path, content in self.content.items()
                      if os.path.basename(path) == name and self._inside(path)
                      and os.path.dirname(path).endswith(".network.d") and units.is_ours(content))

    def dropins_of(self, network_file):
        """All drop-ins (ours or not) of one .network file."""
        directory = self.layout.dropin_dir(network_file)
        return sorted(path for path in self.content
                      if os.path.dirname(path) == directory and path.endswith(".conf"))

    def netdev_files(self):
        prefix = os.path.join(self.layout.config_dir, units.PREFIX)
        return sorted(path for path in self.content if path.startswith(prefix) and path.endswith(".netdev")
                      and os.path.dirname(path) == self.layout.config_dir)

    def dropin_link(self, path):
        """The link a drop-in of ours attaches (named in its header, else by its directory)."""
        owner = units.owner_of(self.read(path)) or ""
        if " on " in owner:
            return owner.rsplit(" on ", 1)[1]
        name = os.path.basename(os.path.dirname(path))[:-len(".network.d")]
        return name[len(units.PREFIX):] if name.startswith(units.PREFIX) else name

    def previous_lower(self, spec):
        """The links ``spec`` attached before: those its drop-ins of ours name."""
        return sorted({self.dropin_link(path) for path in self.owned_dropins(spec.attach_role, spec.name)})

    def covered(self, specs):
        """What the files of ours that ``specs`` cover hold now, by path: each spec's own
        files (listed as absent when a present spec has none yet), its drop-ins, and the
        minimal files of the links below it.  Files the plan creates are absent here."""
        layout = self.layout
        found = {}
        for spec in specs:
            for path in (layout.netdev(spec.name), layout.network(spec.name)):
                if spec.present or self.read(path) is not None:
                    found[path] = self.read(path)
            for path in self.owned_dropins(spec.attach_role, spec.name):
                found[path] = self.read(path)
            for lower in sorted(set(spec.lower_links()) | set(self.previous_lower(spec))):
                path = layout.network(lower)
                if (units.owner_of(self.read(path)) or "").startswith("link "):
                    found[path] = self.read(path)
        return found


class FilePlan:
    """``before``/``after`` content by path, the link each path belongs to (``path_link``),
    the links each spec attached before (``previous_lower``), and ``paths`` in write order:
    .netdev files first (networkd creates devices from them), then .network, then drop-ins."""

    def __init__(self, view, specs, defined, snapshot):
        self.view = view
        self.layout = view.layout
        self.specs = specs
        self.defined = defined
        self.snapshot = snapshot
        self.before, self.after, self.path_link = {}, {}, {}
        self.previous_lower, self.targets = {}, {}
        self.warnings = []
        self._plan()

    def changed(self, path):
        return self.before[path] != self.after[path]

    def changes(self):
        """(path, before, after) of every file to write or remove, in write order."""
        return [(path, self.before[path], self.after[path]) for path in self.paths if self.changed(path)]

    def changed_links(self):
        return {self.path_link[path] for path in self.paths if self.changed(path)}

    def _want(self, path, content, link):
        if path in self.after and self.after[path] != content:
            raise ReconcileError(f"{path} would be written twice with different content; "
                                 f"declare {link} once")
        self.after[path] = content
        self.before.setdefault(path, self.view.read(path))
        self.path_link[path] = link

    def _plan(self):
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
            content = self.view.read(path)
            if content is not None and not units.is_ours(content):
                raise ReconcileError(f"{path} exists but was not written by openblade.kvm (it has "
                                     "no openblade.kvm header); refusing to overwrite it", path=path)
        link = self.snapshot.link(spec.name)
        ours = self.view.read(netdev) is not None
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
                if self.view.read(path) is not None:
                    self._want(path, None, spec.name)

    def _plan_attachments(self, spec):
        previous = {self.view.dropin_link(path): path
                    for path in self.view.owned_dropins(spec.attach_role, spec.name)}
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
        content = self.after.get(ours, self.view.read(ours))
        if lower in self.defined or units.is_ours(content):
            return ours
        if content is not None:
            raise ReconcileError(f"{ours} exists but was not written by openblade.kvm; refusing "
                                 "to overwrite it", path=ours)
        link = self.snapshot.link(lower)
        applied = link.network_file if link is not None else None
        if applied and not units.is_ours(self.view.read(applied)):
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
            if lower not in self.defined and self.view.read(target) is None:
                self._want(target, units.render(f"link {lower}", skeleton_sections(lower)), lower)
        # A link's minimal file goes with its last drop-in.
        emptied = {os.path.dirname(path) for path, content in self.after.items()
                   if content is None and path.endswith(".conf")}
        for directory in sorted(emptied):
            main = os.path.join(self.layout.config_dir, os.path.basename(directory)[:-len(".d")])
            content = self.after.get(main, self.view.read(main))
            if not (units.owner_of(content) or "").startswith("link "):
                continue
            if not self.remaining_dropins(main):
                self._want(main, None, os.path.basename(main)[len(units.PREFIX):-len(".network")])

    def remaining_dropins(self, main):
        directory = self.layout.dropin_dir(main)
        existing = set(self.view.dropins_of(main))
        planned = {path for path in self.after if os.path.dirname(path) == directory}
        return sorted(path for path in existing | planned if self.after.get(path, "kept") is not None)

    def _refuse_orphans(self):
        for spec in self.specs:
            if spec.present:
                continue
            left = self.remaining_dropins(self.layout.network(spec.name))
            if left:
                owners = ", ".join(units.owner_of(self.view.read(p)) or p for p in left)
                raise ReconcileError(
                    f"cannot remove {spec.kind} {spec.name}: {owners} still attaches to it "
                    f"({', '.join(left)}); remove that first", interface=spec.name)
