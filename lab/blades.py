"""Boot, inspect and tear down the virtual blades.

Each blade is one QEMU process with:
  mgmt0   slirp with restrict=on, SSH forwarded to 127.0.0.1:<port>; nothing else
          leaves the blade, so it never reaches the host's real network;
  trunk0/1 two NICs on one vde_switch in hub mode (-x): a private L2 segment shared
          by all blades that passes 802.1Q tags untouched (switch mode drops them);
  vdb     a sparse data disk for LVM.
All run state lives in <repo>/.lab; `down` kills the PIDs recorded there and removes it.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("OPENBLADE_LAB_STATE", REPO / ".lab"))
INVENTORY = REPO / "inventories" / "lab" / "hosts.yml"
SSH_BASE_PORT = int(os.environ.get("OPENBLADE_LAB_SSH_PORT", "2221"))
MEMORY_MB = int(os.environ.get("OPENBLADE_LAB_MEMORY", "3072"))
CPUS = int(os.environ.get("OPENBLADE_LAB_CPUS", "2"))
DATA_DISK = os.environ.get("OPENBLADE_LAB_DATA_DISK", "20G")
BOOT_TIMEOUT = int(os.environ.get("OPENBLADE_LAB_BOOT_TIMEOUT", "600"))


def blade_name(index):
    return f"blade{index}"


def ssh_port(index):
    return SSH_BASE_PORT + index - 1


def kvm_usable():
    """KVM only where the CPU exposes vmx/svm and /dev/kvm opens; TCG otherwise."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    if " vmx" not in flags and " svm" not in flags:
        return False
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def _pid_alive(pidfile, expect):
    """PID from our pidfile, if that process still runs and is the one we started."""
    try:
        pid = int(Path(pidfile).read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError, IndexError):
        return None
    return pid if expect in cmdline else None


def _stop_pid(pidfile, expect, progress):
    pid = _pid_alive(pidfile, expect)
    if pid is None:
        return
    progress(f"stopping pid {pid} ({Path(pidfile).name})")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _pid_alive(pidfile, expect):
        time.sleep(0.2)
    if _pid_alive(pidfile, expect):
        os.kill(pid, signal.SIGKILL)


def running_image():
    """The image the running lab booted from (it holds the blades' SSH key)."""
    return (STATE / "image").resolve()


def ssh_argv(index, *command):
    return [
        "ssh", "-q", "-p", str(ssh_port(index)), "-i", str(running_image() / "id_ed25519"),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
        "root@127.0.0.1", *command,
    ]


def _ssh_ready(index):
    # A probe that hangs (sshd accepting but slow under load) is "not yet", not a failure:
    # the boot deadline in up() decides when to give up.
    try:
        probe = subprocess.run(ssh_argv(index, "true"), check=False, capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


def _start_switch():
    sock = STATE / "trunk.vde"
    pidfile = STATE / "vde_switch.pid"
    if _pid_alive(pidfile, "vde_switch"):
        return sock
    subprocess.run(
        ["vde_switch", "-x", "-s", str(sock), "-d", "-p", str(pidfile),
         "-M", str(STATE / "trunk.mgmt")],
        check=True,
    )
    return sock


def blade_cpu(index):
    """The CPU model TCG emulates for blade ``index``: ``max`` unless
    OPENBLADE_LAB_CPU_<index> names another QEMU model (``qemu-system-x86_64 -cpu help``),
    so a lab can mix CPU generations (the cluster's baseline CPU model is tested so)."""
    return os.environ.get(f"OPENBLADE_LAB_CPU_{index}", "max")


def _qemu_argv(image, index, switch_sock):
    name = blade_name(index)
    append = f"root=LABEL=bladeroot rw console=ttyS0 systemd.hostname={name} net.ifnames=1"
    if kvm_usable():
        accel = ["-accel", "kvm", "-cpu", "host"]
    else:
        # TCG's "max" CPU emulates SVM, so a blade would load kvm_amd and claim a KVM
        # that is only emulation. Keep KVM out of the blades; they report TCG honestly.
        # (Masking the flag with "max,-svm" breaks glibc in the initramfs on QEMU 7.2.)
        accel = ["-accel", "tcg,thread=multi", "-cpu", blade_cpu(index)]
        append += " modprobe.blacklist=kvm,kvm_amd,kvm_intel"
    mac = f"52:54:00:0b:{index:02x}"
    return [
        "qemu-system-x86_64", "-name", name, "-machine", "pc", *accel,
        "-smp", str(CPUS), "-m", str(MEMORY_MB),
        "-kernel", str(image / "vmlinuz"), "-initrd", str(image / "initrd.img"),
        "-append", append,
        "-drive", f"file={STATE / name / 'root.qcow2'},if=none,id=root,format=qcow2,discard=unmap",
        "-device", "virtio-blk-pci,drive=root,addr=0x6",
        "-drive", f"file={STATE / name / 'data.qcow2'},if=none,id=data,format=qcow2,discard=unmap",
        "-device", "virtio-blk-pci,drive=data,addr=0x7,serial=bladedata",
        "-netdev", f"user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:{ssh_port(index)}-:22",
        "-device", f"virtio-net-pci,netdev=mgmt,mac={mac}:01,addr=0x3",
        "-netdev", f"vde,id=trunk0,sock={switch_sock}",
        "-device", f"virtio-net-pci,netdev=trunk0,mac={mac}:10,addr=0x4",
        "-netdev", f"vde,id=trunk1,sock={switch_sock}",
        "-device", f"virtio-net-pci,netdev=trunk1,mac={mac}:11,addr=0x5",
        "-display", "none", "-vga", "none",
        "-serial", f"file:{STATE / name / 'console.log'}",
        "-pidfile", str(STATE / name / "qemu.pid"), "-daemonize",
    ]


def _create_disks(image, index):
    blade_dir = STATE / blade_name(index)
    blade_dir.mkdir(parents=True, exist_ok=True)
    root = blade_dir / "root.qcow2"
    if not root.exists():
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw",
                        "-b", str(image / "root.img"), str(root)], check=True)
    data = blade_dir / "data.qcow2"
    if not data.exists():
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(data), DATA_DISK], check=True)


