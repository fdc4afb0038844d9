# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option docs shared by offsite_copy, offsite_check and offsite_restore: the restic repository."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  guest:
    description: The guest whose backup points are copied, checked or restored.
    type: str
    required: true
  repository:
    description:
      - The restic repository on the off-site host, in restic's SFTP form C(sftp:[user@]host:/absolute/path).
      - The off-site host needs only sshd and the directory; restic runs here and reaches it over SFTP as this blade's root.
    type: str
    required: true
  password:
    description:
      - The repository's password (its key encrypts everything in it). Keep it in Ansible Vault.
      - It is written for the run into a private 0600 file under C(/run), named to restic by C(RESTIC_PASSWORD_FILE), and removed after;
        it is never in a command line, the module's output, a diff or a log.
      - One of O(password) and O(password_file) is required.
    type: str
  password_file:
    description: A file on this blade that holds the repository's password (instead of O(password)).
    type: path
  ssh_port:
    description: The SSH port of the off-site host.
    type: int
  ssh_identity:
    description: The private key this blade uses for the off-site host (default, root's own keys).
    type: path
  restic:
    description: The restic program (Debian's C(restic) package, 0.14 or later).
    type: path
    default: restic
notes:
  - Root here needs key-based SSH access to the off-site host, with its host key known (C(ssh -o BatchMode=yes) is used).
  - Runs of these modules for one guest on one blade wait for each other (a lock in C(/run/lock/openblade-kvm)); restic itself locks the
    repository.
requirements:
  - restic 0.14 or later on this blade; sshd with the SFTP subsystem on the off-site host.
"""
