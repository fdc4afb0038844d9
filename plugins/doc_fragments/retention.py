# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option docs shared by guest_backup and offsite_copy: the retention rule of backup points."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  retention:
    description:
      - Which backup points of the guest are kept (by M(openblade.kvm.guest_backup) on its target, by M(openblade.kvm.offsite_copy) in
        the repository; each has its own). Keeps the newest point of each of the last C(daily) days, C(weekly) ISO weeks and C(monthly)
        months that have one (UTC), and always the newest point. The module's description says what happens to the others.
      - When not given, nothing is pruned.
    type: dict
    suboptions:
      daily: {description: Days to keep a point of., type: int}
      weekly: {description: ISO weeks to keep a point of., type: int}
      monthly: {description: Months to keep a point of., type: int}
"""
