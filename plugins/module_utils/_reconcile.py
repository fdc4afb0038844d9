# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one reconcile path every module follows: observe -> compare -> plan -> apply.

Check mode and diff are decided here and nowhere else.  A resource only says what
it sees, what it wants, and which actions turn one into the other; this module
decides whether to run them.  Because the plan is built the same way in check mode
and in a real run, check mode predicts the real run exactly.
"""

from __future__ import annotations

import contextlib
import copy
import traceback


class ReconcileError(Exception):
    """A failure the user can act on.  ``details`` lands in the module result."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.details = details


class Action:
    """One step of a plan: a human-readable description and the callable that does it."""

    def __init__(self, description, apply=None, **details):
        self.description = description
        self._apply = apply
        self.details = details

    def apply(self):
        if self._apply is not None:
            return self._apply()
        return None

    def __repr__(self):
        return f"Action({self.description!r})"


class Plan:
    """An ordered list of actions plus flags that travel with them."""

    def __init__(self):
        self.actions = []
        self.warnings = []
        self.facts = {}

    def add(self, description, apply=None, **details):
        action = Action(description, apply, **details)
        self.actions.append(action)
        return action

    def warn(self, message):
        if message not in self.warnings:  # a batch repeats the same cause per item: say it once
            self.warnings.append(message)

    def __bool__(self):
        return bool(self.actions)

    def __len__(self):
        return len(self.actions)

    def descriptions(self):
        return [action.description for action in self.actions]


class Resource:
    """What a module reconciles.  Subclasses implement the four steps.

    ``observe()`` returns the current state of the managed fields (``None`` when the
    resource does not exist); ``desired(current)`` returns the wanted state built and
    normalised the same way; ``plan(current, desired)`` returns a :class:`Plan`.
    ``result(current, desired, plan, applied)`` may add resource-specific keys.
    """

    def observe(self):
        raise NotImplementedError

    def desired(self, current):
        raise NotImplementedError

    def plan(self, current, desired):
        raise NotImplementedError

    def result(self, current, desired, plan, applied):
        return {}

    def lock(self):
        """A context manager held from observe to the last action (and ``result``).

        Holding one lock across the whole cycle means no other run can change the
        resource between what we saw and what we do.  No lock by default.
        """
        return contextlib.nullcontext()


class ReadOnlyResource(Resource):
    """An info module's resource: ``observe()`` gathers, ``result()`` returns it, and the
    plan is always empty, so such a module never reports a change."""

    def desired(self, current):
        return None

    def plan(self, current, desired):
        return Plan()


def reconcile(resource, check_mode=False, diff_mode=False):
    """Run the observe/compare/plan/apply cycle and build the module result.

    Returns a dict with ``changed``, ``actions`` (descriptions of what was done, or
    would be done in check mode) and, when ``diff_mode``, ``diff`` with the managed
    fields before and after.
    """
    with resource.lock():
        return _reconcile(resource, check_mode, diff_mode)


def _reconcile(resource, check_mode, diff_mode):
    current = resource.observe()
    desired = resource.desired(copy.deepcopy(current))
    plan = resource.plan(current, desired)
    if not check_mode:
        _apply(plan)
    result = {
        "changed": bool(plan),
        "actions": plan.descriptions(),
    }
    if plan.warnings:
        result["warnings"] = list(plan.warnings)
    reserved = set(result) | {"diff"}
    clashes = reserved & set(plan.facts)
    if clashes:
        raise ValueError("plan facts must not override {}".format(", ".join(sorted(clashes))))
    result.update(plan.facts)
    if diff_mode:
        result["diff"] = {"before": _diffable(current), "after": _diffable(desired if plan else current)}
    result.update(resource.result(current, desired, plan, applied=not check_mode))
    return result


def _apply(plan):
    """Run the actions in order; on failure, say which ran and which broke."""
    done = []
    for action in plan.actions:
        try:
            action.apply()
        except ReconcileError as exc:
            exc.details.update(changed=bool(done), actions_done=done, failed_action=action.description)
            raise
        except Exception as exc:  # an OSError, a library's own error: still say what was done
            raise ReconcileError(f"{action.description}: {type(exc).__name__}: {exc}", changed=bool(done),
                                 actions_done=done, failed_action=action.description,
                                 exception=traceback.format_exc()) from exc
        done.append(action.description)


def _diffable(state):
    """Ansible renders dict diffs as YAML-ish text; absent resources diff as empty."""
    return {} if state is None else state


def run_module(module, build_resource):
    """Standard ``main()`` body: build the resource from params, reconcile, exit.

    Any :class:`ReconcileError` (validation, command failure, lock timeout) becomes
    ``fail_json`` with its details, so every module fails the same readable way; so does
    any other exception, with ``actions_done`` and the traceback (shown at ``-vvv``).
    """
    try:
        resource = build_resource(module)
        result = reconcile(resource, check_mode=module.check_mode, diff_mode=module._diff)
    except ReconcileError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    except Exception as exc:  # noqa: BLE001 - observe or plan failed: nothing was changed yet
        module.fail_json(msg=f"{type(exc).__name__}: {exc}", changed=False, actions_done=[],
                         exception=traceback.format_exc())
    else:
        for warning in result.pop("warnings", []):
            module.warn(warning)
        module.exit_json(**result)
