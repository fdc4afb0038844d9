"""Lab tier: tests that run against the blades `lab up` booted (make lab-up)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

LAB_DIR = Path(__file__).resolve().parents[3] / "lab"
sys.path.insert(0, str(LAB_DIR))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import blades as lab_blades  # noqa: E402
import harness  # noqa: E402


class Blade:
    """One running blade, reached over its forwarded SSH port."""

    def __init__(self, index):
        self.index = index
        self.name = lab_blades.blade_name(index)

    def run(self, command, check=True, timeout=300):
        argv = lab_blades.ssh_argv(self.index, command)
        for _attempt in range(3):
            proc = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=timeout)
            # 255: ssh could not connect (its 5 s connect timeout, on a loaded host); try again.
            if proc.returncode != 255 or proc.stdout or proc.stderr.strip():
                break
        if check and proc.returncode != 0:
            raise AssertionError(f"{self.name}: `{command}` failed with rc {proc.returncode}: "
                                 f"{proc.stderr.strip() or proc.stdout.strip()}")
        return proc

    def module(self, name, args, check=False, diff=False):
        """Run openblade.kvm.<name> on this blade through Ansible; the result dict."""
        return harness.ansible_module(name, args, host=self.name, check=check, diff=diff)

    def apply(self, name, args, diff=False, expect_failure=False):
        """Check mode, then the real run, asserting both report the same actions."""
        return harness.apply(name, args, host=self.name, diff=diff, expect_failure=expect_failure)

    def __repr__(self):
        return self.name


@pytest.fixture(scope="session")
def blades():
    running = lab_blades.running_blades()
    if not running:
        pytest.fail("no lab blades are running: run `lab/lab up --blades 2` (make lab-up) first")
    return [Blade(i) for i in running]
