# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write each task result as JSON to $OPENBLADE_RESULT_FILE (the host tier reads it).

ansible-core 2.19 no longer ships a json stdout callback (it moved to ansible.posix),
and the minimal callback prints failures as text, so the harness brings its own.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: result_file
type: aggregate
short_description: Write task results as JSON to a file (test harness)
description:
  - Appends one JSON document per task result to the file named by E(OPENBLADE_RESULT_FILE).
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "result_file"
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, result, failed):
        # The executor keeps 'failed' out of the result dict it hands to callbacks.
        data = dict(result._result, failed=failed, _host=result._host.get_name(),
                    _task=result._task.get_name(), _action=result._task.action)
        with open(os.environ["OPENBLADE_RESULT_FILE"], "a") as handle:
            handle.write(json.dumps(data, default=str) + "\n")

    def v2_runner_on_ok(self, result):
        self._write(result, failed=False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, failed=True)

    def v2_runner_on_unreachable(self, result):
        # A failure to the tests too, with unreachable: true (a blade that went away, or a
        # killed module under Mitogen, whose modules run inside its one Python per host).
        self._write(result, failed=True)
