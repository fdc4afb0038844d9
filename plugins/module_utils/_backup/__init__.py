# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest backups onto another blade, and restores from them.

names      the LV names and tags of source snapshots and target backup points
retention  which backup points a daily/weekly/monthly policy keeps (pure)
stream     the framed, checksummed data stream between two blades (sender and receiver)
quiesce    freezing a guest's filesystems through the QEMU guest agent, always thawed
target     the backup target blade: its points, the one being written, the definitions
backup     the guest_backup Resource;  restore   the guest_restore Resource
"""
