# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attribute docs shared by every openblade.kvm module."""

from __future__ import annotations


class ModuleDocFragment:
    # A module that changes state: check mode and diff are exact, a re-run is a no-op.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    support: full
    description: Check mode builds the same plan as a real run and reports its C(actions) without applying them.
  diff_mode:
    support: full
    description: The diff shows the managed fields before and after.
  idempotent:
    support: full
    description: A second run with the same arguments reports no change.
"""

    # A module that only reads.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    description: The module only reads state, so check mode changes nothing either.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  idempotent:
    support: full
    description: The module never changes anything.
"""
