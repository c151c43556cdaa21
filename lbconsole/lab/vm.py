"""The qemu VM that holds the directors (this kernel has no ip_vs; Debian's has).

qemu runs in lbc-sw's network namespace so it opens the taps bridged into br0; TCG because
KVM does not work here. The VM sees the host's root read-only plus the lab directory writable
over 9p, so the same node boot script runs inside it. A control queue in vm/ctl lets the host
run commands in the VM's root namespace without the network (e.g. to start a stopped sshd)."""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import time
from pathlib import Path

from lbconsole.lab import kernel
from lbconsole.lab import topology as t
from lbconsole.lab.errors import LabError
from lbconsole.lab.proc import alive, read_pid, record_pid, sh
from lbconsole.lab.scripts import vm_init

PIDFILE = t.VM_DIR / "qemu.pid"
CONSOLE = t.VM_DIR / "console.log"
READY = t.VM_DIR / "ready"
CTL = t.VM_DIR / "ctl"
# The directors' /var/lib/lbconsole: a local ext4 disk, as on a real host. On the 9p lab share each
# create, rename or fsync of a record was a round trip to qemu on the host (about 15 ms under TCG).
STATE_DISK = t.VM_DIR / "state.img"
STATE_DISK_MB = 64
_ids = itertools.count()


def qemu_argv(version: str, initrd: str | Path) -> list[str]:
    argv = [
        "qemu-system-x86_64", "-name", "lbc-vm", "-nodefaults", "-no-user-config",
        "-accel", "tcg", "-cpu", "max", "-smp", str(t.VM_CPUS), "-m", str(t.VM_MEMORY_MB),
        "-kernel", str(kernel.vmlinuz(version)), "-initrd", str(initrd),
        "-append", "console=ttyS0 panic=-1 quiet",
        "-no-reboot", "-display", "none", "-monitor", "none", "-serial", f"file:{CONSOLE}",
        "-virtfs", "local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap",
        "-virtfs", f"local,path={t.LAB_DIR},mount_tag=lab,security_model=passthrough,multidevs=remap",
        "-drive", f"file={STATE_DISK},if=virtio,format=raw,cache=writeback",
        "-daemonize", "-pidfile", str(PIDFILE),
    ]
    for n in t.DIRECTORS:  # romfile= : no PXE option ROM, the VM boots -kernel
        argv += ["-netdev", f"tap,id=n-{n.name},ifname={n.tap},script=no,downscript=no",
                 "-device", f"virtio-net-pci,netdev=n-{n.name},mac={n.mac},romfile="]
    return argv


def start(progress: kernel.Progress | None = None) -> int:
    """Boot the VM (kernel fetched and initramfs built first, both cached); return qemu's pid."""
    version = kernel.fetch(progress)
    initrd = kernel.initramfs(version, progress)
    shutil.rmtree(CTL, ignore_errors=True)
    CTL.mkdir(parents=True)
    READY.unlink(missing_ok=True)
    CONSOLE.unlink(missing_ok=True)
    STATE_DISK.unlink(missing_ok=True)  # a new lab starts with empty node state, as the 9p directories did
    sh(["mkfs.ext4", "-q", "-F", "-L", "lbc-state", str(STATE_DISK), f"{STATE_DISK_MB}M"], timeout=60)
    script = t.BIN_DIR / "vm-init.sh"
    script.write_text(vm_init(version))
    os.chmod(script, 0o755)
    sh(qemu_argv(version, initrd), ns=t.SWITCH_NS, timeout=60)
    pid = read_pid(PIDFILE)
    if not pid:
        raise LabError(f"qemu started but wrote no pid to {PIDFILE}")
    record_pid("qemu", pid)
    return pid


def pid() -> int | None:
    p = read_pid(PIDFILE)
    return p if p and alive(p) else None


def console_tail(lines: int = 15) -> str:
    try:
        return "\n".join(CONSOLE.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no console log)"


def wait_ready(timeout: float) -> None:
    """Until the VM's init has wired and booted the directors."""
    deadline = time.monotonic() + timeout
    while not READY.exists() or not READY.read_text().strip():
        if pid() is None:
            raise LabError("the VM stopped while booting; its console ends:\n" + console_tail())
        if time.monotonic() > deadline:
            raise LabError(f"the VM did not boot in {timeout:g} s; its console ends:\n" + console_tail())
        time.sleep(0.2)
    said = READY.read_text().strip()
    if said != "up":
        raise LabError(f"the VM's init failed: {said}; its console ends:\n" + console_tail())


def exec_root(script: str, timeout: float = 30) -> tuple[int, str]:
    """Run a shell script in the VM's root namespace via the control queue; (exit code, output)."""
    if pid() is None:
        raise LabError("the VM is not running")
    name = f"{os.getpid()}-{next(_ids)}"
    tmp = CTL / f"{name}.tmp"
    tmp.write_text(script)
    tmp.rename(CTL / f"{name}.sh")  # the VM only picks up complete *.sh files
    rc_file, out_file = CTL / f"{name}.rc", CTL / f"{name}.out"
    deadline = time.monotonic() + timeout
    while not rc_file.exists():
        if time.monotonic() > deadline:
            raise LabError(f"the VM did not run a control command in {timeout:g} s")
        time.sleep(0.05)
    rc = int(rc_file.read_text().strip() or "1")
    out = out_file.read_text(errors="replace") if out_file.exists() else ""
    rc_file.unlink(missing_ok=True)
    out_file.unlink(missing_ok=True)
    return rc, out


def exec_node(node: t.Node, command: str, timeout: float = 30) -> tuple[int, str]:
    """Run command inside a director's namespaces (net, mount, UTS) from the VM's root."""
    holder = f"$(cat {node.dir}/holder.pid)"
    return exec_root(f"nsenter -t {holder} -n -m -u -r -w -- sh -c {shlex.quote(command)}", timeout)
