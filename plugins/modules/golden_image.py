#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: golden_image
short_description: Import a raw or qcow2 image (a file or a URL) into a thin LV, once per version, as a golden image for clones
version_added: 1.0.0
description:
  - Imports the image file O(src) on the host, or the image at O(url), into the new thin volume C(NAME-VERSION) in thin pool O(pool) with C(qemu-img convert),
    writing only the blocks that hold data, so the pool holds only what the image holds.
  - Records the image name, version and the source's SHA-256 checksum in LV tags (C(ob_image=), C(ob_version=), C(ob_sha256=))
    and marks the LV as golden (C(ob_golden)).
    M(openblade.kvm.lvm_clone) makes guest disks from it.
  - Importing the same version with the same checksum again is a no-op.
    The same version with a different checksum is an error; a new image gets a new O(version), which is a new LV next to the old one.
    Old versions stay until they are removed explicitly (M(openblade.kvm.lvm_volume) with C(state=absent)).
  - An import that was interrupted (the LV still carries C(ob_importing)) is removed and redone on the next run.
  - Refuses an image with a backing file, and a raw O(format) for a file that starts with a qcow2 header.
  - With an C(http) or C(https) O(url), the image is downloaded into O(cache_dir) on the host first, and only when this version
    is not imported yet; a re-run of an imported version downloads nothing.
    The download goes to a C(.part) file; an interrupted one is resumed with an HTTP C(Range) request on the next run.
    It is checked against O(checksum) before anything uses it; a mismatching download is deleted and nothing is imported.
