# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run host commands as argv lists (never a shell) in the C locale, and parse JSON output.

``Runner`` goes through ``AnsibleModule.run_command`` when it has a module, and
through :func:`subprocess.run` otherwise, so lab and test code share it.  The unit
tier swaps it for ``tests/unit/fakes.FakeRunner``, which overrides ``_execute`` only.

``Command`` builds argv lists from named arguments, in the spirit of
community.general's cmd_runner::

    LVCREATE = Command("lvcreate", options={"size": Opt("-L"), "name": Opt("-n"),
                                            "thin": Flag("--thin")})
    LVCREATE.argv(size="10g", name="x", thin=True, positional=["vg/pool"])
    # -> ["lvcreate", "-L", "10g", "-n", "x", "--thin", "vg/pool"]
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
)

# Tools translate messages and number formats otherwise, and we parse their output.
C_LOCALE = {"LC_ALL": "C", "LANG": "C"}

_EXCERPT_LINES = 5
_EXCERPT_CHARS = 600


@dataclass(frozen=True)
class CommandResult:
    rc: int
    stdout: str
    stderr: str


class CommandError(ReconcileError):
    """A command failed, could not start, or printed something we cannot parse."""

    def __init__(self, argv, rc, stdout="", stderr="", problem=None):
        self.argv = [str(word) for word in argv]
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        if problem is None:
            problem = f"failed with rc {rc}: {_excerpt(stderr) or _excerpt(stdout) or 'no output'}"
        super().__init__(
            f"command `{shlex.join(self.argv)}` {problem}",
            cmd=self.argv, rc=rc, stdout=stdout, stderr=stderr,
        )


def _excerpt(text):
    """The first few non-empty lines: enough to read in a one-line Ansible error."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    excerpt = "; ".join(lines[:_EXCERPT_LINES])
    if len(excerpt) > _EXCERPT_CHARS:
        excerpt = excerpt[:_EXCERPT_CHARS] + "..."
    return excerpt


def _checked_argv(argv):
    if isinstance(argv, (str, bytes)):
        raise TypeError(f"argv must be a list of words, not a string (no shell is used): {argv!r}")
    words = []
    for word in argv:
        # bool is an int subclass; True would silently become "True".
        if isinstance(word, bool) or not isinstance(word, (str, int)):
            raise TypeError(f"argv words must be str or int, got {word!r} in {argv!r}")
        words.append(str(word))
    if not words:
        raise ValueError("argv must not be empty")
    return words


class Runner:
    """Runs argv lists in the C locale; ``module`` is an AnsibleModule or None."""

    def __init__(self, module=None):
        self.module = module

    def run(self, argv, check=True, data=None):
        """Run ``argv``; with ``check``, a non-zero rc raises :class:`CommandError`."""
        argv = _checked_argv(argv)
        result = self._execute(argv, data)
        if check and result.rc != 0:
            raise CommandError(argv, result.rc, result.stdout, result.stderr)
        return result

    def json(self, argv, data=None):
        """Run ``argv`` (which must succeed) and return its stdout parsed as JSON."""
        result = self.run(argv, data=data)
        try:
            return json.loads(result.stdout)
        except ValueError as exc:
            raise CommandError(
                argv, result.rc, result.stdout, result.stderr,
                problem=f"printed output that is not JSON ({exc}): "
                f"{_excerpt(result.stdout) or 'empty output'}",
            ) from None

    def exists(self, binary):
        """Whether ``binary`` is on PATH, i.e. whether ``run`` could start it."""
        return shutil.which(binary) is not None

    def _execute(self, argv, data):
        """The only place that starts a process.  Returns a :class:`CommandResult`."""
        try:
            if self.module is not None:
                rc, stdout, stderr = self.module.run_command(
                    argv,
                    check_rc=False,
                    environ_update=dict(C_LOCALE),
                    data=data,
                    # Send data exactly as given (run_command appends a newline otherwise).
                    binary_data=True,
                    # Keep argv literal: run_command would expand ~ and $VARS in every word.
                    expand_user_and_vars=False,
                    # Raise instead of fail_json, so a missing binary is a CommandError too.
                    handle_exceptions=False,
                )
            else:
                proc = subprocess.run(
                    argv, input=data, capture_output=True, text=True, check=False,
                    env={**os.environ, **C_LOCALE},
                )
                rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        except OSError as exc:
            # Same codes a shell uses: 127 not found, 126 found but not executable.
            rc = 127 if isinstance(exc, FileNotFoundError) else 126
            raise CommandError(argv, rc, problem=f"could not be started: {exc}") from None
        return CommandResult(rc, stdout, stderr)


class Opt:
    """An option with a value: ``Opt("-L")`` renders ``["-L", value]``.

    A flag ending in ``=`` is joined to its value (``Opt("--size=")`` -> ``--size=10g``),
    and a list or tuple value repeats the option once per item (``--addtag a --addtag b``).
    """

    def __init__(self, flag):
        self.flag = flag

    def render(self, value):
        values = value if isinstance(value, (list, tuple)) else [value]
        words = []
        for item in values:
            if self.flag.endswith("="):
                words.append(self.flag + str(item))
            else:
                words += [self.flag, item]
        return words


class Flag:
    """A switch that is present when its value is true: ``Flag("--thin")``."""

    def __init__(self, flag):
        self.flag = flag

    def render(self, value):
        return [self.flag] if value else []


class Command:
    """A command and its named options; ``argv()`` renders them in declaration order.

    Options whose value is None are left out, so callers can pass module params as they are.
    """

    def __init__(self, *words, options=None):
        self.words = list(words)
        self.options = dict(options or {})

    def argv(self, positional=(), **values):
        unknown = sorted(set(values) - set(self.options))
        if unknown:
            raise TypeError(f"{self.words[0]} has no option(s) {', '.join(unknown)}")
        argv = list(self.words)
        for name, spec in self.options.items():
            if values.get(name) is not None:
                argv += spec.render(values[name])
        if isinstance(positional, str):
            positional = [positional]
        argv += list(positional)
        return _checked_argv(argv)
