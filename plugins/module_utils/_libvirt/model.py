# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The domain XML model: which parts of a libvirt domain we manage, and how to read
and write them.

Both sides of a comparison go through :func:`read_fields`: the desired side is the
XML we generate with :func:`write_fields`, the current side is libvirt's inactive
XML.  Reading both with the same code is what makes them comparable: units and
defaults are normalised once, by the readers of the field table (:mod:`.fields`).

:func:`write_fields` only touches the managed fields.  Updating an existing guest
writes them into libvirt's own inactive XML, so PCI addresses, controllers and
anything an administrator added by hand survive a redefine.
"""

from __future__ import annotations

import copy

from ansible_collections.openblade.kvm.plugins.module_utils._libvirt import fields as _fields
from ansible_collections.openblade.kvm.plugins.module_utils._libvirt.domxml import (  # noqa: F401 pylint: disable=unused-import
    HOTPLUG_BUSES,
    MACHINE_ALIASES,
    METADATA_NS,
    METADATA_PREFIX,
    SKELETON,
    XMLError,
    disk_element,
    etree,
    fingerprint,
    has_nvram,
    machine_family,
    nic_element,
    parse,
    skeleton,
    to_string,
)

# The names above are the model's API, kept where its users import them from.

# Simple fields: name -> (path below <domain>, attribute, or None for the element text).
SCALAR_FIELDS = {field.keys[0]: field.scalar for field in _fields.TABLE if field.scalar}

# The XPath map of every managed field, for documentation and error messages.
MANAGED_XPATHS = _fields.xpaths()


def read_fields(root):
    """Every managed field of a domain XML, normalised (memory in MiB, disks by target)."""
    return _fields.read(root)


def write_fields(root, fields):
    """Write the given managed fields into ``root`` (in place); other content is kept.

    Only keys present in ``fields`` are written: a field the user does not manage is
    left as libvirt (or an administrator) has it.
    """
    return _fields.write(root, fields)


def render(base, fields):
    """A copy of ``base`` with ``fields`` written into it."""
    return write_fields(copy.deepcopy(base), fields)