author: openblade.kvm developers (@openblade)
options:
  pool:
    description: The thin pool to import into.
    type: str
    required: true
  name:
    description: Image name, for example C(debian12). The LV is C(NAME-VERSION).
    type: str
    required: true
  version:
    description:
      - Image version, for example C(2024.06.01) or C(12.5-1). Quote it in YAML, so C(1.10) does not become C(1.1).
      - "Allowed characters: C(A-Z a-z 0-9 + _ . -), not starting with C(-)."
    type: str
    required: true
  src:
    description:
      - The image file on the target host.
      - Exactly one of O(src) and O(url) is required.
    type: path
  url:
    description:
      - Where to get the image, C(http://), C(https://) or C(file://) (a file on the target host, the same as O(src)).
      - An C(http) or C(https) URL needs O(checksum). The target host downloads it, so it must reach the URL (or a proxy, see O(use_proxy)).
      - The C(download) result and error messages show the URL without a password it may hold (C(https://user:password@host/path)).
    type: str
  cache_dir:
    description:
      - Directory on the target host for downloads. The file is C(NAME-VERSION-ALGORITHM-DIGEST.FORMAT), with C(.part) appended
        while it is incomplete, so a partial download is only ever resumed into the same content.
    type: path
    default: /var/lib/openblade/images
  keep_download:
    description:
      - Keep the downloaded file in O(cache_dir) after a successful import. By default it is removed, since the LV holds the image
        and re-runs need no file.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for the server, per connection attempt and read (not for the whole download).
    type: float
    default: 10
  validate_certs:
    description: Verify the server's TLS certificate for C(https) URLs. Set to V(false) only for a server you trust by other means.
    type: bool
    default: true
  use_proxy:
    description: Use the proxy that the target host's C(http_proxy)/C(https_proxy)/C(no_proxy) environment variables name.
    type: bool
    default: true
  format:
    description: Format of O(src). It is never guessed from the file, since guessing lets a raw image pose as qcow2.
    type: str
    required: true
    choices: [raw, qcow2]
  checksum:
    description:
      - The expected checksum of the image, C(ALGORITHM:HEX) as in M(ansible.builtin.get_url), with ALGORITHM one of C(sha256), C(sha384)
        or C(sha512); bare hex digits are read as C(sha256) (64 digits) or C(sha512) (128 digits).
      - Required with an C(http) or C(https) O(url). The file is checked against it before it is imported.
      - With it, a re-run compares it with the LV's tag and does not read the image at all (the file may even be gone).
        Without it, O(src) is read to compute its checksum on every run.
      - The LV records the image's SHA-256 always, and the given checksum when it is of another algorithm.
    type: str
  size:
    description:
      - Virtual size of the golden LV; at least the image's virtual size, which is the default.
      - Clones can be grown later anyway (M(openblade.kvm.lvm_clone) O(openblade.kvm.lvm_clone#module:size)).
    type: str
  read_only:
    description: Make the golden LV read-only once it is imported, so nothing writes to the image that clones share.
    type: bool
    default: true
extends_documentation_fragment:
  - openblade.kvm.attributes
  - openblade.kvm.lvm
notes:
  - Like every LVM module, it holds the volume group's lock for the whole import, so another run's plan never sees a half-imported image
    or a pool that changes under it; a run that waits longer than 60 seconds for it fails and names the holder.
  - A killed import is recognised by its C(ob_importing) tag and redone by the next run; qemu-img dies with the module.
  - Check mode inspects O(src) with C(qemu-img info) and computes its checksum too, so it fails the same way a real run would.
  - Check mode never downloads. For an O(url) that is not downloaded yet, it reports the download and the import; the image is
    inspected (backing file, format, virtual size against O(size)) once it is downloaded, so those checks happen in the real run only.
seealso:
  - module: openblade.kvm.lvm_clone
  - module: ansible.builtin.get_url
  - module: openblade.kvm.lvm_thinpool
"""

EXAMPLES = r"""
- name: Debian 12 golden image
  openblade.kvm.golden_image:
    vg: vg_guests
    pool: thinpool
    name: debian12
    version: "20240601"
    src: /var/lib/openblade/images/debian-12-genericcloud-amd64-20240601.qcow2
    format: qcow2
    checksum: sha256:0c4a3bb2b0ba2e3f4d1d3e0d4fa0a1b4c2d9e1f3a6b7c8d9e0f1a2b3c4d5e6f7

- name: The same, downloaded by each blade from a mirror (once per version; resumed if interrupted)
  openblade.kvm.golden_image:
    vg: vg_guests
    pool: thinpool
    name: debian12
    version: "20240601"
    url: https://mirror.example.org/images/debian-12-genericcloud-amd64-20240601.qcow2
    checksum: "sha512:{{ debian12_sha512 }}"
    format: qcow2
"""

RETURN = r"""
actions:
  description: What was done, or would be done in check mode.
  returned: always
  type: list
  elements: str
  sample: ["create thin volume vg_guests/debian12-20240601 of 2 GiB in thin pool thinpool for image debian12 version 20240601",
           "import /var/lib/openblade/images/debian12.qcow2 (qcow2) into vg_guests/debian12-20240601, writing only allocated blocks",
           "mark vg_guests/debian12-20240601 as golden image debian12 version 20240601 (sha256 0c4a3bb2b0ba..., read-only)"]
image:
  description: The golden image. Sizes are in bytes.
  returned: success
  type: dict
  contains:
    name: {description: Image name., type: str, returned: always}
    version: {description: Image version., type: str, returned: always}
    lv: {description: "The LV name, NAME-VERSION; pass it to lvm_clone as origin.", type: str, returned: always}
    vg: {description: The volume group., type: str, returned: always}
    path: {description: The device path., type: str, returned: always}
    sha256: {description: "SHA-256 of the source image (null in check mode before a download).", type: str, returned: always}
    checksum: {description: "The O(checksum) given, as ALGORITHM:HEX.", type: str, returned: when O(checksum) is given}
    size: {description: Virtual size of the LV (null in check mode before the import)., type: int, returned: always}
    read_only: {description: Whether the LV is read-only (null in check mode before the import)., type: bool, returned: always}
    versions: {description: Every completely imported version of this image in the volume group., type: list, elements: str, returned: always}
  sample: {name: debian12, version: "20240601", lv: debian12-20240601, vg: vg_guests, path: /dev/vg_guests/debian12-20240601,
           sha256: 0c4a3bb2b0ba2e3f4d1d3e0d4fa0a1b4c2d9e1f3a6b7c8d9e0f1a2b3c4d5e6f7, size: 2147483648, read_only: true,
           versions: ["20240501", "20240601"]}
download:
  description: The download of O(url). C(received) is 0 when nothing was downloaded (already imported, or check mode).
  returned: when O(url) is an http or https URL
  type: dict
  contains:
    url: {description: The URL (without a password)., type: str, returned: always}
    path: {description: The file in O(cache_dir)., type: str, returned: always}
    received: {description: Bytes received in this run., type: int, returned: always}
    resumed_from: {description: "The byte offset this run resumed an interrupted download from, or null.", type: int, returned: always}
  sample: {url: "https://mirror.example.org/images/debian-12-genericcloud-amd64-20240601.qcow2",
           path: /var/lib/openblade/images/debian12-20240601-sha512-2a1f0e0c5d3b4a69.qcow2, received: 348127232, resumed_from: null}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.golden import GoldenImage
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import run_module
from ansible_collections.openblade.kvm.plugins.module_utils._runner import Runner


def main():
    module = AnsibleModule(
        argument_spec=dict(
            vg=dict(type="str", required=True),
            pool=dict(type="str", required=True),
            name=dict(type="str", required=True),
            version=dict(type="str", required=True),
            src=dict(type="path"),
            url=dict(type="str"),
            cache_dir=dict(type="path", default="/var/lib/openblade/images"),
            keep_download=dict(type="bool", default=False),
            timeout=dict(type="float", default=10),
            validate_certs=dict(type="bool", default=True),
            use_proxy=dict(type="bool", default=True),
            format=dict(type="str", required=True, choices=["raw", "qcow2"]),
            checksum=dict(type="str"),
            size=dict(type="str"),
            read_only=dict(type="bool", default=True),
        ),
        mutually_exclusive=[("src", "url")],
        required_one_of=[("src", "url")],
        supports_check_mode=True,
    )
    run_module(module, lambda m: GoldenImage(Runner(m), m.params))


if __name__ == "__main__":
    main()
