# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs the network modules share (documented in doc_fragments/network.py),
and the few lines that turn module params into a reconciled :class:`Links`."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._net.engine import Links
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner

TRANSACTION_OPTIONS = dict(
    rollback_timeout=dict(type="int", default=60),
    probe=dict(type="str"),
    allow_management_change=dict(type="bool", default=False),
    management_address=dict(type="str"),
)

LINK_OPTIONS = dict(
    state=dict(type="str", default="present", choices=["present", "absent"]),
    mtu=dict(type="int"),
)


def transaction_options(params):
    return {key: params[key] for key in TRANSACTION_OPTIONS}


def run_network_module(argument_spec, specs=None, resource=None, link_options=True):
    """The whole main() of a network module.

    ``specs(params)`` returns the link specs of a plain :class:`Links`;
    ``resource(runner, params, **transaction_options)`` builds a resource of its own.
    """
    spec = dict(argument_spec, **(LINK_OPTIONS if link_options else {}), **TRANSACTION_OPTIONS)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    if resource is None:
        def resource(runner, params, **options):
            return Links(runner, specs(params), **options)
    run_module(module, lambda m: resource(Runner(m), m.params, **transaction_options(m.params)))
