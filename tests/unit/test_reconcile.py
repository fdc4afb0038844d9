# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile cycle with a toy resource: check mode == real run, idempotence, diff,
and run_module's exit/fail paths."""

from __future__ import annotations

import contextlib
import copy

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    Plan,
    ReconcileError,
    Resource,
    reconcile,
    run_module,
)
from ansible_collections.openblade.kvm.plugins.module_utils._validate import vlan_id


class Volume(Resource):
    """A volume on a toy host, which is a dict of name -> {"size": int}."""

    def __init__(self, host, name, size=None, state="present"):
        self.host, self.name, self.size, self.state = host, name, size, state

    def observe(self):
        return copy.deepcopy(self.host.get(self.name))

    def desired(self, current):
        if self.state == "absent":
            return None
        return {"size": self.size}

    def plan(self, current, desired):
        plan = Plan()
        if desired is None:
            if current is not None:
                plan.add(f"remove {self.name}", lambda: self.host.pop(self.name))
        elif current is None:
            plan.add(f"create {self.name} ({desired['size']})",
                     lambda: self.host.update({self.name: dict(desired)}))
        elif current["size"] < desired["size"]:
            plan.add(f"grow {self.name} {current['size']} -> {desired['size']}",
                     lambda: self.host[self.name].update(size=desired["size"]))
        elif current["size"] > desired["size"]:
            plan.warn(f"{self.name} is larger than requested; shrinking is not supported")
        return plan


HOST = {"old": {"size": 5}}

CASES = {
    # name: (resource arguments, changed, actions, diff before, diff after)
    "create": ({"name": "new", "size": 10}, True, ["create new (10)"], {}, {"size": 10}),
    "grow": ({"name": "old", "size": 8}, True, ["grow old 5 -> 8"], {"size": 5}, {"size": 8}),
    "unchanged": ({"name": "old", "size": 5}, False, [], {"size": 5}, {"size": 5}),
    "larger": ({"name": "old", "size": 3}, False, [], {"size": 5}, {"size": 5}),
    "remove": ({"name": "old", "state": "absent"}, True, ["remove old"], {"size": 5}, {}),
    "already absent": ({"name": "new", "state": "absent"}, False, [], {}, {}),
}


@pytest.mark.parametrize("case", CASES)
def test_check_mode_predicts_the_real_run(case):
    args, changed, actions, _before, _after = CASES[case]
    host = copy.deepcopy(HOST)

    checked = reconcile(Volume(host, **args), check_mode=True)
    assert host == HOST  # check mode touched nothing
    real = reconcile(Volume(host, **args))

    assert (checked["changed"], checked["actions"]) == (changed, actions)
    assert (real["changed"], real["actions"]) == (changed, actions)


@pytest.mark.parametrize("case", CASES)
def test_second_run_changes_nothing(case):
    args = CASES[case][0]
    host = copy.deepcopy(HOST)
    reconcile(Volume(host, **args))
    after_first = copy.deepcopy(host)

    second = reconcile(Volume(host, **args))
    assert (second["changed"], second["actions"]) == (False, [])
    assert host == after_first


@pytest.mark.parametrize("case", CASES)
def test_diff_shows_managed_fields_before_and_after(case):
    args, _changed, _actions, before, after = CASES[case]
    for check_mode in (True, False):
        resource = Volume(copy.deepcopy(HOST), **args)
        result = reconcile(resource, check_mode=check_mode, diff_mode=True)
        assert result["diff"] == {"before": before, "after": after}


def test_no_diff_unless_asked():
    assert "diff" not in reconcile(Volume(copy.deepcopy(HOST), name="new", size=1))


def test_warnings_travel_with_the_result():
    result = reconcile(Volume(copy.deepcopy(HOST), name="old", size=3))
    assert result["warnings"] == ["old is larger than requested; shrinking is not supported"]


