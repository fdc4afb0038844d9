"""Verify the hypervisor role on a real lab blade (testinfra over SSH)."""

MODULES = ["8021q", "dm_thin_pool", "bridge"]


def test_libvirtd_is_enabled_and_running(host):
    libvirtd = host.service("libvirtd")
    assert libvirtd.is_enabled
    assert libvirtd.is_running


def test_libvirtd_no_longer_exits_when_idle(host):
    # Debian's default --timeout 120 would stop it between runs; our drop-in clears it.
    cmdline = host.check_output("cat /proc/$(pidof libvirtd)/cmdline | tr '\\0' ' '")
    assert "--timeout" not in cmdline


def test_kernel_modules_are_loaded_and_persisted(host):
    for name in MODULES:
        assert host.file(f"/sys/module/{name}").is_directory, name
    lines = host.file("/etc/modules-load.d/openblade-kvm.conf").content_string.splitlines()
    assert lines[0].startswith("# Managed by openblade.kvm")
    assert sorted(line for line in lines[1:] if line) == sorted(MODULES)


def test_virsh_answers(host):
    version = host.run("virsh -c qemu:///system version")
    assert version.rc == 0, version.stderr
    assert "Using library: libvirt 9." in version.stdout
    assert "Running hypervisor: QEMU" in version.stdout
