# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The managed guest fields, declared once.

Each entry of :data:`TABLE` is one managed part of a guest and gives, in one place:

- the guest options it takes (its piece of the argument spec, and its docs);
- whether it is managed always or only when its option is given;
- how its value is built from the validated options (and checked, before anything runs);
- how it is read from and written to a domain XML, and its XPaths;
- when a change of it can take effect on a running guest (live, next boot, config, impossible).

The argument spec (:mod:`.spec`), the field reader and writer (:mod:`.model`), the change
classifier (:mod:`.classify`) and the doc fragment (``tools/guest-docs.py``) are all built
from this table, so adding a field is one entry here plus its tests.  The table's order is
the order changes are compared and reported in.
"""

from __future__ import annotations

import re

from ansible_collections.openblade.kvm.plugins.module_utils import _validate as validate
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import domxml, identity, seed

LIVE = "live"
NEXT_BOOT = "next_boot"
IMPOSSIBLE = "impossible"
CONFIG = "config"

DISK_BUSES = ("virtio", "scsi", "sata", "ide", "usb")
CACHE_MODES = ("default", "none", "writethrough", "writeback", "directsync", "unsafe")
CPU_MODES = ("host-passthrough", "host-model", "custom", "maximum")
CPU_FEATURE_POLICIES = ("force", "require", "optional", "disable", "forbid")
_CPU_FEATURE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")

DISK_SPEC = dict(
    path=dict(type="path", required=True),
    type=dict(type="str", default="auto", choices=["auto", "file", "block"]),
    device=dict(type="str", default="disk", choices=["disk", "cdrom"]),
    format=dict(type="str", default="raw", choices=["raw", "qcow2"]),
    bus=dict(type="str", choices=list(DISK_BUSES)),
    cache=dict(type="str", default="default", choices=list(CACHE_MODES)),
    target=dict(type="str"),
    boot_order=dict(type="int"),
    readonly=dict(type="bool", default=False),
)

NIC_SPEC = dict(
    partition=dict(type="str"),
    bridge=dict(type="str"),
    model=dict(type="str", default="virtio"),
    mac=dict(type="str"),
)

# user_data carries passwords and keys: no_log keeps it out of the invocation, the result
# and the target's log (the diff only ever shows the seed's digest).
CLOUD_INIT_SPEC = dict(
    user_data=dict(type="raw", no_log=True),
    meta_data=dict(type="raw"),
    network_config=dict(type="raw"),
    iso_path=dict(type="path"),
)


def always(params):
    return True


def given(option):
    """Managed only when the user sets ``option``: otherwise libvirt's (or an
    administrator's) value is left alone."""
    return lambda params: params.get(option) is not None


def impossible(why):
    return lambda before, after, limits: (IMPOSSIBLE, why)


class Field:
    """One entry of the table; see the module docstring.

    ``keys``: the field names it produces (a value of :func:`.model.read_fields`).
    ``read(root)``: their values, a tuple in ``keys`` order.  ``write(root, fields)``: writes
    them when any of ``keys`` is in ``fields`` (``None``: written by another entry that
    owns the same element).  ``when``: the change class of each key, a constant or a
    function ``(before, after, limits) -> (class, why)``.  ``devices``: for lists of devices,
    the key they are matched by and whether one can be hot(un)plugged.  ``value(spec,
    current)``: the wanted values (a dict) from a :class:`.spec.GuestSpec`.  ``check(spec,
    params)``: validation beyond the argument spec, run before anything on the host.
    ``docs``: the description of each option and suboption (``"cpu.model"``) in ``options``,
    written into the doc fragment by ``tools/guest-docs.py``.  ``pending(live, inactive)``:
    whether the running guest lacks the persistent config's value, for a field libvirt
    rewrites in the live XML (by default the two are compared as they are).
    """

    def __init__(self, keys, read, write, xpaths, when=NEXT_BOOT, options=None, managed=always,
                 value=None, check=None, devices=None, compare=True, scalar=None, docs=None, pending=None):
        self.keys = tuple(keys)
        self.read = read
        self.write = write
        self.xpaths = dict(zip(self.keys, xpaths, strict=True))
        self.when = when if isinstance(when, dict) else dict.fromkeys(self.keys, when)
        self.options = options or {}
        self.managed = managed
        self.value = value
        self.check = check
        self.devices = devices
        self.compare = compare
        self.scalar = scalar  # (path below <domain>, attribute or None) of a plain field
        self.docs = docs or {}
        self.pending = pending

    def classify(self, key, before, after, limits):
        """(class, why) of a change of ``key`` from ``before`` to ``after``."""
        when = self.when[key]
        return when(before, after, limits) if callable(when) else (when, None)


