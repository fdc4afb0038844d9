"""Load a script of tools/ (not a package; some names have a dash) as a module for a test."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_tool(filename):
    name = Path(filename).stem.replace("-", "_")
    loader = importlib.util.spec_from_file_location(name, ROOT / "tools" / filename)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module
