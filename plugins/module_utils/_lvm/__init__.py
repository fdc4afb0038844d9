# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""LVM thin provisioning: pools, thin volumes, golden images, thin clones, snapshots.

commands   argv builders for every command the package runs (pinned by unit tests)
report     pvs/vgs/lvs in JSON with explicit fields, parsed into PV/VG/LV records
tags       the ownership marker and key=value tags, with LVM's tag rules
sizes      absolute and percentage sizes, rounded to the VG extent size
inuse      who uses a volume: open, mounted, held, or referenced by a libvirt domain
base       what every LVM resource shares (lock, overcommit, activation, resize)
thinpool, volume, golden, clone, snapshot   the Resources of the modules
"""