def _read_scalar(path, attr):
    def read(root):
        node = root.find(path)
        if node is None:
            return (None,)
        return (node.get(attr) if attr else (node.text or "").strip(),)
    return read


def _write_scalar(key, path, attr=None):
    def write(root, fields):
        value = fields[key]
        if value is None and attr:
            domxml.drop_attr(root, path, attr)
        elif value is None:
            domxml.remove_all(root, path)
        elif attr:
            domxml.ensure(root, path).set(attr, str(value))
        else:
            domxml.ensure(root, path).text = str(value)
    return write


def scalar(key, path, attr=None, **kwargs):
    """A field that is one element's text or one attribute, managed when its option is given."""
    xpath = f"/domain/{path}" + (f"/@{attr}" if attr else "")
    kwargs.setdefault("options", {key: dict(type="str")})
    kwargs.setdefault("managed", given(key))
    kwargs.setdefault("value", option_value(key))
    return Field((key,), _read_scalar(path, attr), _write_scalar(key, path, attr), (xpath,),
                 scalar=(path, attr), **kwargs)


def with_maximum(key, default, read, write, xpaths, current_class, docs):
    """A value the guest runs with (``key``) and the most it can reach without a reboot
    (``max_<key>``, defaulting to it): a change of the maximum waits for the next boot."""
    maximum = "max_" + key
    return Field((maximum, key), read, write, xpaths, when={maximum: NEXT_BOOT, key: current_class},
                 options={key: dict(type="int", default=default), maximum: dict(type="int")},
                 value=lambda spec, current: {maximum: getattr(spec, maximum), key: getattr(spec, key)},
                 docs=docs)


def option_value(key):
    return lambda spec, current: {key: spec.params.get(key)}


# --- the per-field pieces that need more than a path --------------------------------------------

def _uuid(spec, current):
    if current is not None and current.get("uuid") and not spec.uuid:
        return {"uuid": current["uuid"]}  # an existing guest keeps its identity
    return {"uuid": spec.uuid or identity.derive_uuid(spec.cluster, spec.name)}


def _read_uuid(root):
    text = domxml.text_of(root, "uuid")
    return (text.lower() if text else text,)


def _write_domain_type(root, fields):
    root.set("type", fields["domain_type"])


def _machine(spec, current):
    """An alias ('pc', 'q35') asks for its family, not for one version: a guest of that
    family keeps its version, so a QEMU upgrade (which moves the alias to a newer
    version) does not turn into a machine change on every guest."""
    machine = spec.params.get("machine")
    if not machine:
        return {}
    existing = current.get("machine") if current else None
    if machine in domxml.MACHINE_ALIASES and existing and \
            domxml.machine_family(existing) == domxml.MACHINE_ALIASES[machine]:
        return {"machine": existing}
    return {"machine": machine}


_WHY_MACHINE = ("the machine families differ, and libvirt refuses a redefine across PCI "
                "topologies (i440fx has a PCI root, q35 a PCIe root)")


def _machine_class(before, after, limits):
    if before and domxml.machine_family(before) != domxml.machine_family(after):
        return IMPOSSIBLE, f"{before} -> {after}: {_WHY_MACHINE}"
    return NEXT_BOOT, None


def _memory_class(before, after, limits):
    # The balloon can move anywhere below the maximum the guest booted with.
    if limits.get("max_memory") is not None and after <= limits["max_memory"]:
        return LIVE, None
    return NEXT_BOOT, None


def _vcpus_class(before, after, limits):
    running = limits.get("vcpus")
    if running is not None and running < after <= (limits.get("max_vcpus") or 0):
        return LIVE, None
    return NEXT_BOOT, None


def _read_memory(root):
    maximum = domxml.mib(root.find("memory"))
    current = domxml.mib(root.find("currentMemory"))
    return (maximum, maximum if current is None else current)


def _write_memory(root, fields):
    if "max_memory" in fields:
        domxml.set_mib(root, "memory", fields["max_memory"])
    if "memory" in fields:
        domxml.set_mib(root, "currentMemory", fields["memory"])


def _read_vcpus(root):
    current, maximum = domxml.read_vcpus(root)
    return maximum, current


def _write_vcpus(root, fields):
    if "max_vcpus" in fields:
        domxml.write_vcpus(root, fields.get("vcpus"), fields["max_vcpus"])


