# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The systemd-networkd files we own: model, renderer, header and layout.

Every link we touch has one main ``.network`` file of ours, named
``05-openblade-<ifname>.network``.  A device we create (bridge, VLAN, bond) also has a
``.netdev``.  What one resource adds to *another* link goes into a drop-in of that
link's file, ``<file>.network.d/openblade-<role>-<owner>.conf``:

* ``Bridge=br0`` on each port of bridge br0 (role ``bridge``),
* ``Bond=bond0`` on each member of bond0 (role ``bond``),
* ``VLAN=trunk0.101`` on the VLAN's parent (role ``vlan``).

So a VLAN's own settings (its file) and its bridge membership (the bridge's drop-in)
never fight over one file, and removing one resource removes exactly its files.  A
link that only carries attachments (a physical NIC) gets a minimal main file, owned
by "link <name>", which is removed with its last drop-in.

The ``05-`` prefix sorts before the usual ``10-``..``99-`` files, because networkd
applies the first ``.network`` file (by file name, across all its directories) that
matches a link: a port or bond member we declare must not keep the configuration of
the file it had before.
"""

from __future__ import annotations

import glob
import os
import re

from ansible_collections.openblade.kvm.plugins.module_utils._files import read_text, write_atomic

CONFIG_DIR = "/etc/systemd/network"
PREFIX = "05-openblade-"
MARK = "# Managed by openblade.kvm"
DROPIN_PREFIX = "openblade-"
_OWNER = re.compile(re.escape(MARK) + r" \(([^)]*)\)")


def header(owner):
    return f"{MARK} ({owner}); local edits are overwritten.\n"


def is_ours(text):
    return text is not None and text.startswith(MARK)


def owner_of(text):
    """The owner named in our header ('bridge br0', 'link trunk0'), or None."""
    match = _OWNER.match(text or "")
    return match.group(1) if match else None


def _value(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def render(owner, sections):
    """A unit file: our header, then ``[Section]`` blocks of ``Key=value`` lines.

    ``sections`` is a list of ``(name, [(key, value), ...])``; empty sections are left
    out and a key may repeat (``Address=`` once per address), in the order given.
    """
    blocks = []
    for name, entries in sections:
        if entries:
            blocks.append(f"[{name}]\n" + "".join(f"{key}={_value(value)}\n" for key, value in entries))
    return header(owner) + "\n".join(blocks)


def parse(text):
    """``[(section, key, value), ...]`` of a unit file, comments and blanks skipped."""
    entries = []
    section = None
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif "=" in line:
            key, value = line.split("=", 1)
            entries.append((section, key.strip(), value.strip()))
    return entries


def values(text, section, key):
    return [value for sec, k, value in parse(text) if sec == section and k == key]


class Layout:
    """Where our files live, and the only code that reads or writes them."""

    def __init__(self, config_dir=CONFIG_DIR):
        self.config_dir = config_dir

    def netdev(self, ifname):
        return os.path.join(self.config_dir, f"{PREFIX}{ifname}.netdev")

    def network(self, ifname):
        return os.path.join(self.config_dir, f"{PREFIX}{ifname}.network")

    def dropin_dir(self, network_file):
        # Drop-ins in /etc apply to a file of the same name in any networkd directory.
        return os.path.join(self.config_dir, os.path.basename(network_file) + ".d")

    def dropin(self, network_file, role, owner_name):
        return os.path.join(self.dropin_dir(network_file), f"{DROPIN_PREFIX}{role}-{owner_name}.conf")

    def owned_dropins(self, role, owner_name):
        """Every drop-in of ours that ``role owner_name`` placed, on whatever link."""
        pattern = os.path.join(glob.escape(self.config_dir), "*.network.d",
                               glob.escape(f"{DROPIN_PREFIX}{role}-{owner_name}.conf"))
        return sorted(path for path in glob.glob(pattern) if is_ours(self.read(path)))

    def dropins_of(self, network_file):
        """All drop-ins (ours or not) of one .network file."""
        return sorted(glob.glob(os.path.join(glob.escape(self.dropin_dir(network_file)), "*.conf")))

    def netdev_files(self):
        return sorted(glob.glob(os.path.join(glob.escape(self.config_dir), glob.escape(PREFIX) + "*.netdev")))

    @staticmethod
    def read(path):
        return read_text(path)

    @staticmethod
    def write(path, content):
        # Atomically: networkd may reload at any moment and must never see half a file.
        write_atomic(path, content, what="networkd file")

    @staticmethod
    def remove(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        directory = os.path.dirname(path)
        if directory.endswith(".network.d"):
            try:
                os.rmdir(directory)  # only when it is empty
            except OSError:
                pass
