# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network partitions on systemd-networkd: bridges, VLANs and bonds.

``units``       the .netdev/.network files we own (model, renderer, header, drop-ins)
``observe``     the running state, from ``ip -j``, ``bridge -j`` and ``networkctl --json``
``links``       what a bridge, a VLAN or a bond declares: files, attachments, runtime fields
``engine``      the reconcile Resource: validation, the plan, management-path decisions
``management``  which interfaces carry the management address or the default route
``transaction`` apply with a backup, a probe and an automatic rollback
``partitions``  one inventory description -> the trunk, VLANs and bridges of each partition
``libvirt_networks`` libvirt networks of forward mode bridge, named after the partitions
"""
