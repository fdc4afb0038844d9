# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The only place that calls libvirt.

Every call the reconcile needs is a method of :class:`Hypervisor`, and every
``libvirtError`` becomes a :class:`ReconcileError` naming the guest and the operation.
The unit tier runs the same class against libvirt's ``test:///default`` driver, and
overrides only the few calls that driver does not implement (device hotplug, ACPI
shutdown).
"""

from __future__ import annotations

import time

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import model
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError

try:
    import libvirt
except ImportError:  # reported by the modules through missing_required_lib
    libvirt = None

DEFAULT_URI = "qemu:///system"

RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"

_STATE_NAMES = {}
if libvirt is not None:
    _STATE_NAMES = {
        libvirt.VIR_DOMAIN_RUNNING: RUNNING,
        libvirt.VIR_DOMAIN_BLOCKED: RUNNING,
        libvirt.VIR_DOMAIN_PAUSED: PAUSED,
        libvirt.VIR_DOMAIN_PMSUSPENDED: PAUSED,
        libvirt.VIR_DOMAIN_SHUTDOWN: RUNNING,  # shutting down, but not off yet
        libvirt.VIR_DOMAIN_SHUTOFF: STOPPED,
        libvirt.VIR_DOMAIN_CRASHED: STOPPED,
        libvirt.VIR_DOMAIN_NOSTATE: STOPPED,
    }


def require_libraries(module):
    """Fail the module readably when a Python library the target needs is missing."""
    from ansible.module_utils.basic import missing_required_lib
    if libvirt is None:
        module.fail_json(msg=missing_required_lib("libvirt-python (Debian: python3-libvirt)"))
    if model.etree is None:
        module.fail_json(msg=missing_required_lib("lxml (Debian: python3-lxml)"))


class LibvirtFailure(ReconcileError):
    """A libvirt call failed."""


class Hypervisor:
    """A libvirt connection with the operations the guest reconcile uses."""

    # How often to look at a guest that was asked to shut down.
    poll_interval = 0.25

    def __init__(self, uri=DEFAULT_URI, connection=None):
        if libvirt is None:
            raise ReconcileError("the libvirt Python bindings are required (Debian: python3-libvirt)")
        # libvirt prints every error to stderr by default, even the ones we handle
        # (a lookup of a guest that does not exist yet); ours go into the result.
        libvirt.registerErrorHandler(_ignore_error, None)
        self.uri = uri
        if connection is None:
            try:
                connection = libvirt.open(uri)
            except libvirt.libvirtError as exc:
                raise LibvirtFailure(f"cannot connect to libvirt at {uri}: {_message(exc)}",
                                     uri=uri) from None
        self.conn = connection

    def _call(self, what, function, *args):
        try:
            return function(*args)
        except libvirt.libvirtError as exc:
            raise LibvirtFailure(f"{what}: {_message(exc)}") from None

    # --- reading ---------------------------------------------------------------------------

    def lookup(self, name):
        try:
            return self.conn.lookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise LibvirtFailure(f"look up guest {name}: {_message(exc)}") from None

    def network_exists(self, name):
        try:
            self.conn.networkLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_NETWORK:
                return False
            raise LibvirtFailure(f"look up network {name}: {_message(exc)}") from None
        return True

    def domains(self):
        return self._call("list guests", self.conn.listAllDomains, 0)

    def inactive_xml(self, dom):
        return self._call(f"read the config of {dom.name()}", dom.XMLDesc,
                          libvirt.VIR_DOMAIN_XML_INACTIVE)

    def live_xml(self, dom):
        return self._call(f"read the live XML of {dom.name()}", dom.XMLDesc, 0)

    def state(self, dom):
        code = self._call(f"read the state of {dom.name()}", dom.state)[0]
        return _STATE_NAMES.get(code, STOPPED)

    def is_active(self, dom):
        return bool(self._call(f"read the state of {dom.name()}", dom.isActive))

    def autostart(self, dom):
        return bool(self._call(f"read autostart of {dom.name()}", dom.autostart))

    def snapshot_count(self, dom):
        return self._call(f"count snapshots of {dom.name()}", dom.snapshotNum, 0)

    def has_managed_save(self, dom):
        return bool(self._call(f"look for a managed save of {dom.name()}",
                               dom.hasManagedSaveImage, 0))

    # --- changing ----------------------------------------------------------------------------

    def define(self, xml):
        name = model.parse(xml).findtext("name")
        return self._call(f"define guest {name}", self.conn.defineXML, xml)

    def undefine(self, dom, snapshots=False, managed_save=False, nvram=None):
        """Drop the definition; disks are never touched.

        libvirt refuses a guest with snapshots, a managed save or NVRAM unless told what
        to do with them; we pass only the flags for what the guest has (``nvram`` is
        'keep' or 'remove'), so nothing is discarded by accident.
        """
        flags = 0
        if snapshots:
            flags |= libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
        if managed_save:
            flags |= libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
        if nvram == "keep":
            flags |= libvirt.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM
        elif nvram == "remove":
            flags |= libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
        self._call(f"undefine {dom.name()}", dom.undefineFlags, flags)

    def start(self, dom, paused=False):
        flags = libvirt.VIR_DOMAIN_START_PAUSED if paused else 0
        self._call(f"start {dom.name()}", dom.createWithFlags, flags)

    def suspend(self, dom):
        self._call(f"pause {dom.name()}", dom.suspend)

    def resume(self, dom):
        self._call(f"resume {dom.name()}", dom.resume)

    def set_autostart(self, dom, enabled):
        self._call(f"set autostart of {dom.name()}", dom.setAutostart, 1 if enabled else 0)

    def shutdown_acpi(self, dom):
        self._call(f"shut down {dom.name()}", dom.shutdownFlags,
                   libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)

    def destroy(self, dom):
        self._call(f"power off {dom.name()}", dom.destroy)

    def wait_stopped(self, dom, timeout):
        """Poll until the guest is off; False when ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.is_active(dom):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.poll_interval)

    def set_memory_live(self, dom, mib):
        self._call(f"set memory of running {dom.name()}", dom.setMemoryFlags, mib * 1024,
                   libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def set_vcpus_live(self, dom, count):
        self._call(f"set vCPUs of running {dom.name()}", dom.setVcpusFlags, count,
                   libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def attach_live(self, dom, device_xml):
        self._call(f"hotplug a device into {dom.name()}", dom.attachDeviceFlags, device_xml,
                   libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def detach_live(self, dom, device_xml):
        self._call(f"unplug a device from {dom.name()}", dom.detachDeviceFlags, device_xml,
                   libvirt.VIR_DOMAIN_AFFECT_LIVE)


def _ignore_error(_context, _error):
    return None


def _message(exc):
    return exc.get_error_message() or str(exc)
