# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One source for the paths on the blades: the playbooks write none of them out; the
ledger dir has one default, the cluster role's, which its modules and docs repeat."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.openblade.kvm.plugins.modules import cluster_info, cluster_ledger

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Where the modules put things; a playbook that names them would miss a changed default.
MODULE_PATHS = ("/var/lib/openblade/ipam", "/var/lib/libvirt/boot")


def read_yaml(*path):
    with open(os.path.join(ROOT, *path)) as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize("playbook", sorted(os.listdir(os.path.join(ROOT, "playbooks"))))
def test_playbooks_write_out_no_path_of_the_modules(playbook):
    with open(os.path.join(ROOT, "playbooks", playbook)) as handle:
        text = handle.read()
    assert not [path for path in MODULE_PATHS if path in text]


def test_the_ledger_dir_has_one_default():
    default = read_yaml("roles", "cluster", "defaults", "main.yml")["cluster_ledger_dir"]
    spec = read_yaml("roles", "cluster", "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert spec["cluster_ledger_dir"]["default"] == default
    for module in (cluster_info, cluster_ledger):
        assert yaml.safe_load(module.DOCUMENTATION)["options"]["ledger_dir"]["default"] == default, module
