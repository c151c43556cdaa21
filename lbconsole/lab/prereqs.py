"""What `lbconsole lab up` needs from Debian, checked first: installed with apt-get, or named exactly.

Each package is probed by the commands the lab runs from it. The daemons the
packages bring must not start on the host (the lab runs its own in
namespaces), so the install runs with a policy-rc.d that forbids it, as CI does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from lbconsole.lab.errors import LabError

# Debian package -> the commands the lab uses from it.
PACKAGES: dict[str, tuple[str, ...]] = {
    "keepalived": ("keepalived",),
    "nginx-light": ("nginx",),
    "openssh-server": ("sshd",),
    "openssh-client": ("ssh", "ssh-keygen"),
    "ipvsadm": ("ipvsadm",),
    "qemu-system-x86": ("qemu-system-x86_64",),
    "busybox-static": ("busybox",),
    "kmod": ("depmod", "modprobe"),
    "cpio": ("cpio",),
    "curl": ("curl",),
    "iproute2": ("ip",),
    "util-linux": ("unshare", "nsenter"),
    "procps": ("ps",),
    "e2fsprogs": ("mkfs.ext4",),
}
SBIN = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
POLICY_RC = Path("/usr/sbin/policy-rc.d")


def missing(path: str | None = None) -> dict[str, list[str]]:
    """Package -> its commands not found (on PATH and the sbin directories); {} when all are there."""
    search = path if path is not None else f"{os.environ.get('PATH', '')}:{SBIN}"
    out: dict[str, list[str]] = {}
    for package, commands in PACKAGES.items():
        lost = [c for c in commands if shutil.which(c, path=search) is None]
        if lost:
            out[package] = lost
    return out


def describe(lost: dict[str, list[str]]) -> str:
    return ", ".join(f"{p} ({' '.join(c)})" for p, c in lost.items())


def ensure(say: Callable[[str], None], install: bool = True, path: str | None = None) -> None:
    """Install what is missing (root, apt-get), or raise LabError naming each missing package."""
    lost = missing(path)
    if not lost:
        return
    names = list(lost)
    if not install or os.geteuid() != 0 or shutil.which("apt-get", path=f"{path or ''}:{SBIN}") is None:
        raise LabError(f"the lab needs these Debian packages, missing here: {describe(lost)}; install them with: "
                       f"apt-get install --no-install-recommends {' '.join(names)}")
    say(f"installing the Debian packages the lab needs: {' '.join(names)}")
    _apt_install(names)
    still = missing(path)
    if still:
        raise LabError(f"apt-get did not install: {describe(still)}")


def _apt_install(names: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    made_policy = not POLICY_RC.exists()
    if made_policy:  # the packages' daemons must not start on the host
        POLICY_RC.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC.chmod(0o755)
    try:
        cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *names]
        if subprocess.run(cmd, env=env, capture_output=True, timeout=1800).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600)
            res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
            if res.returncode != 0:
                tail = (res.stderr.strip() or res.stdout.strip()).splitlines()[-1:] or ["?"]
                raise LabError(f"apt-get install {' '.join(names)} failed: {tail[0]}")
    finally:
        if made_policy:
            POLICY_RC.unlink(missing_ok=True)
