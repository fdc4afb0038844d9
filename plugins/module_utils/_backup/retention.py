# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which backup points a retention policy keeps: the newest point of each of the last
``daily`` days, ``weekly`` ISO weeks and ``monthly`` months that have a point (restic's
``--keep-daily/weekly/monthly`` rule), plus always the newest point, which is the base of
the next incremental backup.  Days are UTC."""

from __future__ import annotations

import datetime

from ansible_collections.openblade.kvm.plugins.module_utils._validate import ValidationError

PERIODS = {
    "daily": lambda day: day.isoformat(),
    "weekly": lambda day: "{}-W{:02d}".format(*day.isocalendar()[:2]),
    "monthly": lambda day: f"{day.year}-{day.month:02d}",
}


# The argument spec of a module's ``retention`` option (guest_backup, offsite_copy).
SPEC = {"type": "dict", "options": {period: {"type": "int"} for period in PERIODS}}


def check(policy):
    """The policy with every count an integer >= 0 (periods left unset dropped: Ansible
    gives every suboption); fails naming the bad key."""
    policy = {key: value for key, value in (policy or {}).items() if value is not None}
    for key in sorted(policy):
        if key not in PERIODS:
            raise ValidationError(
                f"retention: unknown key {key!r} (allowed: {', '.join(PERIODS)})", option="retention"
            )
        value = policy[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError(
                f"retention.{key}: {value!r} is not a count (allowed: integers from 0)", option="retention"
            )
    return policy


def keep(points, policy):
    """Names to keep among ``points``, a list of (created seconds, name)."""
    newest_first = sorted(points, reverse=True)
    kept = set()
    if newest_first:
        kept.add(newest_first[0][1])
    for period, count in policy.items():
        seen = []
        for stamp, name in newest_first:
            bucket = PERIODS[period](datetime.datetime.fromtimestamp(stamp, datetime.UTC).date())
            if bucket in seen:
                continue
            if len(seen) >= count:
                break
            seen.append(bucket)
            kept.add(name)
    return kept


def split(stamps, policy):
    """(kept, pruned): the labels of ``stamps`` ({label: created seconds}) the policy keeps and
    those it does not, each oldest first."""
    kept = keep([(stamp, label) for label, stamp in stamps.items()], policy)
    return sorted(kept, key=stamps.get), sorted(set(stamps) - kept, key=stamps.get)