def test_resource_lock_is_held_from_observe_to_the_last_action():
    events = []

    class Locked(Volume):
        @contextlib.contextmanager
        def lock(self):
            events.append("lock")
            yield
            events.append("unlock")

        def observe(self):
            events.append("observe")
            return super().observe()

    host = copy.deepcopy(HOST)
    resource = Locked(host, "new", size=1)
    resource.plan = lambda current, desired: _recording_plan(events)
    reconcile(resource)
    assert events == ["lock", "observe", "apply", "unlock"]


def _recording_plan(events):
    plan = Plan()
    plan.add("step", lambda: events.append("apply"))
    return plan


# --- run_module --------------------------------------------------------------------------

class ModuleExit(Exception):
    """Raised like AnsibleModule's sys.exit, so nothing runs after exit/fail."""


class FakeModule:
    def __init__(self, params, check_mode=False, diff=False):
        self.params = params
        self.check_mode = check_mode
        self._diff = diff
        self.exit_args = None
        self.fail_args = None

    def exit_json(self, **kwargs):
        self.exit_args = kwargs
        raise ModuleExit()

    def fail_json(self, **kwargs):
        self.fail_args = kwargs
        raise ModuleExit()


def build(host):
    """What a module's main() passes to run_module: params -> validated resource."""
    def build_resource(module):
        params = module.params
        return Volume(host, params["name"], size=vlan_id(params["size"], "size"))
    return build_resource


def test_run_module_exits_with_the_reconcile_result():
    host = {}
    module = FakeModule({"name": "new", "size": 10}, check_mode=True, diff=True)
    with pytest.raises(ModuleExit):
        run_module(module, build(host))
    assert module.exit_args == {
        "changed": True, "actions": ["create new (10)"],
        "diff": {"before": {}, "after": {"size": 10}},
    }
    assert module.fail_args is None
    assert host == {}  # the module's check_mode reached reconcile


def test_run_module_turns_validation_errors_into_fail_json():
    host = {}
    module = FakeModule({"name": "new", "size": 5000})
    with pytest.raises(ModuleExit):
        run_module(module, build(host))
    assert module.fail_args["msg"].startswith("size: 5000 is not a valid VLAN ID")
    assert module.fail_args["option"] == "size"
    assert module.exit_args is None
    assert host == {}


def test_run_module_fails_with_the_error_details():
    class Broken(Volume):
        def observe(self):
            raise ReconcileError("lvs failed", cmd=["lvs"], rc=5)

    module = FakeModule({})
    with pytest.raises(ModuleExit):
        run_module(module, lambda module: Broken({}, "x", size=1))
    assert module.fail_args == {"msg": "lvs failed", "cmd": ["lvs"], "rc": 5}


def test_any_exception_in_an_action_fails_cleanly_with_what_was_done():
    class TwoSteps(Volume):
        def plan(self, current, desired):
            plan = Plan()
            plan.add("write the seed", lambda: self.host.update(seed=True))
            plan.add("write the unit file", self._disk_full)
            plan.add("start it", lambda: self.host.update(started=True))
            return plan

        @staticmethod
        def _disk_full():
            raise OSError(28, "No space left on device")

    host = {}
    module = FakeModule({})
    with pytest.raises(ModuleExit):
        run_module(module, lambda module: TwoSteps(host, "x", size=1))
    failure = module.fail_args
    assert failure["msg"] == "write the unit file: OSError: [Errno 28] No space left on device"
    assert (failure["changed"], failure["actions_done"], failure["failed_action"]) == (
        True, ["write the seed"], "write the unit file")
    assert "Traceback" in failure["exception"] and "_disk_full" in failure["exception"]
    assert host == {"seed": True}  # it stopped at the failure


def test_an_unexpected_exception_before_any_action_fails_cleanly():
    class Unreadable(Volume):
        def observe(self):
            raise PermissionError(13, "Permission denied", "/etc/systemd/network")

    module = FakeModule({})
    with pytest.raises(ModuleExit):
        run_module(module, lambda module: Unreadable({}, "x", size=1))
    assert module.fail_args["msg"] == "PermissionError: [Errno 13] Permission denied: '/etc/systemd/network'"
    assert (module.fail_args["changed"], module.fail_args["actions_done"]) == (False, [])
    assert module.exit_args is None
