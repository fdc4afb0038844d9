"""Role argument specs agree with the module options they pass through (issue 15).

Each binding names a role option and the module option the role's tasks hand it to; list
options whose items are a module's options (storage_pools -> lvm_thinpool) are compared key
by key. Type, elements, choices and default must match, and an item key must exist in the
module. Where a role differs on purpose, EXPECTED says why.
"""

import re

import yaml

from ansible_collections.openblade.kvm.tests.unit.repo_tools import ROOT, load_tool

# (role, role option, module, module option); module option None: the items of the role's
# list are the module's own options.
BINDINGS = [
    ("hypervisor", "hypervisor_packages", "hypervisor_host", "packages"),
    ("hypervisor", "hypervisor_apt_update_cache", "hypervisor_host", "update_cache"),
    ("hypervisor", "hypervisor_kernel_modules", "hypervisor_host", "kernel_modules"),
    ("network", "network_trunk", "partitions", "trunk"),
    ("network", "network_partitions", "partitions", "partitions"),
    ("network", "network_bond_name", "partitions", "bond_name"),
    ("network", "network_bond_mode", "partitions", "bond_mode"),
    ("network", "network_bond_miimon", "partitions", "bond_miimon"),
    ("network", "network_bond_xmit_hash_policy", "partitions", "bond_xmit_hash_policy"),
    ("network", "network_trunk_mtu", "partitions", "trunk_mtu"),
    ("network", "network_bridge_prefix", "partitions", "bridge_prefix"),
    ("network", "network_prune", "partitions", "prune"),
    ("network", "network_probe", "partitions", "probe"),
    ("network", "network_rollback_timeout", "partitions", "rollback_timeout"),
    ("network", "network_allow_management_change", "partitions", "allow_management_change"),
    ("network", "network_management_address", "partitions", "management_address"),
    ("network", "network_libvirt_uri", "libvirt_networks", "uri"),
    ("storage", "storage_pools", "lvm_thinpool", None),
    ("storage", "storage_golden_images", "golden_image", None),
    ("storage", "storage_clones", "lvm_clones", "clones"),
    ("storage", "storage_clones_allow_overcommit", "lvm_clones", "allow_overcommit"),
    ("storage", "storage_golden_read_only", "golden_image", "read_only"),
    ("guests", "guests_cluster", "guests", "cluster"),
    ("guests", "guests_uri", "guests", "uri"),
    ("guests", "guests_prune", "guests", "prune"),
    ("guests", "guests_prune_force", "guests", "prune_force"),
    ("guests", "guests_prune_force_stop", "guests", "prune_force_stop"),
    ("guests", "guests_prune_shutdown_timeout", "guests", "prune_shutdown_timeout"),
]

# (where, key): why the role differs from the module on purpose.
EXPECTED = {
    ("role storage storage_pools ~ lvm_thinpool item pvs", "required"):
        "the role only creates pools (state=present), where lvm_thinpool needs pvs",
    ("role storage storage_pools ~ lvm_thinpool item pool", "required"):
        "the role passes item.pool | default('thinpool')",
    ("role storage storage_pools ~ lvm_thinpool item pool", "default"):
        "the role passes item.pool | default('thinpool')",
    ("role storage storage_golden_images ~ golden_image item vg", "required"):
        "the role defaults it to the first entry of storage_pools",
    ("role storage storage_golden_images ~ golden_image item pool", "required"):
        "the role defaults it to the first entry of storage_pools",
    ("role storage storage_golden_images ~ golden_image item read_only", "default"):
        "the role passes item.read_only | default(storage_golden_read_only), true like the module",
    ("role storage storage_golden_images ~ golden_image item cache_dir", "default"):
        "the role passes item.cache_dir | default(storage_golden_cache_dir), the module's default",
    ("role storage storage_clones ~ lvm_clones item vg", "option"):
        "the role groups clones by vg and passes it as lvm_clones' own vg",
}


def role_options(role):
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return specs["argument_specs"]["main"]["options"]


def role_defaults(role):
    path = ROOT / "roles" / role / "defaults" / "main.yml"
    return yaml.safe_load(path.read_text()) or {} if path.exists() else {}


