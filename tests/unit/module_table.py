# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Table-driven module tests, in the style of community.general's UTHelper.

A YAML file under module_tables/ names a module and lists rows; each row gives the module's
input (``_ansible_check_mode`` and ``_ansible_diff`` as Ansible passes them), the commands
it must run, in order, each with its rc/out/err (an ``out`` that is a mapping or a list is
JSON-encoded, as ``lvs --reportformat json`` prints it; ``{use: NAME}`` takes an entry of a
shared host file, such as _lvm_host.yml), and the expected result (the keys
given must match exactly; ``msg_contains`` checks a failure's message).  The row runs the
module's real ``main()`` with its real argument spec; only ``run_command`` is replaced (and
which programs are installed: those the row runs).
"""

from __future__ import annotations

import copy
import importlib
import json

import pytest
import yaml
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


class ModuleExit(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


class RunCommand:
    """``AnsibleModule.run_command`` answering from the row's list, in order."""

    def __init__(self, rows):
        self.rows = list(rows)

    def __call__(self, args, **kwargs):
        assert self.rows, f"the module ran {args!r}, but the table expects no more commands"
        row = self.rows.pop(0)
        assert list(args) == row["command"], f"expected {row['command']!r}, the module ran {list(args)!r}"
        out = row.get("out", "")
        if not isinstance(out, str):
            out = json.dumps(out)
        return row.get("rc", 0), out, row.get("err", "")


def resolve(value, shared):
    """``value`` with every ``{use: NAME}`` replaced by the shared entry NAME."""
    if isinstance(value, dict):
        if set(value) == {"use"}:
            return resolve(copy.deepcopy(shared[value["use"]]), shared)
        return {key: resolve(item, shared) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, shared) for item in value]
    return value


def load(path, shared=None):
    """The rows of a table; ``{use: NAME}`` refers to an entry of the ``shared`` file's one mapping."""
    entries = {}
    if shared is not None:
        (entries,) = yaml.safe_load(shared.read_text()).values()
    table = resolve(yaml.safe_load(path.read_text()), entries)
    name = table["module"]
    return [pytest.param(name, row, id=f"{name}: {row['id']}") for row in table["tests"]]


def run(monkeypatch, module_name, row):
    module = importlib.import_module(f"ansible_collections.openblade.kvm.plugins.modules.{module_name}")
    commands = RunCommand(row.get("mocks", {}).get("run_command", []))

    def leave(_module, **result):
        raise ModuleExit(result)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda _module, args, **kwargs: commands(args))
    # The programs the row runs are installed, as on a blade; no others.
    installed = {row["command"][0] for row in commands.rows}
    monkeypatch.setattr(Runner, "exists", lambda _runner, binary: binary in installed)
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", leave)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", lambda _module, **result: leave(
        _module, failed=True, **result))
    with patch_module_args(row["input"]), pytest.raises(ModuleExit) as finished:
        module.main()
    result = finished.value.result
    left = [command["command"] for command in commands.rows]
    assert left == [], f"the module did not run {left}: {result}"
    expected = dict(row["output"])
    if "msg_contains" in expected:
        assert expected.pop("msg_contains") in result.get("msg", ""), result
    for key, value in expected.items():
        assert result.get(key) == value, f"{key}: expected {value!r}, got {result.get(key)!r}"
    return result
