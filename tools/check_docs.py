"""Documentation gate, in the spirit of ansible-test's validate-modules (which cannot
bootstrap its own venvs offline):

- every module has DOCUMENTATION, EXAMPLES and RETURN that ansible-doc renders;
- every option in the argument spec is documented with the same type, default,
  choices and required flag, and nothing is documented that the spec lacks;
- every role has a README, meta/main.yml and meta/argument_specs.yml;
- every role option that reaches a module option agrees with it (type, elements, choices;
  list items key by key, with default and required too): those the tasks pass straight are
  found in the tasks, so none goes unchecked; the others are listed (INDIRECT_BINDINGS);
- guest_info's RETURN documents exactly the guest fields of the field table.
"""

import copy
import functools
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".build" / "collections"))


class _Captured(Exception):
    def __init__(self, spec):
        super().__init__("argument spec captured")
        self.spec = spec


def argument_spec(module_name):
    """Run the module's main() until it builds its AnsibleModule, and keep the spec."""
    from ansible.module_utils import basic

    def capture(self, argument_spec, **kwargs):
        raise _Captured(argument_spec)

    original = basic.AnsibleModule.__init__
    basic.AnsibleModule.__init__ = capture
    try:
        module = importlib.import_module(f"ansible_collections.openblade.kvm.plugins.modules.{module_name}")
        module.main()
    except _Captured as captured:
        return captured.spec
    finally:
        basic.AnsibleModule.__init__ = original
    raise RuntimeError(f"{module_name}: main() never created an AnsibleModule")


def compare(where, spec, documented, problems):
    documented = documented or {}
    for name in sorted(set(spec) | set(documented)):
        if name not in documented:
            problems.append(f"{where}{name}: in the argument spec but not documented")
            continue
        if name not in spec:
            problems.append(f"{where}{name}: documented but not in the argument spec")
            continue
        option, doc = spec[name], documented[name]
        checks = {
            "type": (option.get("type", "str"), doc.get("type", "str")),
            "default": (option.get("default"), doc.get("default")),
            "choices": (option.get("choices"), doc.get("choices")),
            "required": (bool(option.get("required")), bool(doc.get("required"))),
            "elements": (option.get("elements"), doc.get("elements")),
        }
        for key, (in_spec, in_doc) in checks.items():
            if in_spec != in_doc:
                problems.append(f"{where}{name}: {key} is {in_spec!r} in the spec but {in_doc!r} in the docs")
        if "options" in option or "suboptions" in doc:
            compare(f"{where}{name}.", option.get("options") or {}, doc.get("suboptions"), problems)


# --- roles agree with the modules they pass options to (issue 15) -----------------------------------

# (role, role option, module, module option): a role option that reaches a module option other
# than straight from a task (through a fact, a filter, another role), which the tasks do not show.
# Module option None: the items of the role's list (or the keys of its dict) are the module's own
# options.  What the tasks pass straight is found in them (task_bindings).
INDIRECT_BINDINGS = [
    # Through the plan's guests_list to the guests role, and through each move to guest_migrate.
    ("cluster", "cluster_guests", "guests", "guests"),
    ("cluster", "cluster_uri", "guest_migrate", "uri"),
    ("cluster", "cluster_cpu_ratio", "guest_migrate", "cpu_ratio"),
    ("cluster", "cluster_memory_reserve_mib", "guest_migrate", "memory_reserve_mib"),
    ("cluster", "cluster_migration_host", "guest_migrate", "destination"),
    ("cluster", "cluster_migration_address", "guest_migrate", "migration_address"),
    ("cluster", "cluster_migrate_options", "guest_migrate", None),
]

# (where, key): why the role differs from the module on purpose.
ROLE_EXPECTED = {
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
    ("role guests guests_defaults ~ guests guests", "type"):
        "merged under every item of guests_list, so a dict of the items' options",
    ("role guests guests_defaults ~ guests guests", "elements"):
        "merged under every item of guests_list, so a dict of the items' options",
    ("role cluster cluster_migrate_options ~ guest_migrate", "type"):
        "a dict of further guest_migrate options, merged into every move",
    **{("role cluster cluster_guests ~ guests item " + key, "option"):
       "placement's own key; the plan turns it into the guest's options" for key in
       ("image", "partitions", "disk_size", "blade", "anti_affinity", "user_data", "domain")},
    ("role cluster cluster_cpu_baseline ~ cluster_info cpu_target", "type"):
        "a switch: with it the role passes the guests' domain type, arch and machine as cpu_target",
    ("role cluster cluster_guests ~ guests item state", "default"):
        "the plan starts a cluster's guests (running); a lone guests item defaults to present",
}