def running_blades():
    return sorted(
        int(p.parent.name.removeprefix("blade"))
        for p in STATE.glob("blade*/qemu.pid")
        if _pid_alive(p, "qemu-system")
    )


def up(image, count, progress):
    """Boot blades 1..count that are not running yet, from ``image``."""
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / "image").unlink(missing_ok=True)
    (STATE / "image").symlink_to(image)
    switch_sock = _start_switch()
    started = time.monotonic()
    booting = []
    for index in range(1, count + 1):
        pidfile = STATE / blade_name(index) / "qemu.pid"
        if _pid_alive(pidfile, "qemu-system"):
            continue
        _create_disks(image, index)
        progress(f"booting {blade_name(index)} (ssh 127.0.0.1:{ssh_port(index)}, "
                 f"{'KVM' if kvm_usable() else 'TCG'})")
        subprocess.run(_qemu_argv(image, index, switch_sock), check=True)
        booting.append(index)
    deadline = time.monotonic() + BOOT_TIMEOUT
    waiting = set(booting)
    last_report = 0.0
    while waiting:
        for index in sorted(waiting):
            if _ssh_ready(index):
                progress(f"{blade_name(index)} answers SSH after {time.monotonic() - started:.0f}s")
                waiting.discard(index)
        if not waiting:
            break
        if time.monotonic() > deadline:
            raise SystemExit(
                "lab: no SSH from " + ", ".join(blade_name(i) for i in sorted(waiting))
                + f" after {BOOT_TIMEOUT}s; see {STATE}/<blade>/console.log"
            )
        if time.monotonic() - last_report > 30:
            progress(f"waiting for SSH on {', '.join(blade_name(i) for i in sorted(waiting))} "
                     f"({time.monotonic() - started:.0f}s)")
            last_report = time.monotonic()
        time.sleep(3)
    write_inventory()
    return running_blades()


def down(progress):
    if not STATE.exists():
        progress("lab is not running")
        return
    for pidfile in STATE.glob("blade*/qemu.pid"):
        _stop_pid(pidfile, "qemu-system", progress)
    _stop_pid(STATE / "vde_switch.pid", "vde_switch", progress)
    subprocess.run(["rm", "-rf", "--one-file-system", str(STATE)], check=True)
    INVENTORY.unlink(missing_ok=True)
    progress("lab is down")


def stop(index, progress):
    """Stop one blade (its QEMU, by the PID the lab recorded), as a power loss would:
    SIGKILL, no shutdown.  Its disks stay, so `up` boots it again."""
    pidfile = STATE / blade_name(index) / "qemu.pid"
    pid = _pid_alive(pidfile, "qemu-system")
    if pid is None:
        progress(f"{blade_name(index)} is not running")
        return
    progress(f"stopping {blade_name(index)} (pid {pid}, SIGKILL)")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _pid_alive(pidfile, "qemu-system"):
        time.sleep(0.2)


def status():
    rows = []
    for index in running_blades():
        rows.append({
            "blade": blade_name(index),
            "ssh": f"127.0.0.1:{ssh_port(index)}",
            "pid": _pid_alive(STATE / blade_name(index) / "qemu.pid", "qemu-system"),
            "reachable": _ssh_ready(index),
        })
    return rows


def write_inventory():
    """Ansible inventory for the running blades (generated; group_vars stay in git)."""
    hosts = {}
    for index in running_blades():
        hosts[blade_name(index)] = {
            "ansible_host": "127.0.0.1",
            "ansible_port": ssh_port(index),
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(running_image() / "id_ed25519"),
            "ansible_python_interpreter": "/usr/bin/python3",
            "lab_blade_index": index,
        }
    INVENTORY.parent.mkdir(parents=True, exist_ok=True)
    # JSON is valid YAML; the header marks the file as generated by us.
    INVENTORY.write_text(
        "# Generated by `lab up` (openblade.kvm); rewritten on every run, removed by `lab down`.\n"
        + json.dumps({"all": {"children": {"blades": {"hosts": hosts}}}}, indent=2) + "\n"
    )
    return INVENTORY
