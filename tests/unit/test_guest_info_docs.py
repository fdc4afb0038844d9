"""guest_info's RETURN documents exactly the guest fields the field table reads (issue 15):
tools/check_docs.py compares them in make lint, and here against what the module returns."""

import importlib

import yaml

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import fields
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.resources import GuestInventory
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import reconcile
from ansible_collections.openblade.kvm.tests.unit import test_libvirt_reconcile as guests
from ansible_collections.openblade.kvm.tests.unit.repo_tools import load_tool

# The guest tests' fixtures: test:///default left as found, a seed-building runner, locks.
hv, runner, lock_dir = guests.hv, guests.runner, guests.lock_dir

check_docs = load_tool("check_docs.py")
TYPES = {"str": str, "int": int, "bool": bool, "list": list, "dict": dict}


def documented():
    module = importlib.import_module("ansible_collections.openblade.kvm.plugins.modules.guest_info")
    return yaml.safe_load(module.RETURN)


def test_the_return_agrees_with_the_field_table():
    assert check_docs.guest_return_disagreements(documented()) == []


def test_a_field_the_return_lacks_or_a_wrong_type_is_listed():
    returned = documented()
    del returned["guests"]["contains"]["cpu_model"]
    returned["guests"]["contains"]["memory"]["type"] = "str"
    returned["guests"]["contains"]["sockets"] = {"description": "Made up.", "type": "int"}
    assert check_docs.guest_return_disagreements(returned) == [
        "guest_info RETURN guests.cpu_model: the field table reads it, the RETURN does not document it",
        "guest_info RETURN guests.sockets: documented, but neither a field of the table nor added by the "
        "inventory",
        "guest_info RETURN guests.memory: type is 'str', but 'int' in the field table's option"]


def test_a_new_field_of_the_table_must_be_documented(monkeypatch):
    extra = fields.Field(("sockets",), lambda root: (None,), None, ("/domain/cpu/topology/@sockets",),
                         options={"sockets": dict(type="int")})
    monkeypatch.setattr(fields, "TABLE", (*fields.TABLE, extra))
    assert check_docs.guest_return_disagreements(documented()) == [
        "guest_info RETURN guests.sockets: the field table reads it, the RETURN does not document it"]


def test_guest_info_returns_what_its_return_documents(hv, runner, lock_dir):
    guests.run(hv, runner, lock_dir, name="obt-docs", state="stopped", memory=256, vcpus=1,
               disks=[{"path": "/var/lib/obt/docs.img"}], nics=[{"bridge": "br0"}],
               cpu={"mode": "host-model"})
    contains = documented()["guests"]["contains"]
    result = reconcile(GuestInventory(hv, ["obt-docs"]))
    [guest] = result["guests"]
    assert sorted(guest) == sorted(contains)
    wrong = {key: value for key, value in guest.items()
             if value is not None and not isinstance(value, TYPES[contains[key]["type"]])}
    assert wrong == {}