def _cpu_features(features):
    """Features by name (libvirt keeps them in the order given); none is ``None``."""
    listed = sorted(({"name": feature["name"], "policy": feature.get("policy") or "require"}
                     for feature in features or []), key=lambda feature: feature["name"])
    return listed or None


def _cpu(spec, current):
    cpu = spec.params["cpu"]
    return {"cpu_mode": cpu.get("mode") or "host-model", "cpu_model": cpu.get("model"),
            "cpu_features": _cpu_features(cpu.get("features"))}


def _check_cpu(spec, params):
    cpu = params.get("cpu")
    if cpu is None:
        return
    where = f"guest {spec.name}: cpu"
    if (cpu.get("mode") or "host-model") == "custom" and not cpu.get("model"):
        raise validate.ValidationError(f"{where}.model: mode custom needs a model (for example 'EPYC' or "
                                       "'Skylake-Server'; virsh cpu-models x86_64 lists them)", option="cpu")
    names = [feature["name"] for feature in cpu.get("features") or []]
    for index, name in enumerate(names):
        if not _CPU_FEATURE.match(name or ""):
            raise validate.ValidationError(
                f"{where}.features[{index}].name: {name!r} is not a CPU feature name (allowed: lower-case "
                "letters, digits, '_', '.' and '-', such as 'vmx' or 'avx512f')", option="cpu")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise validate.ValidationError(f"{where}.features: {', '.join(twice)} is listed twice", option="cpu")


def _cpu_pending(live, inactive):
    """Whether the running guest's CPU is not yet the configured one.  libvirt expands the
    CPU in the live XML: host-model becomes a custom CPU, and the features a model implies
    are listed; so only what the config says must be there."""
    if inactive.get("cpu_mode") in (None, "host-model"):
        return False
    if (live.get("cpu_mode"), live.get("cpu_model")) != (inactive.get("cpu_mode"), inactive.get("cpu_model")):
        return True

    def features(fields):
        return {(feature["name"], feature["policy"]) for feature in fields.get("cpu_features") or []}
    return not features(inactive) <= features(live)


def _read_cpu(root):
    mode, model = domxml.read_cpu(root)
    features = [{"name": node.get("name"), "policy": node.get("policy") or "require"}
                for node in root.findall("cpu/feature")]
    return mode, model, _cpu_features(features)


def _write_cpu(root, fields):
    domxml.write_cpu(root, fields.get("cpu_mode"), fields.get("cpu_model"))
    cpu = root.find("cpu")
    for feature in fields.get("cpu_features") or []:
        domxml.etree.SubElement(cpu, "feature", policy=feature["policy"], name=feature["name"])


def _serial(spec, current):
    params = spec.params
    return {"serial_console": bool(params.get("serial_console") or params.get("serial_log")),
            "serial_log": params.get("serial_log")}


def _write_serial(root, fields):
    if "serial_console" in fields:
        domxml.write_serial(root, fields["serial_console"], fields.get("serial_log"))


def _read_disks(root):
    return (sorted((domxml.read_disk(node) for node in root.findall("devices/disk")),
                   key=lambda disk: disk["target"] or ""),)


def _disk_hotpluggable(disk):
    return disk["device"] == "disk" and disk["bus"] in domxml.HOTPLUG_BUSES


def _nics(spec, current):
    macs = spec.resolve_macs(current["nics"] if current else [])
    return {"nics": [dict(nic, mac=mac) for nic, mac in zip(spec.nic_params, macs, strict=False)]}


def _seed(spec, current):
    return {"seed": seed.seed_digest(spec.seed_files) if spec.seed_files else None}


def _marker(key):
    return lambda root: (domxml.read_marker(root)[key],)


def _write_marker(root, fields):
    if fields.get("managed"):
        domxml.write_marker(root, fields)


def _metadata(name):
    return f"/domain/metadata/openblade:guest/openblade:{name}"


_CONFIG_ONLY = dict(when=CONFIG, options={})

# --- the table ---------------------------------------------------------------------------------

