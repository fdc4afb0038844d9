"""Role argument specs agree with the module options they pass through (issue 15).

tools/check_docs.py (make lint) holds the check. It finds in each role's tasks which role option
they hand to which module option (INDIRECT_BINDINGS adds those that pass through a fact, a
filter or another role); list options whose items are a module's options (storage_pools ->
lvm_thinpool) are compared key by key. Type, elements, choices and default must match, and an
item key must exist in the module. Where a role differs on purpose, ROLE_EXPECTED says why.
"""

import pytest

from ansible_collections.openblade.kvm.tests.unit.repo_tools import load_tool

check_docs = load_tool("check_docs.py")


@pytest.fixture(scope="module")
def specs():
    return {}  # the modules' argument specs, captured once for the module's tests


def test_role_specs_agree_with_module_specs(specs):
    problems = check_docs.role_disagreements(specs)
    assert problems == [], "\n".join(problems)


def test_every_role_is_compared():
    assert check_docs.roles() == ["cluster", "guests", "hypervisor", "network", "storage"]
    assert {binding[0] for binding in check_docs.role_bindings()} == set(check_docs.roles())


def test_the_pass_throughs_are_found_in_the_tasks():
    found = {(role, *binding) for role in check_docs.roles() for binding in check_docs.task_bindings(role)}
    # Two that a hand-written list had missed, and one through the task's own vars.
    assert ("network", "network_prune", "libvirt_networks", "prune") in found
    assert ("storage", "storage_golden_cache_dir", "golden_image", "cache_dir") in found
    assert ("guests", "guests_list", "guests", "guests") in found
    assert ("storage", "storage_pools", "lvm_thinpool", None) in found  # items of a loop
    assert ("cluster", "cluster_name", "cluster_info", "cluster") in found
    assert ("cluster", "cluster_cpu_baseline", "cluster_info", "cpu_target") in found
    assert ("hypervisor", "hypervisor_backup_packages", "hypervisor_host", "packages") in found
    assert len(found) == 39


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
        "role cluster cluster_migrate_options ~ guest_migrate: its description names C(compress), which is "
        "not an option of guest_migrate"]


def test_a_pass_through_the_tasks_show_is_not_listed_by_hand(monkeypatch, specs):
    monkeypatch.setattr(check_docs, "INDIRECT_BINDINGS",
                        [*check_docs.INDIRECT_BINDINGS, ("guests", "guests_uri", "guests", "uri")])
    assert check_docs.role_disagreements(specs) == [
        "role guests: INDIRECT_BINDINGS lists guests_uri -> guests uri, which the tasks pass straight"]


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
