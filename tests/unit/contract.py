# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile contract every resource of the collection keeps, checked one way for all.

A scenario puts one resource class on a fake (or libvirt test:///default) host where a
change is due, as a :class:`World`.  :func:`assert_contract` then runs it three times,
each with a fresh resource as a module would build it: in check mode, for real, and for
real again.  It watches the world around every phase (observe, desired, plan, result and
each action) and asserts:

- check mode runs only reads: nothing in the world changes;
- the check and the real run report the same ``changed``, ``actions`` and ``diff``;
- the real run changes the world only inside its listed actions, and every listed action
  changes it (when the scenario lists the mutating commands, exactly those, in order);
- the diff is non-empty if and only if ``changed``;
- a second run is a no-op: nothing changed, no action, the world untouched;
- observe is the only phase that reads the host: desired and plan run no command, open
  or list no file and call no libvirt function (they decide on what observe read).
"""

from __future__ import annotations

import os
import sys

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.inuse import Domains
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import reconcile
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner

PHASES = ("observe", "desired", "plan", "result")


def tree(root, skip=()):
    """Every file and directory below ``root`` with its mode and content (a world's files)."""
    found = {}
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(name for name in dirs if os.path.join(directory, name) not in skip)
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            content = None
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    content = handle.read()
            found[os.path.relpath(path, root)] = (info.st_mode, content)
    return found


class World:
    """A resource class on a host.

    ``build()`` returns a fresh resource; ``state()`` a comparable picture of everything it
    may change (files, libvirt objects, the mutating commands a fake runner has run);
    ``mutations`` (optional) the argvs the real run must execute, in order, as read from
    ``runner``'s calls by ``is_mutation``; ``settle()`` moves a stateless fake host to the
    state after the real run (a table runner answers from a fixed table).  ``check_mode``
    is the mode of the run being built, for a resource that takes it in its constructor.
    """

    def __init__(self, build, state, runner=None, is_mutation=None, mutations=None, settle=None,
                 changes=True, cleanup=None, verifications=()):
        self.build = build
        self.state = state
        self.runner = runner
        self.is_mutation = is_mutation
        self.mutations = mutations
        self.settle = settle or (lambda: None)
        self.changes = changes  # False for read-only resources: every run is a no-op
        self.cleanup = cleanup or (lambda: None)  # leave a shared host (test:///default) as found
        # Listed steps that only read, so the user sees what the run waits for: they must not
        # change the world (every other listed action must).
        self.verifications = set(verifications)
        self.check_mode = False

    def mutating_calls(self, start=0):
        if self.runner is None:
            return []
        return [call for call in self.runner.calls[start:] if self.is_mutation(call)]


class TableHost(FakeRunner):
    """A FakeRunner for a host whose reads answer from ``before`` until :meth:`settle`,
    then from ``after``; the argvs in ``mutations`` succeed and are the only mutations."""

    def __init__(self, before, mutations, after=None, binaries=None, effects=None):
        self.mutation_argvs = [tuple(argv) for argv in mutations]
        self.after = after
        self.effects = effects or {}  # program -> what running it does to the host's files
        super().__init__({**before, **{argv: (0, "", "") for argv in self.mutation_argvs}}, binaries)
        self.reads = set(before)

    def _execute(self, argv, data):
        result = super()._execute(argv, data)
        if argv[0] in self.effects:
            self.effects[argv[0]](argv)
        return result

    def is_mutation(self, argv):
        return argv not in self.reads

    def settle(self):
        if self.after is not None:
            self.table = {**self.after, **{argv: (0, "", "") for argv in self.mutation_argvs}}
            self.reads = set(self.after)


def table_world(build, host, state=lambda: None, **kwargs):
    """A World on a :class:`TableHost` (or another FakeRunner with ``is_mutation``):
    ``build(runner)``; ``state()`` adds what else it may change (files)."""
    return World(lambda: build(host), lambda: (tuple(call for call in host.calls if host.is_mutation(call)),
                                               state()),
                 runner=host, is_mutation=host.is_mutation,
                 mutations=getattr(host, "mutation_argvs", None), settle=getattr(host, "settle", None),
                 **kwargs)


class _Reads:
    """What a phase reads from the host while ``active`` is a list: the commands any Runner
    runs, and the files opened or listed, seen through Python's audit hooks (one hook per
    process, as a hook cannot be removed; Python's own imports do not count)."""

    EVENTS = {"open", "os.listdir", "os.scandir"}
    active = None

    @classmethod
    def hook(cls, event, args):
        if cls.active is not None and event in cls.EVENTS and args and isinstance(args[0], (str, bytes)):
            path = os.fsdecode(args[0])
            if not path.endswith((".py", ".pyc", ".so")) and "__pycache__" not in path:
                cls.active.append(("file", path))

    @classmethod
    def profile(cls, frame, event, function):
        # libvirt-python's classes call into its C module, libvirtmod: every such call asks
        # libvirtd, except the frees and closes that garbage collection runs at any moment.
        if event == "c_call" and getattr(function, "__module__", None) == "libvirtmod" \
                and not function.__name__.endswith(("Free", "Close")):
            cls.active.append(("libvirt", function.__name__))

    @classmethod
    def recording(cls, what, function):
        def recorded(owner, *args, **kwargs):
            if cls.active is not None:
                cls.active.append((what, args))
            return function(owner, *args, **kwargs)
        return recorded


sys.addaudithook(_Reads.hook)
Runner.run = _Reads.recording("run", Runner.run)
# Which domains use a volume: libvirt (or a test's stand-in for it), asked by every in-use check.
Domains.using = _Reads.recording("in-use", Domains.using)


class Watch:
    """Records which phase changed the world, by wrapping a resource's phases and actions,
    and what ``plan`` read from the host (commands run, files opened or listed)."""

    def __init__(self, world):
        self.world = world
        self.log = []  # (phase, changed the world?)
        self.plan_reads = []

    def _wrap(self, phase, function):
        def watched(*args, **kwargs):
            before = self.world.state()
            outer, _Reads.active = _Reads.active, [] if phase in ("desired", "plan") else None
            profiler = sys.getprofile()
            if _Reads.active is not None:
                sys.setprofile(_Reads.profile)
            try:
                value = function(*args, **kwargs)
            finally:
                sys.setprofile(profiler)
                seen, _Reads.active = _Reads.active, outer
            if seen:
                self.plan_reads += [(phase, *read) for read in seen]
            self.log.append((phase, self.world.state() != before))
            if phase == "plan":
                for action in value.actions:
                    action.apply = self._wrap(f"action {action.description}", action.apply)
            return value
        return watched

    def attach(self, resource):
        for phase in PHASES:
            setattr(resource, phase, self._wrap(phase, getattr(resource, phase)))
        return resource

    def changed_in(self):
        return [phase for phase, changed in self.log if changed]


def run(world, check_mode):
    watch = Watch(world)
    before = world.state()
    calls = len(world.runner.calls) if world.runner is not None else 0
    world.check_mode = check_mode
    result = reconcile(watch.attach(world.build()), check_mode=check_mode, diff_mode=True)
    mutations = world.mutating_calls(calls)
    return result, watch, before, mutations


def assert_reads_only_in_observe(world, watch):
    assert watch.plan_reads == [], \
        f"desired or plan read the host instead of deciding on what observe read: {watch.plan_reads}"


def assert_contract(world):
    """Check mode, the real run and a second run of ``world``; see the module docstring."""
    checked, watch, before, mutations = run(world, check_mode=True)
    assert watch.changed_in() == [] and mutations == [], \
        f"check mode changed the world in {watch.changed_in()} (ran {mutations})"
    assert world.state() == before, "check mode changed the world"
    assert_reads_only_in_observe(world, watch)

    real, watch, before, mutations = run(world, check_mode=False)
    assert_reads_only_in_observe(world, watch)
    for key in ("changed", "actions", "diff"):
        assert checked[key] == real[key], \
            f"check mode predicted {key} {checked[key]!r}, the real run {real[key]!r}"
    assert real["changed"] is world.changes, f"the scenario expects changed={world.changes}: {real}"
    assert (real["diff"]["before"] != real["diff"]["after"]) is real["changed"], \
        f"diff non-empty iff changed, but changed={real['changed']} and diff={real['diff']}"
    actions = [f"action {description}" for description in real["actions"]
               if description not in world.verifications]
    outside = [phase for phase in watch.changed_in() if phase not in actions]
    assert outside == [], f"the world changed outside the listed (mutating) actions, in {outside}"
    idle = [phase for phase in actions if phase not in watch.changed_in()]
    assert idle == [], f"listed actions that changed nothing: {idle}"
    assert world.verifications <= set(real["actions"]), "a verification step the run no longer lists"
    if world.mutations is not None:
        assert mutations == list(world.mutations), "the real run ran other commands than the listed mutations"
    assert (world.state() != before) is real["changed"]

    world.settle()
    again, watch, before, mutations = run(world, check_mode=False)
    assert_reads_only_in_observe(world, watch)
    assert (again["changed"], again["actions"]) == (False, []), f"a second run is not a no-op: {again}"
    assert watch.changed_in() == [] and mutations == [] and world.state() == before
    assert again["diff"]["before"] == again["diff"]["after"]
    return checked, real, again
