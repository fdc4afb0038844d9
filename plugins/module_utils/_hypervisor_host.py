# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Debian host made a KVM hypervisor in one reconcile: packages, kernel modules, the
libvirtd drop-in and service, then the facts that say what the host can run.

One module call instead of six tasks (apt, modules, service, directory, file, facts):
on a TCG lab blade every task costs seconds of Python start-up and a round trip, and
a no-change run should cost one.
"""

from __future__ import annotations

import re

from ansible_collections.openblade.kvm.plugins.module_utils._files import read_text, write_atomic
from ansible_collections.openblade.kvm.plugins.module_utils._host import (
    KernelModules,
    hypervisor_facts,
    libvirt_connector,
)
from ansible_collections.openblade.kvm.plugins.module_utils._lock import resource_lock
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    Plan,
    ReconcileError,
    Resource,
)
from ansible_collections.openblade.kvm.plugins.module_utils._runner import CommandError

SERVICE = "libvirtd"
DROP_IN = "/etc/systemd/system/libvirtd.service.d/openblade-kvm.conf"
# Debian starts libvirtd with --timeout 120, so it exits when idle and is socket-activated
# again: its state would flap between runs.  A hypervisor keeps it up.
DROP_IN_CONTENT = (
    "# Managed by openblade.kvm (hypervisor role); local edits are overwritten.\n"
    "[Service]\n"
    "Environment=LIBVIRTD_ARGS=\n"
)
# Debian policy 5.6.1: lower case letters, digits, + - . ; at least two characters.
PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$")
APT_GET = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "-y",
           "-o", "DPkg::Lock::Timeout=120"]


class HypervisorHost(Resource):
    """Packages installed, kernel modules loaded and persisted, libvirtd enabled and running
    with our drop-in; ``result`` adds the host's facts, read after the changes."""

    def __init__(self, runner, packages, kernel_modules, update_cache=False,
                 persist_file="/etc/modules-load.d/openblade-kvm.conf", uri="qemu:///system",
                 drop_in=DROP_IN, read_file=read_text, connect=None, lock_dir=None, proc_root="/"):
        bad = [name for name in packages if not PACKAGE_NAME.match(str(name))]
        if bad:
            raise ReconcileError(
                "packages: {} is not a Debian package name (lower-case letters, digits, '+', "
                "'-' and '.', at least 2 characters, optionally ':arch')".format(
                    ", ".join(repr(name) for name in bad)))
        self.runner = runner
        self.packages = sorted(set(packages))
        self.update_cache = update_cache
        self.modules = KernelModules(runner, kernel_modules, persist_file, proc_root)
        self.uri = uri
        self.drop_in = drop_in
        self.read_file = read_file
        self.connect = connect
        self.lock_kwargs = {"lock_dir": lock_dir} if lock_dir else {}

    def lock(self):
        return resource_lock("host", "hypervisor", **self.lock_kwargs)

    # --- observe ----------------------------------------------------------------------------

    def _installed(self):
        if not self.packages:
            return []
        # rc 1 means some name is not known to dpkg at all: not installed, which is an answer.
        result = self.runner.run(["dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\n",
                                  *self.packages], check=False)
        if result.rc not in (0, 1):
            raise CommandError(["dpkg-query", "-W", *self.packages], result.rc, result.stdout, result.stderr)
        installed = set()
        for line in result.stdout.splitlines():
            name, _sep, status = line.partition("\t")
            if status.startswith("ii"):
                installed.add(name.split(":")[0])
        return sorted(installed & set(self.packages))

    def _service(self):
        result = self.runner.run(["systemctl", "show", SERVICE,
                                  "--property=LoadState,UnitFileState,ActiveState"])
        props = dict(line.partition("=")[::2] for line in result.stdout.splitlines() if "=" in line)
        return {"enabled": props.get("UnitFileState") == "enabled",
                "running": props.get("ActiveState") == "active"}

    def observe(self):
        return {
            "packages": self._installed(),
            "kernel_modules": self.modules.observe(),
            "drop_in": self.read_file(self.drop_in),
            "service": self._service(),
        }

    def desired(self, current):
        return {
            "packages": list(self.packages),
            "kernel_modules": self.modules.desired(current["kernel_modules"]),
            "drop_in": DROP_IN_CONTENT,
            "service": {"enabled": True, "running": True},
        }

    # --- plan -------------------------------------------------------------------------------

    def plan(self, current, desired):
        plan = Plan()
        missing = [name for name in desired["packages"] if name not in current["packages"]]
        if missing:
            if self.update_cache:
                plan.add("refresh the apt cache", lambda: self.runner.run(APT_GET + ["update"]))
            plan.add("install packages " + " ".join(missing),
                     lambda: self.runner.run(APT_GET + ["install", "--no-install-recommends", *missing]))
        plan.actions += self.modules.plan(current["kernel_modules"], desired["kernel_modules"]).actions
        drop_in_changes = current["drop_in"] != desired["drop_in"]
        if drop_in_changes:
            verb = "create" if current["drop_in"] is None else "update"
            plan.add(f"{verb} {self.drop_in}",
                     lambda: write_atomic(self.drop_in, DROP_IN_CONTENT, what="libvirtd drop-in"))
            plan.add("reload systemd units", lambda: self._systemctl("daemon-reload"))
        if not current["service"]["enabled"]:
            plan.add(f"enable {SERVICE}", lambda: self._systemctl("enable", SERVICE))
        if drop_in_changes or missing:
            # Restarting libvirtd does not touch running guests; they keep running under QEMU.
            plan.add(f"restart {SERVICE}", lambda: self._systemctl("restart", SERVICE))
        elif not current["service"]["running"]:
            plan.add(f"start {SERVICE}", lambda: self._systemctl("start", SERVICE))
        return plan

    def _systemctl(self, *args):
        self.runner.run(["systemctl", *args])

    # --- facts ------------------------------------------------------------------------------

    def result(self, current, desired, plan, applied):
        # In check mode, facts that depend on what the plan would install or start are not
        # known yet; say so instead of reporting a host that cannot run guests.
        pending = bool(plan) and not applied and bool(
            set(desired["packages"]) - set(current["packages"]) or not current["service"]["running"])
        return {"hypervisor": hypervisor_facts(self.read_file, self._connector()),
                "facts_pending": pending}

    def _connector(self):
        return self.connect if self.connect is not None else libvirt_connector(self.uri)
