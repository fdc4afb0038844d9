# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest field table: every managed field is declared once, and every consumer (the
argument spec, the XML model, the classifier, the docs) is built from it, so a field that
is only partly declared fails here."""

from __future__ import annotations

import re

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import classify, fields, model, spec
from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError


def flat_options(options, prefix=""):
    names = []
    for name, option in options.items():
        names.append(prefix + name)
        names += flat_options(option.get("options") or {}, f"{prefix}{name}.")
    return names


def test_every_field_key_is_declared_by_exactly_one_entry():
    keys = [key for field in fields.TABLE for key in field.keys]
    assert len(keys) == len(set(keys))
    read = model.read_fields(model.skeleton())
    assert list(read) == keys, "read_fields returns exactly the table's keys, in its order"


def test_the_consumers_are_derived_from_the_table():
    assert classify.FIELD_ORDER == tuple(key for key in fields.BY_KEY if key != "name")
    assert set(model.MANAGED_XPATHS) == set(fields.BY_KEY)
    for name, option in fields.options().items():
        assert spec.GUEST_SPEC[name] is option
    assert set(classify.NEXT_BOOT_FIELDS) | set(classify.CONFIG_FIELDS) < set(classify.FIELD_ORDER)
    assert classify.CONFIG_FIELDS == ("description", "cluster", "managed")


def test_every_option_of_the_table_and_its_suboptions_is_documented():
    documented = fields.docs()
    missing = [name for name in flat_options(fields.options()) if not documented.get(name)]
    assert missing == []
    assert set(documented) == set(flat_options(fields.options())), "docs only for options that exist"


@pytest.mark.parametrize("field", [field for field in fields.TABLE if field.compare],
                         ids=lambda field: "+".join(field.keys))
def test_every_compared_key_has_a_change_class(field):
    for key in field.keys:
        assert field.when[key] in (fields.LIVE, fields.NEXT_BOOT, fields.CONFIG, fields.IMPOSSIBLE) or \
            callable(field.when[key])


def test_optional_fields_are_managed_only_when_their_option_is_given():
    bare = spec.GuestSpec(dict(spec.option_defaults(), name="a"), "dc1")
    optional = {key for field in fields.TABLE if field.managed is not fields.always for key in field.keys}
    assert optional == {"machine", "firmware", "cpu_mode", "cpu_model", "cpu_features", "kernel", "initrd",
                        "cmdline", "description"}
    assert not optional & set(bare.managed_keys())
    assert not optional & set(bare.fields(None))
    given = spec.GuestSpec(dict(spec.option_defaults(), name="a", machine="q35", firmware="uefi",
                                cpu={"mode": "host-passthrough"}, kernel="/k", initrd="/i", cmdline="c",
                                description="d"), "dc1")
    assert optional <= set(given.managed_keys())
    assert optional <= set(given.fields(None))


# --- the CPU model: one table entry; these are its tests -------------------------------------------

def cpu_guest(**cpu):
    cpu = dict({"mode": "host-model", "model": None, "features": []}, **cpu)
    return spec.GuestSpec(dict(spec.option_defaults(), name="a", cpu=cpu), "dc1")


def test_cpu_fields_round_trip_through_the_xml():
    guest = cpu_guest(mode="custom", model="EPYC",
                      features=[{"name": "vmx", "policy": "forbid"}, {"name": "avx512f", "policy": None}])
    wanted = guest.fields(None)
    assert wanted["cpu_features"] == [{"name": "avx512f", "policy": "require"},
                                      {"name": "vmx", "policy": "forbid"}]
    root = model.render(model.skeleton(), wanted)
    cpu = root.find("cpu")
    assert (cpu.get("mode"), cpu.get("match"), cpu.findtext("model")) == ("custom", "exact", "EPYC")
    back = model.read_fields(model.parse(model.to_string(root)))
    assert {key: back[key] for key in ("cpu_mode", "cpu_model", "cpu_features")} == {
        "cpu_mode": "custom", "cpu_model": "EPYC", "cpu_features": wanted["cpu_features"]}
    # Without features the field reads as unset, on both sides of a comparison.
    assert model.read_fields(model.render(model.skeleton(), cpu_guest().fields(None)))["cpu_features"] is None


def test_cpu_features_libvirt_wrote_are_read_with_its_default_policy():
    root = model.parse("<domain><name>a</name><cpu mode='host-model'><feature name='x2apic'/>"
                       "<feature policy='disable' name='hle'/></cpu></domain>")
    assert model.read_fields(root)["cpu_features"] == [{"name": "hle", "policy": "disable"},
                                                       {"name": "x2apic", "policy": "require"}]


@pytest.mark.parametrize("change", [{"cpu_mode": "host-passthrough"}, {"cpu_model": "EPYC"},
                                    {"cpu_features": [{"name": "vmx", "policy": "require"}]}])
def test_every_cpu_change_waits_for_the_next_boot(change):
    current = {"cpu_mode": "custom", "cpu_model": "qemu64", "cpu_features": None, "vcpus": 1, "max_vcpus": 2}
    changes = classify.classify(current, dict(current, **change), running=current)
    assert [(item.field, item.when) for item in changes] == [(next(iter(change)), classify.NEXT_BOOT)]


@pytest.mark.parametrize("cpu, message", [
    ({"mode": "custom"}, "guest a: cpu.model: mode custom needs a model"),
    ({"features": [{"name": "VMX", "policy": "require"}]},
     "cpu.features[0].name: 'VMX' is not a CPU feature"),
    ({"features": [{"name": "vmx", "policy": "require"}, {"name": "vmx", "policy": "disable"}]},
     "cpu.features: vmx is listed twice"),
])
def test_bad_cpu_options_fail_naming_field_value_and_rule(cpu, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        cpu_guest(**cpu)


LIVE_QEMU64 = {"cpu_mode": "custom", "cpu_model": "qemu64", "cpu_features": [
    {"name": "svm", "policy": "disable"}, {"name": "x2apic", "policy": "require"}]}


@pytest.mark.parametrize("inactive, pending", [
    # libvirt expands host-model into a custom CPU in the live XML: nothing is pending.
    ({"cpu_mode": "host-model", "cpu_model": None, "cpu_features": None}, False),
    # The features a model implies are listed live too: only the configured ones must be there.
    ({"cpu_mode": "custom", "cpu_model": "qemu64", "cpu_features": [{"name": "svm", "policy": "disable"}]},
     False),
    ({"cpu_mode": "custom", "cpu_model": "kvm64", "cpu_features": None}, True),
    ({"cpu_mode": "custom", "cpu_model": "qemu64", "cpu_features": [{"name": "vmx", "policy": "require"}]},
     True),
])
def test_a_cpu_change_is_pending_until_the_running_guest_has_it(inactive, pending):
    keys = ("cpu_mode", "cpu_model", "cpu_features")
    assert classify.pending_reboot(LIVE_QEMU64, inactive, keys) is pending
