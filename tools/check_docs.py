#!/usr/bin/env python3
"""Documentation gate: every module has DOCUMENTATION, EXAMPLES and RETURN that
ansible-doc can render, and every role has a README and argument specs."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    problems = []
    modules = sorted(p.stem for p in (ROOT / "plugins/modules").glob("*.py") if p.stem != "__init__")
    names = [f"openblade.kvm.{m}" for m in modules]
    out = subprocess.run(["ansible-doc", "--json", *names], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        problems.append(f"ansible-doc failed: {out.stderr.strip()}")
        docs = {}
    else:
        docs = json.loads(out.stdout)
    for name in names:
        entry = docs.get(name, {})
        if not entry.get("doc", {}).get("description"):
            problems.append(f"{name}: DOCUMENTATION missing or has no description")
        if not (entry.get("examples") or "").strip():
            problems.append(f"{name}: EXAMPLES missing")
        if not entry.get("return"):
            problems.append(f"{name}: RETURN missing")
    for role in sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir()):
        for required in ("README.md", "meta/argument_specs.yml", "meta/main.yml"):
            if not (role / required).exists():
                problems.append(f"role {role.name}: {required} missing")
    for problem in problems:
        print(f"check_docs: {problem}", file=sys.stderr)
    print(f"check_docs: {len(modules)} modules, "
          f"{sum(1 for p in (ROOT / 'roles').iterdir() if p.is_dir())} roles, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
