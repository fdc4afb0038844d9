"""No module reaches into another module's private helpers (issue 15).

A name with a leading underscore is private to the file that defines it. The collection's
module_utils files are themselves private to the collection (``_validate``, ``_net``) and are
imported by name; what must not cross a file boundary is a private name inside one: ``from
.._net.partitions import _partition`` or ``validate._as_int(...)``.
"""

import ast
import importlib.util
import pathlib

from ansible_collections.openblade.kvm.tests.unit.repo_tools import ROOT

PACKAGE = "ansible_collections.openblade.kvm."


def is_module(dotted):
    """Whether ``dotted`` (an import inside the collection) names a file or package of it."""
    path = ROOT / pathlib.Path(*dotted[len(PACKAGE):].split("."))
    return path.with_suffix(".py").exists() or path.is_dir()


def reaches(source, filename="<text>"):
    """Each private name of another file that ``source`` imports or reads, as 'line: what'."""
    tree = ast.parse(source, filename)
    modules, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE):
            for alias in node.names:
                if is_module(f"{node.module}.{alias.name}"):
                    modules.add(alias.asname or alias.name)  # a file of the collection, by its name
                elif alias.name.startswith("_"):
                    found.append(f"{node.lineno}: imports {alias.name} from {node.module}")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append(f"{node.lineno}: reads {node.value.id}.{node.attr}")
    return found


def test_no_file_uses_another_files_private_names():
    found = []
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        found += [f"{path.relative_to(ROOT)}:{where}" for where in reaches(path.read_text(), str(path))]
    assert found == []


def test_the_check_finds_both_ways_in():
    source = ("from ansible_collections.openblade.kvm.plugins.module_utils import _validate as validate\n"
              "from ansible_collections.openblade.kvm.plugins.module_utils._net.partitions import (\n"
              "    _stale_specs, partition_layout)\n"
              "validate.as_int(1) or validate._as_int(1)\n")
    assert reaches(source) == [
        "2: imports _stale_specs from ansible_collections.openblade.kvm.plugins.module_utils._net.partitions",
        "4: reads validate._as_int"]
    assert importlib.util.find_spec(PACKAGE + "plugins.module_utils._validate") is not None
