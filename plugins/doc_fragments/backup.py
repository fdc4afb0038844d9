# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option docs shared by guest_backup and guest_restore: the other blade, reached over SSH."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  ssh_user:
    description: The user on the other blade (the backup blade).
    type: str
    default: root
  ssh_port:
    description: The SSH port of the other blade.
    type: int
  ssh_identity:
    description: The private key this blade uses for the other blade (default, root's own keys).
    type: path
  backup_dir:
    description: The directory of the guests' backed-up definitions on the backup blade.
    type: path
    default: /var/lib/openblade/backups
  uri:
    description: The libvirt URI on this blade.
    type: str
    default: qemu:///system
notes:
  - Root here needs key-based SSH access to root on the other blade, with its host key known. A run uses one multiplexed SSH connection
    (its control socket is in C(/run/lock/openblade-kvm)) for the LVM commands, the data and the checksums there.
"""
