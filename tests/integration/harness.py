# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drive openblade.kvm modules through Ansible, exactly as a playbook task would, on
localhost (host tier) or on a lab blade (lab tier), and return the module's result."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CALLBACKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback_plugins")
LAB_INVENTORY = os.path.join(REPO, "inventories", "lab")


def plan_tool():
    """tools/plan.py as a module: the cluster role's plan of an inventory, computed offline."""
    spec = importlib.util.spec_from_file_location("plan_tool", os.path.join(REPO, "tools", "plan.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ansible_module(module, args, host="localhost", check=False, diff=False, timeout=900, strategy=None):
    """Run openblade.kvm.<module> with ``args`` on ``host``; return its result dict.

    ``localhost`` runs with this interpreter (the venv, which has libvirt-python);
    any other host is looked up in the lab inventory.
    """
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible")
    if host == "localhost":
        target = [host, "-i", "localhost,", "-c", "local",
                  "-e", f"ansible_python_interpreter={sys.executable}"]
    else:
        target = [host, "-i", LAB_INVENTORY]
    argv = [ansible, *target, "-m", f"openblade.kvm.{module}"]
    if args:  # an empty "{}" would reach the module as raw parameters
        argv += ["-a", json.dumps(args)]
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    proc, lines = _run_ansible(argv, timeout, strategy)
    if len(lines) != 1:
        raise AssertionError(f"ansible wrote {len(lines)} results (rc {proc.returncode})\n"
                             f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}")
    return json.loads(lines[0])


def _run_ansible(argv, timeout, strategy=None):
    """Run an ansible command; (process, one JSON line per task result).

    ``strategy`` overrides ansible.cfg's (Mitogen's ``mitogen_linear``), for example
    ``linear`` for the runs that prove the collection needs no Mitogen.
    """
    with tempfile.NamedTemporaryFile(prefix="openblade-result-", suffix=".json") as output:
        env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_CALLBACKS_ENABLED="result_file",
                   ANSIBLE_CALLBACK_PLUGINS=CALLBACKS, OPENBLADE_RESULT_FILE=output.name,
                   ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
        if strategy:
            env["ANSIBLE_STRATEGY"] = strategy
        proc = subprocess.run(argv, cwd=REPO, env=env, check=False, capture_output=True, text=True,
                              timeout=timeout)
        lines = output.read().decode().splitlines()
    return proc, lines


def ansible_playbook(playbook, host=None, check=False, diff=False, timeout=1800, extra_vars=(),
                     strategy=None, inventory=LAB_INVENTORY):
    """Run ``playbook`` (a path) against ``host`` of the lab inventory (None: all its
    hosts); every task result, with ``_host`` and ``_task`` naming where it came from.

    A loop task is one result whose ``results`` hold the items.  A failed run raises.
    """
    proc, results = playbook_run(playbook, host, check, diff, timeout, extra_vars, strategy, inventory)
    if proc.returncode != 0:
        raise AssertionError(f"ansible-playbook failed with rc {proc.returncode}\n"
                             f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}")
    return results


def playbook_run(playbook, host=None, check=False, diff=False, timeout=1800, extra_vars=(),
                 strategy=None, inventory=LAB_INVENTORY):
    """As :func:`ansible_playbook`, for a run that may fail: (process, task results)."""
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    argv = [ansible_playbook, "-i", inventory, playbook] + (["--limit", host] if host else [])
    for extra in extra_vars:  # "@file.yml" or "key=value", as ansible-playbook -e takes them
        argv += ["-e", extra]
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    proc, lines = _run_ansible(argv, timeout, strategy)
    return proc, [json.loads(line) for line in lines]


def apply(module, args, host="localhost", diff=False, expect_failure=False):
    """Check mode first, then the real run; both must report the same changed and actions.

    For an expected failure, the check run must have planned the action that failed.
    Returns (check result, real result).
    """
    predicted = ansible_module(module, args, host=host, check=True, diff=diff)
    assert not predicted.get("failed"), predicted.get("msg")
    result = ansible_module(module, args, host=host, diff=diff)
    if expect_failure:
        assert result.get("failed"), f"expected a failure, got {result!r}"
        assert result["failed_action"] in predicted["actions"]
        done = predicted["actions"][:predicted["actions"].index(result["failed_action"])]
        assert result["actions_done"] == done
        return predicted, result
    assert not result.get("failed"), result.get("msg")
    assert (predicted["changed"], predicted["actions"]) == (result["changed"], result["actions"])
    return predicted, result
