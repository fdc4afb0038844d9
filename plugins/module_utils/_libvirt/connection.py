# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The only place that opens a libvirt connection.

Every call the collection makes is a method of :class:`Hypervisor` (guests, libvirt
networks, the in-use check of LVM volumes, the host's facts), and every
``libvirtError`` becomes a :class:`LibvirtFailure` naming what was being done.  The unit
tier runs the same class against libvirt's ``test:///default`` driver, and overrides only
the few calls that driver does not implement (device hotplug, ACPI shutdown).
"""

from __future__ import annotations

import importlib
import time

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import domxml, model
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError

DEFAULT_URI = "qemu:///system"

RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"

MISSING = "the libvirt Python bindings are required (Debian: python3-libvirt)"

# The bindings once imported (see bindings()).
_LOADED = {}


def bindings():
    """The ``libvirt`` module, or None when python3-libvirt is missing.

    Imported on first use, not with this file: the import alone takes a second on a slow
    host, and the LVM modules need it only before a destructive action.  A missing module
    is looked for again next time: hypervisor_host installs it in the same run that then
    reads the host's facts.
    """
    if "libvirt" not in _LOADED:
        importlib.invalidate_caches()
        try:
            _LOADED["libvirt"] = importlib.import_module("libvirt")
        except ImportError:
            return None
    return _LOADED["libvirt"]


def _state_names(libvirt):
    return {
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
    if bindings() is None:
        module.fail_json(msg=missing_required_lib("libvirt-python (Debian: python3-libvirt)"))
    if model.etree is None:
        module.fail_json(msg=missing_required_lib("lxml (Debian: python3-lxml)"))


class LibvirtFailure(ReconcileError):
    """A libvirt call failed.  ``reason`` is the failure alone (libvirt's own words), for
    callers that put it into a sentence of their own."""

    def __init__(self, message, reason=None, **details):
        super().__init__(message, **details)
        self.reason = message if reason is None else reason


class LibvirtMissing(LibvirtFailure):
    """python3-libvirt is not installed."""


class Hypervisor:
    """A libvirt connection with the operations the guest reconcile uses."""

    # How often to look at a guest that was asked to shut down.
    poll_interval = 0.25

    def __init__(self, uri=DEFAULT_URI, connection=None, readonly=False):
        libvirt = bindings()
        if libvirt is None:
            raise LibvirtMissing(MISSING, reason="python3-libvirt is not installed")
        self.lib = libvirt
        # libvirt prints every error to stderr by default, even the ones we handle
        # (a lookup of a guest that does not exist yet); ours go into the result.
        libvirt.registerErrorHandler(_ignore_error, None)
        self.uri = uri
        if connection is None:
            try:
                connection = (libvirt.openReadOnly if readonly else libvirt.open)(uri)
            except self.lib.libvirtError as exc:
                raise LibvirtFailure(f"cannot connect to libvirt at {uri}: {_message(exc)}",
                                     reason=_message(exc), uri=uri) from None
        self.conn = connection

    def call(self, what, function, *args):
        """``function(*args)``; a libvirtError becomes a LibvirtFailure saying ``what`` failed."""
        try:
            return function(*args)
        except self.lib.libvirtError as exc:
            raise LibvirtFailure(f"{what}: {_message(exc)}", reason=_message(exc)) from None

    _call = call  # the name the migration (_libvirt/migrate.py) calls it by

    def close(self):
        self.conn.close()

    # --- reading ---------------------------------------------------------------------------

    def lookup(self, name):
        try:
            return self.conn.lookupByName(name)
        except self.lib.libvirtError as exc:
            if exc.get_error_code() == self.lib.VIR_ERR_NO_DOMAIN:
                return None
            raise LibvirtFailure(f"look up guest {name}: {_message(exc)}") from None

    def network_exists(self, name):
        try:
            self.conn.networkLookupByName(name)
        except self.lib.libvirtError as exc:
            if exc.get_error_code() == self.lib.VIR_ERR_NO_NETWORK:
                return False
            raise LibvirtFailure(f"look up network {name}: {_message(exc)}") from None
        return True

    def domains(self):
        return self.call("list guests", self.conn.listAllDomains, 0)

    def disk_paths(self, dom, running):
        """Every path the guest's disks name: in its config and, while it runs, in its live
        XML (a hot-plugged disk); backing chains included, storage volumes resolved."""
        xmls = [self.inactive_xml(dom)] + ([self.live_xml(dom)] if running else [])
        paths = set()
        for xml in xmls:
            for node in model.parse(xml).iterfind("devices/disk"):
                found, volumes = domxml.disk_sources(node)
                paths |= found | {self.volume_path(*volume) for volume in volumes}
        paths.discard(None)
        return paths

    def volume_path(self, pool, volume):
        """The path of a libvirt storage volume, or None when it cannot be resolved."""
        try:
            return self.conn.storagePoolLookupByName(pool).storageVolLookupByName(volume).path()
        except self.lib.libvirtError:
            return None

    def networks(self, what="list networks"):
        return self.call(what, self.conn.listAllNetworks)

    def version(self):
        """libvirt's version as 'major.minor.micro'."""
        major, rest = divmod(self.call("read the libvirt version", self.conn.getLibVersion), 1000000)
        minor, micro = divmod(rest, 1000)
        return f"{major}.{minor}.{micro}"

    def capabilities(self):
        return self.call("read the host capabilities", self.conn.getCapabilities)

    def inactive_xml(self, dom):
        return self.call(f"read the config of {dom.name()}", dom.XMLDesc,
                         self.lib.VIR_DOMAIN_XML_INACTIVE)

    def live_xml(self, dom):
        return self.call(f"read the live XML of {dom.name()}", dom.XMLDesc, 0)

    def state(self, dom):
        code = self.call(f"read the state of {dom.name()}", dom.state)[0]
        return _state_names(self.lib).get(code, STOPPED)

    def is_active(self, dom):
        return bool(self.call(f"read the state of {dom.name()}", dom.isActive))

    def autostart(self, dom):
        return bool(self.call(f"read autostart of {dom.name()}", dom.autostart))

    def snapshot_count(self, dom):
        return self.call(f"count snapshots of {dom.name()}", dom.snapshotNum, 0)

    def has_managed_save(self, dom):
        return bool(self.call(f"look for a managed save of {dom.name()}",
                              dom.hasManagedSaveImage, 0))

    # --- changing ----------------------------------------------------------------------------

    def define(self, xml):
        name = model.parse(xml).findtext("name")
        return self.call(f"define guest {name}", self.conn.defineXML, xml)

    def define_network(self, xml, what="define a network"):
        return self.call(what, self.conn.networkDefineXML, xml)

    def undefine(self, dom, snapshots=False, managed_save=False, nvram=None):
        """Drop the definition; disks are never touched.

        libvirt refuses a guest with snapshots, a managed save or NVRAM unless told what
        to do with them; we pass only the flags for what the guest has (``nvram`` is
        'keep' or 'remove'), so nothing is discarded by accident.
        """
        flags = 0
        if snapshots:
            flags |= self.lib.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
        if managed_save:
            flags |= self.lib.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
        if nvram == "keep":
            flags |= self.lib.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM
        elif nvram == "remove":
            flags |= self.lib.VIR_DOMAIN_UNDEFINE_NVRAM
        self.call(f"undefine {dom.name()}", dom.undefineFlags, flags)

    def start(self, dom, paused=False):
        flags = self.lib.VIR_DOMAIN_START_PAUSED if paused else 0
        self.call(f"start {dom.name()}", dom.createWithFlags, flags)

    def suspend(self, dom):
        self.call(f"pause {dom.name()}", dom.suspend)

    def resume(self, dom):
        self.call(f"resume {dom.name()}", dom.resume)

    def set_autostart(self, dom, enabled):
        self.call(f"set autostart of {dom.name()}", dom.setAutostart, 1 if enabled else 0)

    def shutdown_acpi(self, dom):
        self.call(f"shut down {dom.name()}", dom.shutdownFlags,
                  self.lib.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)

    def destroy(self, dom):
        self.call(f"power off {dom.name()}", dom.destroy)

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
        self.call(f"set memory of running {dom.name()}", dom.setMemoryFlags, mib * 1024,
                  self.lib.VIR_DOMAIN_AFFECT_LIVE)

    def set_vcpus_live(self, dom, count):
        self.call(f"set vCPUs of running {dom.name()}", dom.setVcpusFlags, count,
                  self.lib.VIR_DOMAIN_AFFECT_LIVE)

    def attach_live(self, dom, device_xml):
        self.call(f"hotplug a device into {dom.name()}", dom.attachDeviceFlags, device_xml,
                  self.lib.VIR_DOMAIN_AFFECT_LIVE)

    def detach_live(self, dom, device_xml):
        self.call(f"unplug a device from {dom.name()}", dom.detachDeviceFlags, device_xml,
                  self.lib.VIR_DOMAIN_AFFECT_LIVE)


def _ignore_error(_context, _error):
    return None


def _message(exc):
    return exc.get_error_message() or str(exc)