TABLE = (
    Field(("name",), lambda root: (domxml.text_of(root, "name"),),
          lambda root, fields: setattr(domxml.ensure(root, "name"), "text", fields["name"]),
          ("/domain/name",), value=lambda spec, current: {"name": spec.name}, compare=False),
    Field(("uuid",), _read_uuid, _write_scalar("uuid", "uuid"), ("/domain/uuid",),
          when=impossible("libvirt cannot change the UUID of a defined guest"),
          options={"uuid": dict(type="str")}, value=_uuid, scalar=("uuid", None),
          docs={"uuid": ["The UUID of the guest. By default it is derived from O(cluster) and O(name); an "
                         "existing guest keeps its own.",
                         "Changing the UUID of an existing guest is impossible in place, see O(recreate)."]}),
    Field(("domain_type",), lambda root: (root.get("type"),), _write_domain_type, ("/domain/@type",),
          options={"domain_type": dict(type="str", default="kvm", choices=["kvm", "qemu"])},
          value=option_value("domain_type"),
          docs={"domain_type": ["V(kvm) for hardware virtualisation, V(qemu) for software emulation (TCG).",
                                "A change is applied at the next boot."]}),
    scalar("machine", "os/type", "machine", when=_machine_class, value=_machine,
           docs={"machine": ["The machine type, such as V(pc), V(q35) or V(pc-i440fx-7.2). Aliases are "
                             "resolved to the canonical versioned name through the host's capabilities.",
                             "Not managed when omitted (libvirt's default is used for a new guest).",
                             "A new version of the same family (V(pc-i440fx-7.1) to V(pc-i440fx-7.2)) is "
                             "applied at the next boot. A change of family (i440fx to q35) is impossible in "
                             "place, see O(recreate)."]}),
    Field(("firmware",), lambda root: (domxml.read_firmware(root),),
          lambda root, fields: domxml.write_firmware(root, fields["firmware"]), ("/domain/os/@firmware",),
          when=impossible("an installed guest boots through its firmware's boot loader, so switching "
                          "between bios and uefi would leave it unbootable"),
          options={"firmware": dict(type="str", choices=["bios", "uefi"])}, managed=given("firmware"),
          value=option_value("firmware"),
          docs={"firmware": ["V(bios) or V(uefi). Not managed when omitted (a new guest gets BIOS).",
                             "Changing the firmware of an existing guest is impossible in place, see "
                             "O(recreate)."]}),
    with_maximum("memory", 1024, _read_memory, _write_memory, ("/domain/memory", "/domain/currentMemory"),
                 _memory_class,
                 docs={"memory": ["The memory of the guest in MiB (libvirt's C(currentMemory)).",
                                  "Any value up to the O(max_memory) the guest runs with is applied to a "
                                  "running guest through the balloon driver. Above it (for example while a "
                                  "larger O(max_memory) waits for the reboot) the change is applied at the "
                                  "next boot."],
                       "max_memory": ["The memory the guest boots with in MiB (libvirt's C(memory)), the "
                                      "most O(memory) can be raised to without a reboot. Defaults to "
                                      "O(memory).",
                                      "A change is applied at the next boot."]}),
    with_maximum("vcpus", 1, _read_vcpus, _write_vcpus, ("/domain/vcpu", "/domain/vcpu/@current"),
                 _vcpus_class,
                 docs={"vcpus": ["The number of vCPUs the guest runs with.",
                                 "An increase up to O(max_vcpus) is hotplugged into a running guest; a "
                                 "decrease is applied at the next boot."],
                       "max_vcpus": ["The most vCPUs the guest can have without a reboot. Defaults to "
                                     "O(vcpus).",
                                     "A change is applied at the next boot."]}),
    # The CPU model, for guests that move between blade generations: libvirt cannot change a
    # running guest's CPU, so every change waits for the next boot.
    Field(("cpu_mode", "cpu_model", "cpu_features"), _read_cpu, _write_cpu,
          ("/domain/cpu/@mode", "/domain/cpu/model", "/domain/cpu/feature"),
          options={"cpu": dict(type="dict", options=dict(
              mode=dict(type="str", default="host-model", choices=list(CPU_MODES)),
              model=dict(type="str"),
              features=dict(type="list", elements="dict", default=[], options=dict(
                  name=dict(type="str", required=True),
                  policy=dict(type="str", default="require", choices=list(CPU_FEATURE_POLICIES)),
              )),
          ))},
          managed=given("cpu"), value=_cpu, check=_check_cpu, pending=_cpu_pending,
          docs={"cpu": ["The CPU the guest sees (libvirt's C(<cpu>) element). Not managed when omitted.",
                        "A change is applied at the next boot."],
                "cpu.mode": ["libvirt's CPU mode. V(host-model) and V(host-passthrough) follow the blade's "
                             "CPU; V(custom) with a O(cpu.model) the blades of different generations share "
                             "keeps a guest movable between them."],
                "cpu.model": ["The CPU model, for example V(EPYC) or V(Skylake-Server). Required for "
                              "O(cpu.mode=custom)."],
                "cpu.features": ["CPU features to add or take away from the model, in any order."],
                "cpu.features.name": ["The feature's name, as libvirt spells it (for example V(vmx) or "
                                      "V(avx512f))."],
                "cpu.features.policy": ["V(require) (the guest does not start on a CPU without it), "
                                        "V(force), V(optional), V(disable) or V(forbid) (the guest does not "
                                        "start on a CPU with it)."]}),
    scalar("kernel", "os/kernel", options={"kernel": dict(type="path")},
           docs={"kernel": ["A kernel on the host to boot directly, instead of a boot loader on a disk. Not "
                            "managed when omitted."]}),
    scalar("initrd", "os/initrd", options={"initrd": dict(type="path")},
           docs={"initrd": ["The initramfs for O(kernel). Not managed when omitted."]}),
    scalar("cmdline", "os/cmdline",
           docs={"cmdline": ["The kernel command line for O(kernel). Not managed when omitted."]}),
    Field(("serial_console", "serial_log"), domxml.read_serial, _write_serial,
          ("/domain/devices/serial", "/domain/devices/serial/log/@file"),
          options={"serial_console": dict(type="bool", default=True), "serial_log": dict(type="path")},
          value=_serial,
          docs={"serial_console": ["Give the guest a serial console (a pty, reachable with C(virsh "
                                   "console)).",
                                   "A change is applied at the next boot."],
                "serial_log": ["Also log the serial console to this file on the host (through virtlogd). "
                               "Implies O(serial_console)."]}),
    Field(("disks",), _read_disks, lambda root, fields: domxml.write_disks(root, fields["disks"]),
          ("/domain/devices/disk",), devices=("target", _disk_hotpluggable),
          options={"disks": dict(type="list", elements="dict", default=[], options=DISK_SPEC)},
          value=lambda spec, current: {"disks": [dict(disk) for disk in spec.disks]},
          docs={"disks": ["The guest's disks, matched to existing ones by target name. Disks not listed are "
                          "detached (never deleted).",
                          "Adding or removing a disk on a V(virtio), V(scsi) or V(usb) bus is applied live; "
                          "other changes at the next boot."],
                "disks.path": ["The block device, logical volume (V(/dev/vg/lv)) or image file."],
                "disks.type": ["V(block) for devices, V(file) for image files. V(auto) picks V(block) for "
                               "paths under C(/dev) and V(file) otherwise."],
                "disks.device": ["V(disk) or V(cdrom)."],
                "disks.format": ["The image format."],
                "disks.bus": ["The bus. Defaults to V(virtio) for disks and V(sata) for CD-ROMs."],
                "disks.cache": ["The host cache mode. V(default) leaves the choice to the hypervisor."],
                "disks.target": ["The device name the guest sees, such as V(vdb). Assigned in order per bus "
                                 "when omitted (V(vda), V(vdb), ... for virtio)."],
                "disks.boot_order": ["The position of this disk in the boot order (1 boots first)."],
                "disks.readonly": ["Attach the disk read-only. CD-ROMs always are."]}),
    Field(("nics",), lambda root: ([domxml.read_nic(node) for node in root.findall("devices/interface")],),
          lambda root, fields: domxml.write_nics(root, fields["nics"]),
          ("/domain/devices/interface",), devices=("mac", lambda nic: True),
          options={"nics": dict(type="list", elements="dict", default=[], options=NIC_SPEC,
                                mutually_exclusive=[("partition", "bridge")],
                                required_one_of=[("partition", "bridge")])},
          value=_nics,
          docs={"nics": ["The guest's network interfaces, in order.",
                         "A NIC without O(nics[].mac) keeps the MAC of the existing NIC at the same "
                         "position; a new one gets a MAC derived from O(cluster), O(name) and its position "
                         "(C(52:54:xx:xx:xx:xx)). To remove a NIC from the middle of the list and keep the "
                         "others, give them explicit MACs.",
                         "Adding or removing a NIC is applied live; changing one at the next boot."],
                "nics.partition": ["The libvirt network (network partition) to join. Exactly one of "
                                   "O(nics[].partition) and O(nics[].bridge) is required."],
                "nics.bridge": ["The host bridge to join."],
                "nics.model": ["The NIC model the guest sees."],
                "nics.mac": ["The MAC address. Derived when omitted, see O(nics)."]}),
    # The cloud-init seed and the xml template are compared by digest, kept in our marker.
    Field(("seed",), _marker("seed"), None, (_metadata("seed") + "/@sha256",),
          options={"cloud_init": dict(type="dict", options=CLOUD_INIT_SPEC)},
          value=_seed,
          docs={"cloud_init": ["A cloud-init NoCloud seed. It is built on the host with C(genisoimage) as a "
                               "small ISO labelled C(cidata) and attached as a SATA CD-ROM after the listed "
                               "disks.",
                               "The ISO is rebuilt when its content changes, which takes effect at the next "
                               "boot.",
                               "The ISO is readable only by root and the QEMU user (mode 0640, group "
                               "C(libvirt-qemu) or C(qemu); 0600 and libvirt's dynamic ownership where "
                               "neither group exists). A seed written world-readable by an older version is "
                               "restricted on the next run.",
                               "The diff shows a digest of the seed files (C(seed)), never their content."],
                "cloud_init.user_data": ["The user-data. A string is used as written; a dict becomes "
                                         "C(#cloud-config).",
                                         "It may hold passwords and keys, so it is C(no_log). It never "
                                         "shows in the module's invocation, result or diff, nor in the "
                                         "host's log; every string in it is masked wherever it would appear "
                                         "in the output, except the guest names and parts of them."],
                "cloud_init.meta_data": ["The meta-data. Defaults to C(instance-id) and C(local-hostname) "
                                         "set to O(name)."],
                "cloud_init.network_config": ["The network-config (version 1 or 2), as a string or a dict. "
                                              "Left out when omitted."],
                "cloud_init.iso_path": ["Where to write the ISO. Defaults to "
                                        "C(/var/lib/libvirt/boot/<name>-cidata.iso)."]}),
    Field(("template",), _marker("template"), None, (_metadata("template") + "/@sha256",),
          options={"xml": dict(type="str", no_log=True)},  # a template may hold a VNC or SPICE password
          value=lambda spec, current: {
              "template": spec.template_digest if spec.template is not None else None},
          docs={"xml": ["The escape hatch, a complete libvirt domain XML used as the starting point of a "
                        "new guest. The structured options are written on top of it; everything else in it "
                        "is kept as given.",
                        "A digest of it is kept in the ownership metadata. When the template changes, the "
                        "guest is redefined from the new template (with its UUID and MACs), at the next "
                        "boot.",
                        "It is C(no_log), as it may hold a console password."]}),
    scalar("description", "description", when=CONFIG,
           docs={"description": ["A human-readable description, stored in the domain XML. Not managed when "
                                 "omitted."]}),
    Field(("cluster",), _marker("cluster"), None, (_metadata("cluster"),),
          value=lambda spec, current: {"cluster": spec.cluster}, **_CONFIG_ONLY),
    Field(("managed",), _marker("managed"), _write_marker, ("/domain/metadata/openblade:guest",),
          value=lambda spec, current: {"managed": True}, **_CONFIG_ONLY),
)

