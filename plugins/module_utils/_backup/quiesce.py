# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Freezing a guest's filesystems for its snapshots, through the QEMU guest agent.

``required`` fails in :meth:`Quiesce.preflight`, before any snapshot, when a running
guest has no connected agent; ``try`` warns and the snapshot is crash-consistent;
``off`` never asks.  A shut-off guest needs no freeze: nothing writes to its disks.

The freeze is held only while the snapshots are taken, and thawed in a ``finally``
with the agent's response timeout set short.  A watchdog process, started before the
freeze in its own session, thaws the guest after the timeout if this run dies while
the guest is frozen (a SIGKILL runs no ``finally``); a normal run ends the watchdog.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import model
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.connection import RUNNING
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError

MODES = ("try", "required", "off")
AGENT_CHANNEL = "org.qemu.guest_agent.0"

WATCHDOG = """
import sys,time,libvirt
time.sleep(float(sys.argv[3]))
libvirt.open(sys.argv[1]).lookupByName(sys.argv[2]).fsThaw()
"""


def agent_connected(live_xml):
    """Whether the running guest's agent channel exists and libvirt sees it connected."""
    root = model.parse(live_xml)
    for target in root.findall("devices/channel/target"):
        if target.get("name") == AGENT_CHANNEL:
            return target.get("state") == "connected"
    return False


class Quiesce:
    def __init__(self, hv, dom, mode, timeout, state):
        self.hv = hv
        self.dom = dom
        self.mode = mode
        self.timeout = timeout
        self.state = state
        self.consistency = "shut off" if state != RUNNING else "crash-consistent"
        self.usable = False

    def preflight(self, guest):
        """Decide whether to freeze; fails (``required``) or returns a warning (``try``)."""
        if self.mode == "off" or self.state != RUNNING:
            return None
        if agent_connected(self.hv.live_xml(self.dom)):
            self.usable = True
            return None
        why = (f"guest {guest} has no connected QEMU guest agent (channel {AGENT_CHANNEL})")
        if self.mode == "required":
            raise ReconcileError(f"quiesce: required, but {why}; no snapshot was taken", guest=guest)
        return f"{why}: its snapshots are crash-consistent, not application-consistent"

    @contextlib.contextmanager
    def frozen(self, warn):
        if not self.usable:
            yield
            return
        watchdog = subprocess.Popen(  # noqa: S603 - argv list, our own interpreter
            [sys.executable, "-c", WATCHDOG, self.hv.uri, self.dom.name(), str(self.timeout * 3)],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # libvirt >= 5.10; without it the agent's default timeout applies, no reason to stop
            with contextlib.suppress(Exception):
                self.dom.agentSetResponseTimeout(self.timeout, 0)
            try:
                frozen = self.dom.fsFreeze(None, 0)
            except Exception as exc:  # noqa: BLE001 - a failed freeze must not stop the backup
                if self.mode == "required":
                    raise ReconcileError(f"quiesce: required, but the freeze failed: {exc}") from None
                warn(f"the guest agent could not freeze the filesystems ({exc}): the snapshots "
                     "are crash-consistent")
                yield
                return
            self.consistency = f"application-consistent ({frozen} filesystem(s) frozen)"
            try:
                yield
            finally:
                try:
                    self.dom.fsThaw(None, 0)
                except Exception as exc:  # noqa: BLE001 - the watchdog retries it
                    warn(f"thawing the guest's filesystems failed ({exc}); the watchdog retries "
                         f"in {self.timeout * 3}s")
                    watchdog = None
        finally:
            if watchdog is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(watchdog.pid, signal.SIGKILL)
                watchdog.wait()