def _lines(description):
    return [description] if isinstance(description, str) else list(description or [])


@functools.cache
def _role_spec(role):
    return yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())


def role_options(role):
    return copy.deepcopy(_role_spec(role)["argument_specs"]["main"]["options"])


def role_defaults(role):
    path = ROOT / "roles" / role / "defaults" / "main.yml"
    return yaml.safe_load(path.read_text()) or {} if path.exists() else {}


@functools.cache
def role_tasks(role):
    """Every task of the role's task files, blocks opened (parsed once: YAML is slow)."""
    todo, tasks = [], []
    for path in sorted((ROOT / "roles" / role / "tasks").glob("*.yml")):
        todo += yaml.safe_load(path.read_text()) or []
    while todo:
        task = todo.pop(0)
        for key in ("block", "rescue", "always"):
            todo += task.get(key) or []
        tasks.append(task)
    return tuple(tasks)


def module_calls(role):
    """(module, args, loop, task vars) of every task that calls one of the collection's modules."""
    for task in role_tasks(role):
        for key, args in task.items():
            if key.startswith("openblade.kvm.") and isinstance(args, dict):
                yield key.rsplit(".", 1)[1], args, str(task.get("loop", "")), task.get("vars") or {}


def roles():
    return sorted(path.name for path in (ROOT / "roles").iterdir() if (path / "tasks").is_dir())


def role_bindings():
    """Every (role, role option, module, module option) to compare: found in the tasks, or indirect."""
    found = {(role, *binding) for role in roles() for binding in task_bindings(role)}
    return sorted(found | set(INDIRECT_BINDINGS), key=str)


def task_bindings(role):
    """{(role option, module, module option)} that the role's tasks pass straight; module option
    None for a loop over the option whose items' keys become the module's options."""
    options = set(role_options(role))
    found = set()
    for module, args, loop, task_vars in module_calls(role):
        looped = re.fullmatch(r"\{\{\s*(\w+)\s*\}\}", loop.strip())
        for arg, value in args.items():
            text = str(value)
            # One level of the task's own vars (guests: "{{ __guests_here }}").
            text += "".join(str(task_vars[name]) for name in re.findall(r"\b(\w+)\b", text)
                            if name in task_vars)
            for name in set(re.findall(r"\b(\w+)\b", text)) & options:
                found.add((name, module, arg))
            if looped and looped.group(1) in options and re.search(r"\bitem\.\w+", text):
                found.add((looped.group(1), module, None))
    return found


def forwarded(role, module, option):
    """{module argument: item keys its value reads} of the role task that loops over ``option``."""
    for called, args, loop, _vars in module_calls(role):
        if called == module and option in loop:
            return {arg: set(re.findall(r"\bitem\.(\w+)", str(value))) for arg, value in args.items()}
    return None


def _expected(where, key, used):
    used.add((where, key))
    return (where, key) in ROLE_EXPECTED


def compare_role(where, role_option, module_option, problems, used, keys=("type", "elements", "choices")):
    for key in keys:
        in_role = role_option.get(key, "str" if key == "type" else None)
        in_module = module_option.get(key, "str" if key == "type" else None)
        if in_role != in_module and not _expected(where, key, used):
            problems.append(f"{where}: {key} is {in_role!r} in the role but {in_module!r} in the module")


def role_disagreements(specs=None):
    """What the roles' argument specs and the module argument specs they pass through disagree on."""
    specs = {} if specs is None else specs
    problems, used = [], set()
    bindings = role_bindings()
    problems += [f"role {role}: none of its options reaches a module option" for role in roles()
                 if not any(binding[0] == role for binding in bindings)]
    problems += [f"role {role}: INDIRECT_BINDINGS lists {option} -> {module} {module_option}, which the "
                 "tasks pass straight" for role, option, module, module_option in INDIRECT_BINDINGS
                 if (option, module, module_option) in task_bindings(role)]
    for role, option, module, module_option in bindings:
        if module not in specs:
            specs[module] = argument_spec(module)
        role_spec = role_options(role).get(option)
        where = f"role {role} {option} ~ {module}"
        if role_spec is None:
            problems.append(f"{where}: {option} is not in the role's argument spec")
            continue
        if module_option is None:
            items = specs[module]
            if role_spec.get("type") != "list":  # a dict of the module's options
                compare_role(where, role_spec, {"type": "list"}, problems, used, ("type",))
                named = re.findall(r"C\((\w+)\)", " ".join(_lines(role_spec.get("description"))))
                problems += [f"{where}: its description names C({key}), which is not an option of {module}"
                             for key in named if key not in items]
        else:
            target = specs[module].get(module_option)
            if target is None:
                problems.append(f"{where}: {module} has no option {module_option}")
                continue
            compare_role(f"{where} {module_option}", role_spec, target, problems, used)
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
                if not _expected(sub_where, "option", used):
                    problems.append(f"{sub_where}: not an option of {module}")
                continue
            if passed is not None and key not in passed.get(key, ()):
                problems.append(f"{sub_where}: documented by the role but never passed to {module}")
            compare_role(sub_where, sub, items[key], problems, used,
                         ("type", "elements", "choices", "default", "required"))
    problems += [f"{where}: ROLE_EXPECTED says its {key} differs on purpose, but it no longer differs"
                 for where, key in sorted(set(ROLE_EXPECTED) - used)]
    return problems