# Every field key -> its entry.
BY_KEY = {key: field for field in TABLE for key in field.keys}

# The keys compared between current and desired, in the order changes are reported.
COMPARED = tuple(key for field in TABLE if field.compare for key in field.keys)


def options():
    """The guest options the table declares, in table order."""
    spec = {}
    for field in TABLE:
        spec.update(field.options)
    return spec


def docs():
    """Every option's and suboption's description, by dotted name (``cpu.model``)."""
    return {name: text for field in TABLE for name, text in field.docs.items()}


def managed_keys(params):
    """The keys a guest with these options manages: always-managed ones first."""
    fixed = [key for field in TABLE if field.compare and field.managed is always for key in field.keys]
    optional = [key for field in TABLE
                if field.compare and field.managed is not always and field.managed(params)
                for key in field.keys]
    return fixed + optional


def check(spec, params):
    for field in TABLE:
        if field.check is not None:
            field.check(spec, params)


def values(spec, current):
    """The managed fields to write for a validated guest, given its current fields (or None)."""
    fields = {}
    for field in TABLE:
        if field.managed(spec.params):
            fields.update(field.value(spec, current))
    return fields


def read(root):
    fields = {}
    for field in TABLE:
        fields.update(zip(field.keys, field.read(root), strict=True))
    return fields


def write(root, fields):
    for field in TABLE:
        if field.write is not None and any(key in fields for key in field.keys):
            field.write(root, fields)
    domxml.order_os(root)
    return root


def xpaths():
    return {key: xpath for field in TABLE for key, xpath in field.xpaths.items()}
