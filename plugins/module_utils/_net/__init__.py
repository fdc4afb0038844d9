# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network partitions on systemd-networkd: bridges, VLANs and bonds.

``units``       the .netdev/.network files we own (model, renderer, header, drop-ins)
``observe``     the running state, from ``ip -j``, ``bridge -j`` and ``networkctl --json``
``links``       what a bridge, a VLAN or a bond declares: files, attachments, runtime fields
``engine``      the reconcile Resource: observe, desired and the plan, from the pieces below
``files``       which of our files a set of specs covers, their content now and wanted
``validation``  refusals against the running links, before anything changes
``steps``       the runtime steps networkd does not do by itself on reload
``guard``       the management guard: probe and rollback, or a refusal
``verify``      what still differs between the kernel and the configuration
``management``  which interfaces carry the management address or the default route
``transaction`` apply with a backup, a probe and an automatic rollback
``partitions``  one inventory description -> the trunk, VLANs and bridges of each partition
``libvirt_networks`` libvirt networks of forward mode bridge, named after the partitions
"""
