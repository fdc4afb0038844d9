"""Role argument specs agree with the module options they pass through (issue 15).

tools/check_docs.py (make lint) holds the check: ROLE_BINDINGS names each role option and the
module option the role's tasks hand it to; list options whose items are a module's options
(storage_pools -> lvm_thinpool) are compared key by key. Type, elements, choices and default
must match, and an item key must exist in the module. Where a role differs on purpose,
ROLE_EXPECTED says why. Every pass-through the tasks make must be bound, for every role.
"""

import pytest

from ansible_collections.openblade.kvm.tests.unit.repo_tools import ROOT, load_tool

check_docs = load_tool("check_docs.py")
ROLES = sorted(path.name for path in (ROOT / "roles").iterdir() if (path / "tasks").is_dir())


@pytest.fixture(scope="module")
def specs():
    return {}  # the modules' argument specs, captured once for the module's tests


def test_role_specs_agree_with_module_specs(specs):
    problems = check_docs.role_disagreements(specs)
    assert problems == [], "\n".join(problems)


def test_every_role_is_bound():
    assert ROLES == ["cluster", "guests", "hypervisor", "network", "storage"]
    assert {binding[0] for binding in check_docs.ROLE_BINDINGS} == set(ROLES)


def test_every_pass_through_of_the_tasks_is_bound():
    bound = {binding for binding in check_docs.ROLE_BINDINGS}
    found = {(role, *binding) for role in ROLES for binding in check_docs.task_bindings(role)}
    assert found - bound == set()
    # What the tasks pass straight is found there, not only listed by hand.
    assert ("network", "network_prune", "libvirt_networks", "prune") in found
    assert ("storage", "storage_golden_cache_dir", "golden_image", "cache_dir") in found
    assert ("guests", "guests_list", "guests", "guests") in found  # through the task's vars


def changed_role(monkeypatch, role, change):
    real = check_docs.role_options

    def options(name):
        found = real(name)
        if name == role:
            change(found)
        return found
    monkeypatch.setattr(check_docs, "role_options", options)


def test_a_choice_the_module_lacks_is_listed(monkeypatch, specs):
    changed_role(monkeypatch, "storage", lambda options: options["storage_golden_images"]["options"]["format"]
                 .update(choices=["raw", "qcow2", "vmdk"]))
    assert check_docs.role_disagreements(specs) == [
        "role storage storage_golden_images ~ golden_image item format: choices is ['raw', 'qcow2', 'vmdk'] "
        "in the role but ['raw', 'qcow2'] in the module"]


def test_a_cluster_guest_option_that_disagrees_with_the_guests_module_is_listed(monkeypatch, specs):
    changed_role(monkeypatch, "cluster", lambda options: options["cluster_guests"]["options"]["vcpus"]
                 .update(type="str"))
    assert check_docs.role_disagreements(specs) == [
        "role cluster cluster_guests ~ guests item vcpus: type is 'str' in the role but 'int' in the module"]


def test_a_migrate_option_the_module_lacks_is_listed(monkeypatch, specs):
    changed_role(monkeypatch, "cluster", lambda options: options["cluster_migrate_options"]["description"]
                 .append("Also C(compress)."))
    assert check_docs.role_disagreements(specs) == [
        "role cluster cluster_migrate_options ~ domain_migrate: its description names C(compress), which is "
        "not an option of domain_migrate"]


def test_a_pass_through_nobody_bound_is_listed(monkeypatch, specs):
    monkeypatch.setattr(check_docs, "ROLE_BINDINGS", [binding for binding in check_docs.ROLE_BINDINGS
                                                      if binding[1] != "storage_golden_cache_dir"])
    assert check_docs.role_disagreements(specs) == [
        "role storage: its tasks pass storage_golden_cache_dir to golden_image cache_dir, which "
        "ROLE_BINDINGS does not list"]


def test_an_exception_that_no_longer_applies_is_listed(monkeypatch, specs):
    monkeypatch.setitem(check_docs.ROLE_EXPECTED, ("role guests guests_uri ~ guests uri", "type"), "stale")
    assert check_docs.role_disagreements(specs) == [
        "role guests guests_uri ~ guests uri: ROLE_EXPECTED says its type differs on purpose, but it no "
        "longer differs"]


def test_a_documented_key_the_task_drops_is_listed(monkeypatch, specs):
    real = check_docs.forwarded

    def dropped(role, module, option):
        passed = real(role, module, option)
        if module == "golden_image":
            del passed["checksum"]
            passed["size"] = {"checksum"}
        return passed

    monkeypatch.setattr(check_docs, "forwarded", dropped)
    assert check_docs.role_disagreements(specs) == [
        "role storage storage_golden_images ~ golden_image: item key checksum is passed as the module's size",
        "role storage storage_golden_images ~ golden_image item checksum: documented by the role but never "
        "passed to golden_image",
        "role storage storage_golden_images ~ golden_image item size: documented by the role but never "
        "passed to golden_image"]
