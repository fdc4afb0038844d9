# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test doubles for the unit tier: no process is ever started."""

from __future__ import annotations

import json

from ansible_collections.openblade.kvm.plugins.module_utils._runner import (
    CommandResult,
    Runner,
)


class FakeRunner(Runner):
    """A Runner whose commands answer from a table instead of a host.

    ``table`` maps argv tuples to ``(rc, stdout, stderr)``; a dict or list stdout is
    JSON-encoded, so tables can hold what ``lvs --reportformat json`` would print.
    Every argv run is appended to ``calls`` (and its stdin to ``inputs``).  An argv
    missing from the table fails the test, naming the argv, because a module that runs
    a command nobody expected is a bug.  ``binaries`` answers ``exists()``; by default
    it is every program named in the table.
    """

    def __init__(self, table, binaries=None):
        super().__init__(module=None)
        self.table = {tuple(argv): answer for argv, answer in table.items()}
        self.binaries = set(binaries) if binaries is not None else {a[0] for a in self.table}
        self.calls = []
        self.inputs = []

    def exists(self, binary):
        return binary in self.binaries

    def _execute(self, argv, data):
        key = tuple(argv)
        self.calls.append(key)
        self.inputs.append(data)
        if key not in self.table:
            raise AssertionError(f"unexpected command: {key!r} (not in the FakeRunner table)")
        rc, stdout, stderr = self.table[key]
        if not isinstance(stdout, str):
            stdout = json.dumps(stdout)
        return CommandResult(rc, stdout, stderr)
