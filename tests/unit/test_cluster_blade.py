# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cluster_info and cluster_ledger: what the plan reads on a blade in one call, and the
blade's copy of the address ledger (check == real, exact bytes, mode, idempotence)."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.openblade.kvm.plugins.module_utils._cluster import (
    ClusterView,
    LedgerCopy,
    render_ledger,
)
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.resources import GuestInventory
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import (
    ReconcileError,
    reconcile,
)

# hv, lock_dir and runner are pytest fixtures: pytest uses them by parameter name.
# pylint: disable-next=unused-import
from ansible_collections.openblade.kvm.tests.unit.test_libvirt_reconcile import (  # noqa: F401
    WEB,
    hv,
    lock_dir,
    run,
    runner,
)

LEDGER = {"web1": {"office": "10.20.10.11"}, "db1": {"office": "10.20.10.12", "shared": "10.20.0.11"}}


def test_view_lists_only_this_clusters_marked_guests_and_the_ledger(hv, runner, lock_dir, tmp_path):  # noqa: F811
    run(hv, runner, lock_dir, state="stopped", cluster="dc1", **WEB)
    run(hv, runner, lock_dir, state="stopped", cluster="dc2", **{**WEB, "name": "web9"})
    ledger_dir = tmp_path / "ipam"
    ledger_dir.mkdir()
    (ledger_dir / "dc1.json").write_text(render_ledger(LEDGER))
    libvirtd = tmp_path / "libvirtd"
    libvirtd.write_text("")

    view = reconcile(ClusterView("dc1", str(ledger_dir), lambda: GuestInventory(hv, managed_only=True),
                                 libvirtd=str(libvirtd)), check_mode=True)
    assert view["changed"] is False and view["actions"] == []
    # The builtin 'test' guest carries no marker and web9 is another cluster's.
    assert [guest["name"] for guest in view["guests"]] == ["web1"]
    assert view["guests"][0]["cluster"] == "dc1" and view["guests"][0]["managed"] is True
    assert view["ledger"] == LEDGER
    assert view["ledger_path"] == str(ledger_dir / "dc1.json")


def test_a_new_blade_has_no_guests_and_no_ledger(tmp_path):
    def no_libvirt():
        raise AssertionError("libvirt must not be asked on a blade without libvirtd")
    view = reconcile(ClusterView("dc1", str(tmp_path / "ipam"), no_libvirt, libvirtd=str(tmp_path / "none")))
    assert (view["guests"], view["ledger"]) == ([], None)


def test_a_broken_ledger_copy_is_named(tmp_path):
    (tmp_path / "dc1.json").write_text("{not json")
    with pytest.raises(ReconcileError, match=r"ledger .*dc1.json is not valid JSON"):
        reconcile(ClusterView("dc1", str(tmp_path), None, libvirtd=str(tmp_path / "none")))


@pytest.mark.parametrize("cluster, ledger_dir, message", [
    ("../etc", "/var/lib/openblade/ipam", "is not a valid libvirt domain name"),
    (".hidden", "/var/lib/openblade/ipam", "must not start with '.'"),
    ("dc1", "relative/ipam", "must be an absolute path"),
])
def test_names_that_would_escape_the_ledger_directory_are_refused(cluster, ledger_dir, message):
    with pytest.raises(ReconcileError, match=message):
        LedgerCopy(cluster, ledger_dir, LEDGER)


@pytest.mark.parametrize("before, mode, expected", [
    (None, None, "create"),
    ({"web1": {"office": "10.20.10.11"}}, 0o644, "update"),
    (LEDGER, 0o600, "update"),
    (LEDGER, 0o644, None),
])
def test_ledger_copy_check_mode_predicts_the_write_and_a_rerun_is_a_no_op(tmp_path, before, mode, expected):
    path = tmp_path / "ipam" / "dc1.json"
    if before is not None:
        path.parent.mkdir()
        path.write_text(render_ledger(before))
        os.chmod(path, mode)
    original = path.read_bytes() if path.exists() else None

    def build():
        return LedgerCopy("dc1", str(tmp_path / "ipam"), LEDGER, lock_dir=str(tmp_path / "lock"))

    checked = reconcile(build(), check_mode=True, diff_mode=True)
    assert (path.read_bytes() if path.exists() else None) == original
    real = reconcile(build(), diff_mode=True)
    assert (checked["changed"], checked["actions"], checked["diff"]) == (
        real["changed"], real["actions"], real["diff"])
    assert real["actions"] == ([f"{expected} {path}"] if expected else [])
    assert real["changed"] == (real["diff"]["before"] != real["diff"]["after"])
    assert json.loads(path.read_text()) == LEDGER
    assert path.read_text() == render_ledger(LEDGER)  # sorted keys: the same bytes on every blade
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert reconcile(build())["changed"] is False


def test_ledger_text_is_what_the_role_wrote_before(tmp_path):
    # Earlier releases wrote `to_nice_json(sort_keys=true)` plus a newline: the same bytes,
    # so upgrading does not rewrite every blade's copy.
    from ansible.plugins.filter.core import to_nice_json
    assert render_ledger(LEDGER) == to_nice_json(LEDGER, sort_keys=True) + "\n"
