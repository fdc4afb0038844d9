"""Documentation gate, in the spirit of ansible-test's validate-modules (which cannot
bootstrap its own venvs offline):

- every module has DOCUMENTATION, EXAMPLES and RETURN that ansible-doc renders;
- every option in the argument spec is documented with the same type, default,
  choices and required flag, and nothing is documented that the spec lacks;
- every role has a README, meta/main.yml and meta/argument_specs.yml.
"""

import importlib
import json
import subprocess
import sys
from pathlib import Path

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
    for problem in problems:
        print(f"check_docs: {problem}", file=sys.stderr)
    print(f"check_docs: {len(modules)} modules, {len(filters)} filters, {len(roles)} roles, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
