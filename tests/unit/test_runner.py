# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runner (real processes, both paths), the argv builder and the FakeRunner."""

from __future__ import annotations

import json
import sys

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.openblade.kvm.plugins.module_utils._runner import (
    Command,
    CommandError,
    Flag,
    Opt,
    Runner,
)
from ansible_collections.openblade.kvm.tests.unit.fakes import FakeRunner

PY = sys.executable


def py(code):
    return [PY, "-c", code]


@pytest.fixture(params=["subprocess", "ansible"])
def runner(request):
    """Each Runner test runs through both paths: plain subprocess and AnsibleModule."""
    if request.param == "subprocess":
        yield Runner()
    else:
        with patch_module_args({}):
            yield Runner(AnsibleModule(argument_spec={}))


def test_run_returns_rc_and_output(runner):
    result = runner.run(py("import sys; print('out'); print('err', file=sys.stderr)"))
    assert (result.rc, result.stdout, result.stderr) == (0, "out\n", "err\n")


def test_commands_run_in_the_c_locale(runner):
    result = runner.run(py("import os; print(os.environ['LC_ALL'], os.environ['LANG'])"))
    assert result.stdout == "C C\n"


def test_argv_words_are_passed_literally(runner):
    # No shell, and no ~ or $VAR expansion (AnsibleModule.run_command does that by default).
    words = ["$HOME", "~", "a b", "x;y", "`id`"]
    result = runner.run(py("import sys, json; print(json.dumps(sys.argv[1:]))") + words)
    assert json.loads(result.stdout) == words


def test_data_goes_to_stdin_unchanged(runner):
    result = runner.run(py("import sys; print(repr(sys.stdin.read()))"), data="line1\nline2")
    assert result.stdout == "'line1\\nline2'\n"


def test_int_words_become_strings(runner):
    result = runner.run(py("import sys; print(sys.argv[1:])") + [100])
    assert result.stdout == "['100']\n"


def test_failure_raises_command_error_with_details(runner):
    argv = py("import sys; print('partial'); sys.exit('boom: disk gone\\nsecond line')")
    with pytest.raises(CommandError) as caught:
        runner.run(argv)
    err = caught.value
    assert str(err).startswith(f"command `{PY} -c ")
    assert str(err).endswith("failed with rc 1: boom: disk gone; second line")
    assert err.details == {"cmd": argv, "rc": 1, "stdout": "partial\n",
                           "stderr": "boom: disk gone\nsecond line\n"}


def test_failure_without_check_returns_the_result(runner):
    result = runner.run(py("raise SystemExit(5)"), check=False)
    assert result.rc == 5


def test_missing_binary_is_a_command_error(runner):
    with pytest.raises(CommandError) as caught:
        runner.run(["openblade-kvm-no-such-binary", "--version"])
    assert caught.value.rc == 127
    assert "`openblade-kvm-no-such-binary --version` could not be started" in str(caught.value)


def test_json_parses_stdout(runner):
    assert runner.json(py("print('{\"report\": [1, 2]}')")) == {"report": [1, 2]}


def test_json_refuses_output_that_is_not_json(runner):
    with pytest.raises(CommandError, match=r"printed output that is not JSON .*: WARNING: x"):
        runner.json(py("print('WARNING: x')"))


def test_exists_looks_on_path():
    assert Runner().exists("sh")
    assert not Runner().exists("openblade-kvm-no-such-binary")


@pytest.mark.parametrize("argv, error", [
    ("lvs --reportformat json", TypeError),
    (b"lvs", TypeError),
    (["lvs", None], TypeError),
    (["ip", "link", True], TypeError),
    ([], ValueError),
])
def test_bad_argv_is_refused_before_running(argv, error):
    fake = FakeRunner({})
    with pytest.raises(error):
        fake.run(argv)
    assert fake.calls == []


def test_command_error_message_shape():
    err = CommandError(["lvs", "--reportformat", "json"], 5, "", '  Volume group "x" not found\n')
    assert str(err) == (
        'command `lvs --reportformat json` failed with rc 5: Volume group "x" not found'
    )


def test_command_error_quotes_words_with_spaces():
    err = CommandError(["echo", "a b"], 1, "", "")
    assert str(err) == "command `echo 'a b'` failed with rc 1: no output"


# --- Command builder ---------------------------------------------------------------------

LVCREATE = Command("lvcreate", options={
    "size": Opt("-L"), "name": Opt("-n"), "thin": Flag("--thin"),
    "tags": Opt("--addtag"), "report": Opt("--reportformat="),
})


@pytest.mark.parametrize("kwargs, expected", [
    ({"size": "10g", "name": "x", "thin": True, "positional": ["vg/pool"]},
     ["lvcreate", "-L", "10g", "-n", "x", "--thin", "vg/pool"]),
    ({"name": "x", "size": None, "thin": False}, ["lvcreate", "-n", "x"]),
    # declaration order, not call order, so argv tables stay stable
    ({"thin": True, "name": "x"}, ["lvcreate", "-n", "x", "--thin"]),
    ({"tags": ["a", "b"]}, ["lvcreate", "--addtag", "a", "--addtag", "b"]),
    ({"report": "json"}, ["lvcreate", "--reportformat=json"]),
    ({"size": 1024, "positional": "vg0"}, ["lvcreate", "-L", "1024", "vg0"]),
])
def test_command_builds_argv(kwargs, expected):
    assert LVCREATE.argv(**kwargs) == expected


def test_command_with_subcommand_words():
    ip_link = Command("ip", "-j", "link", "show", options={"dev": Opt("dev")})
    assert ip_link.argv(dev="br0") == ["ip", "-j", "link", "show", "dev", "br0"]


def test_command_refuses_unknown_options():
    with pytest.raises(TypeError, match="lvcreate has no option.* sise"):
        LVCREATE.argv(sise="10g")


# --- FakeRunner --------------------------------------------------------------------------

LVS = ("lvs", "--reportformat", "json")


def test_fake_runner_answers_from_the_table_and_records_calls():
    fake = FakeRunner({LVS: (0, {"report": [{"lv": []}]}, "")})
    assert fake.json(list(LVS)) == {"report": [{"lv": []}]}
    assert fake.calls == [LVS]


def test_fake_runner_shares_the_real_error_handling():
    fake = FakeRunner({LVS: (5, "", "no VG")})
    with pytest.raises(CommandError, match="failed with rc 5: no VG"):
        fake.run(list(LVS))
    assert fake.run(list(LVS), check=False).rc == 5


def test_fake_runner_fails_on_unexpected_commands():
    fake = FakeRunner({LVS: (0, "", "")})
    with pytest.raises(AssertionError, match=r"unexpected command: \('lvremove', '-y', 'vg0/x'\)"):
        fake.run(["lvremove", "-y", "vg0/x"])


def test_fake_runner_exists_knows_the_table_programs():
    fake = FakeRunner({LVS: (0, "", "")})
    assert fake.exists("lvs") and not fake.exists("vgs")
    assert FakeRunner({}, binaries=["ip"]).exists("ip")
