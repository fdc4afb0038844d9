# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each module's real main() and argument spec, from the YAML rows in module_tables/."""

from __future__ import annotations

import pathlib

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils import _lock
from ansible_collections.openblade.kvm.tests.unit import module_table

HERE = pathlib.Path(__file__).parent / "module_tables"
TABLES = sorted(HERE.glob("*.yaml"))
LVM_HOST = HERE / "_lvm_host.yml"


def rows():
    for path in TABLES:
        yield from module_table.load(path, LVM_HOST if path.name.startswith("lvm_") else None)


@pytest.mark.parametrize("module_name, row", list(rows()))
def test_module_row(monkeypatch, tmp_path, module_name, row):
    # Locks go to a private directory, not the host's /run/lock.
    monkeypatch.setattr(_lock.resource_lock, "__defaults__", (60, str(tmp_path)))
    module_table.run(monkeypatch, module_name, row)