def forwarded(role, module, option):
    """{module argument: item keys its value reads} of the role task that loops over ``option``."""
    for path in sorted((ROOT / "roles" / role / "tasks").glob("*.yml")):
        for task in yaml.safe_load(path.read_text()) or []:
            args = task.get(f"openblade.kvm.{module}")
            if args is not None and option in str(task.get("loop", "")):
                return {arg: set(re.findall(r"\bitem\.(\w+)", str(value))) for arg, value in args.items()}
    return None


def compare(where, role_option, module_option, problems, keys=("type", "elements", "choices")):
    for key in keys:
        in_role = role_option.get(key, "str" if key == "type" else None)
        in_module = module_option.get(key, "str" if key == "type" else None)
        if in_role != in_module and (where, key) not in EXPECTED:
            problems.append(f"{where}: {key} is {in_role!r} in the role but {in_module!r} in the module")


def disagreements():
    check_docs = load_tool("check_docs.py")
    specs = {}
    problems = []
    for role, option, module, module_option in BINDINGS:
        if module not in specs:
            specs[module] = check_docs.argument_spec(module)
        role_spec = role_options(role).get(option)
        where = f"role {role} {option} ~ {module}"
        if role_spec is None:
            problems.append(f"{where}: {option} is not in the role's argument spec")
            continue
        if module_option is None:
            items = specs[module]
        else:
            target = specs[module].get(module_option)
            if target is None:
                problems.append(f"{where}: {module} has no option {module_option}")
                continue
            compare(f"{where} {module_option}", role_spec, target, problems)
            items = target.get("options")
        # The role's own default (defaults/main.yml) is its choice, but its spec must say it.
        own = role_defaults(role)
        if "default" in role_spec and option in own and own[option] != role_spec["default"]:
            problems.append(f"role {role} {option}: default is {role_spec['default']!r} in the argument spec "
                            f"but {own[option]!r} in defaults/main.yml")
        if items is None:
            continue
        passed = forwarded(role, module, option) if module_option is None else None
        if passed is not None:
            for arg, keys in passed.items():
                for key in keys - {arg}:
                    problems.append(f"{where}: item key {key} is passed as the module's {arg}")
        for key, sub in (role_spec.get("options") or {}).items():
            sub_where = f"{where} item {key}"
            if key not in items:
                if (sub_where, "option") not in EXPECTED:
                    problems.append(f"{sub_where}: not an option of {module}")
                continue
            if passed is not None and key not in passed.get(key, ()):
                problems.append(f"{sub_where}: documented by the role but never passed to {module}")
            compare(sub_where, sub, items[key], problems,
                    ("type", "elements", "choices", "default", "required"))
    return problems


def test_role_specs_agree_with_module_specs():
    problems = disagreements()
    assert problems == [], "\n".join(problems)


def test_a_choice_the_module_lacks_is_listed(monkeypatch):
    real = role_options

    def changed(role):
        options = real(role)
        if role == "storage":
            options["storage_golden_images"]["options"]["format"]["choices"] = ["raw", "qcow2", "vmdk"]
        return options

    monkeypatch.setitem(globals(), "role_options", changed)
    assert disagreements() == [
        "role storage storage_golden_images ~ golden_image item format: choices is ['raw', 'qcow2', 'vmdk'] "
        "in the role but ['raw', 'qcow2'] in the module"]


def test_a_documented_key_the_task_drops_is_listed(monkeypatch):
    real = forwarded

    def dropped(role, module, option):
        passed = real(role, module, option)
        if module == "golden_image":
            del passed["checksum"]
            passed["size"] = {"checksum"}
        return passed

    monkeypatch.setitem(globals(), "forwarded", dropped)
    assert disagreements() == [
        "role storage storage_golden_images ~ golden_image: item key checksum is passed as the module's size",
        "role storage storage_golden_images ~ golden_image item checksum: documented by the role but never "
        "passed to golden_image",
        "role storage storage_golden_images ~ golden_image item size: documented by the role but never "
        "passed to golden_image"]