# --- guest_info returns the guest field table's fields -------------------------------------------

# What guest_info adds to the fields the table reads (GuestInventory.observe).
INVENTORY_KEYS = {"state": "str", "autostart": "bool", "persistent": "bool", "reboot_pending": "bool"}


def guest_return_disagreements(returned):
    """What guest_info's RETURN (as ansible-doc renders it) and the guest field table disagree on:
    every field the table reads is documented, nothing else, and a field that is also an option
    has the option's type."""
    from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import fields

    contains = ((returned or {}).get("guests") or {}).get("contains") or {}
    keys = [key for field in fields.TABLE for key in field.keys]
    options = fields.options()
    problems = [f"guest_info RETURN guests.{key}: the field table reads it, the RETURN does not document it"
                for key in keys + sorted(INVENTORY_KEYS) if key not in contains]
    problems += [f"guest_info RETURN guests.{key}: documented, but neither a field of the table nor "
                 "added by the inventory" for key in sorted(set(contains) - set(keys) - set(INVENTORY_KEYS))]
    for key in sorted(set(contains) & (set(options) | set(INVENTORY_KEYS))):
        option = dict(options.get(key) or {"type": INVENTORY_KEYS[key]})
        option["type"] = {"path": "str"}.get(option.get("type", "str"), option.get("type", "str"))
        for attribute in ("type", "elements"):
            if option.get(attribute) != contains[key].get(attribute):
                problems.append(f"guest_info RETURN guests.{key}: {attribute} is "
                                f"{contains[key].get(attribute)!r}, but {option.get(attribute)!r} in the "
                                "field table's option")
    return problems


def main():
    problems = []
    modules = sorted(p.stem for p in (ROOT / "plugins/modules").glob("*.py") if p.stem != "__init__")
    names = [f"openblade.kvm.{m}" for m in modules]
    out = subprocess.run(["ansible-doc", "--json", *names], check=False, capture_output=True, text=True,
                         cwd=ROOT)
    if out.returncode != 0:
        problems.append(f"ansible-doc failed: {out.stderr.strip()}")
    docs = json.loads(out.stdout) if out.returncode == 0 else {}
    for module, name in zip(modules, names, strict=True):
        entry = docs.get(name, {})
        doc = entry.get("doc", {})
        if not doc.get("description"):
            problems.append(f"{name}: DOCUMENTATION missing or has no description")
        if not (entry.get("examples") or "").strip():
            problems.append(f"{name}: EXAMPLES missing")
        if not entry.get("return"):
            problems.append(f"{name}: RETURN missing")
        compare(f"{name}: ", argument_spec(module), doc.get("options"), problems)
        if module == "guest_info":
            problems += guest_return_disagreements(entry.get("return"))
    filters = [f"openblade.kvm.{p.stem}" for p in sorted((ROOT / "plugins/filter").glob("*.py"))]
    if filters:
        out = subprocess.run(["ansible-doc", "-t", "filter", "--json", *filters],
                             check=False, capture_output=True, text=True, cwd=ROOT)
        rendered = json.loads(out.stdout) if out.returncode == 0 else {}
        for name in filters:
            if not rendered.get(name, {}).get("doc", {}).get("description"):
                problems.append(f"filter {name}: DOCUMENTATION missing or unreadable {out.stderr.strip()}")
    roles = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())
    for role in roles:
        for required in ("README.md", "meta/argument_specs.yml", "meta/main.yml"):
            if not (role / required).exists():
                problems.append(f"role {role.name}: {required} missing")
    problems += role_disagreements()
    for problem in problems:
        print(f"check_docs: {problem}", file=sys.stderr)
    print(f"check_docs: {len(modules)} modules, {len(filters)} filters, {len(roles)} roles, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
