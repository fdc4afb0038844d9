"""tools/guest-docs.py: the guest doc fragment is a plain literal that agrees with spec.py."""

import copy
import types

import pytest
import yaml

from ansible_collections.openblade.kvm.tests.unit.repo_tools import load_tool


@pytest.fixture(scope="module")
def tool():
    return load_tool("guest-docs.py")


def fragment(text):
    namespace = {}
    exec(compile(text, "guest.py", "exec"), namespace)
    return namespace["ModuleDocFragment"]


def changed_spec(tool, change):
    real = tool.libvirt_spec()
    guest = copy.deepcopy(real.GUEST_SPEC)
    change(guest)
    return types.SimpleNamespace(CONNECTION_SPEC=real.CONNECTION_SPEC, GUEST_SPEC=guest)


def test_checked_in_fragment_is_up_to_date(tool):
    assert tool.check() == []


def test_every_fragment_attribute_is_a_string_literal(tool):
    for path in sorted(tool.FRAGMENTS.glob("*.py")):
        found, problems = tool.literals(path)
        assert problems == []
        assert found, path


def test_code_built_fragment_is_refused(tool, tmp_path, monkeypatch):
    built = tmp_path / "built.py"
    built.write_text('A = "options: {}"\nclass ModuleDocFragment:\n    DOCUMENTATION = A + "\\n"\n')
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    assert tool.literals(built) == ({}, [
        "built.py: ModuleDocFragment.DOCUMENTATION is built by code, not a string literal "
        "(ansible-test's yamllint and galaxy-importer read it unrun)"])


def test_generated_docs_match_the_spec_and_guests_is_derived(tool):
    spec = tool.libvirt_spec()
    docs = fragment(tool.GUEST.read_text())
    options = yaml.safe_load(docs.DOCUMENTATION)["options"]
    assert list(options) == list(spec.CONNECTION_SPEC) + list(spec.GUEST_SPEC)
    assert options["disks"]["suboptions"]["cache"]["choices"] == list(spec.CACHE_MODES)
    guests = yaml.safe_load(docs.GUESTS)["options"]["guests"]["suboptions"]
    assert list(guests) == list(spec.GUEST_SPEC)
    # References point into the list, except the module-wide cluster.
    assert "O(guests[].force=true)" in guests["state"]["description"][-1]
    assert "O(cluster)" in " ".join(guests["uuid"]["description"])
    assert "RV(summary.reboot_required)" in " ".join(guests["restart_if_required"]["description"])
    assert list(yaml.safe_load(docs.INFO)["options"]) == ["uri"]


def test_changed_default_in_the_spec_is_drift(tool):
    def change(guest):
        guest["memory"]["default"] = 2048

    spec = changed_spec(tool, change)
    text = tool.generate(spec=spec)
    assert text != tool.GUEST.read_text()
    docs = fragment(text)
    assert yaml.safe_load(docs.DOCUMENTATION)["options"]["memory"]["default"] == 2048
    assert yaml.safe_load(docs.GUESTS)["options"]["guests"]["suboptions"]["memory"]["default"] == 2048


def test_check_names_the_fix(tool, monkeypatch):
    spec = changed_spec(tool, lambda guest: guest["vcpus"].update(default=2))
    monkeypatch.setattr(tool, "libvirt_spec", lambda: spec)
    problems = tool.check()
    assert len(problems) == 1
    assert "run tools/guest-docs.py --write" in problems[0]
    assert "+    default: 2" in problems[0]


def test_new_field_gets_a_todo_that_fails_the_check(tool, monkeypatch):
    def change(guest):
        guest["agent_channel"] = dict(type="bool", default=False)
        del guest["serial_log"]

    notes = []
    spec = changed_spec(tool, change)
    text = tool.generate(spec=spec, notes=notes)
    assert notes == ["agent_channel: new in the spec, given a TODO description",
                     "serial_log: no longer in the spec, its docs are dropped"]
    options = yaml.safe_load(fragment(text).DOCUMENTATION)["options"]
    assert options["agent_channel"] == {"description": [tool.TODO], "type": "bool", "default": False}
    assert "serial_log" not in options
    monkeypatch.setattr(tool, "libvirt_spec", lambda: spec)
    assert any("has no description yet" in problem for problem in tool.check())


def test_descriptions_that_yaml_would_misread_are_quoted(tool):
    text = "Allowed: a, b # not a comment"
    item = tool.description_item(text, 4)
    assert item.lstrip().startswith('- "')
    assert yaml.safe_load(item) == [text]
