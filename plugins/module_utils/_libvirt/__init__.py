# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt guests: connection, domain XML model, identity, change classes, seed ISOs,
and the per-guest reconcile shared by the domain and guests modules."""
