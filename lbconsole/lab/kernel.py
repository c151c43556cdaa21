"""Debian's kernel for the director VM: download once with apt-get, extract, depmod, and
build a busybox initramfs that loads what IPVS, 9p and the NICs need. Cached under cache/."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

from lbconsole.lab.errors import LabError
from lbconsole.lab.proc import sh
from lbconsole.lab.scripts import initramfs_init
from lbconsole.lab.topology import CACHE_DIR

KERNEL_DIR = CACHE_DIR / "kernel"  # dpkg -x of linux-image-*; VERSION names the kernel
META_PACKAGE = "linux-image-amd64"
BUSYBOX = Path("/bin/busybox")  # busybox-static

# Loaded in this order (each after its modules.dep dependencies).
MODULES = (
    "virtio_pci", "virtio_net", "9pnet_virtio", "9p", "overlay",
    "virtio_blk", "crc32c_generic", "ext4",  # the directors' own disk for /var/lib/lbconsole (vm.STATE_DISK)
    "nf_conntrack", "ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_wlc", "ip_vs_lc", "ip_vs_sh",
    "ip_vs_sed", "ip_vs_nq", "ip_vs_dh", "ip_vs_lblc", "ip_vs_lblcr", "ip_vs_fo", "ip_vs_ovf",
    "veth", "bridge",
)
Progress = Callable[[str], None]
# Soft dependencies modules.dep does not list: (module, must load first).
SOFTDEPS = {"libcrc32c": "crc32c_generic"}


def _say(progress: Progress | None, msg: str) -> None:
    if progress:
        progress(msg)


def kernel_package() -> str:
    """The versioned image package linux-image-amd64 depends on, e.g. linux-image-6.1.0-56-amd64."""
    for attempt in range(2):
        res = sh(["apt-cache", "depends", META_PACKAGE], check=False)
        for line in res.stdout.splitlines():
            dep = line.strip().removeprefix("Depends:").strip()
            if line.strip().startswith("Depends:") and dep.startswith("linux-image-"):
                return dep
        if attempt == 0:  # no package lists yet on a fresh machine
            sh(["apt-get", "update"], timeout=300, check=False)
    raise LabError(f"apt-cache knows no {META_PACKAGE}: check the Debian sources and `apt-get update`")


def fetch(progress: Progress | None = None) -> str:
    """Make sure the kernel is extracted in the cache; return its version. Downloads only once."""
    version_file = KERNEL_DIR / "VERSION"
    if version_file.is_file():
        return version_file.read_text().strip()
    package = kernel_package()
    version = package.removeprefix("linux-image-")
    deb_dir = CACHE_DIR / "deb"
    deb_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(deb_dir, 0o777)  # lets apt's sandbox user write there instead of warning
    _say(progress, f"downloading {package} (once; cached in {CACHE_DIR})")
    debs = list(deb_dir.glob(f"{package}_*.deb"))
    if not debs:
        sh(["apt-get", "download", package], timeout=600, check=True, cwd=deb_dir)
        debs = list(deb_dir.glob(f"{package}_*.deb"))
    if not debs:
        raise LabError(f"apt-get download {package} left no .deb in {deb_dir}")
    tmp = CACHE_DIR / "kernel.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    _say(progress, f"extracting {debs[0].name}")
    sh(["dpkg", "-x", debs[0], tmp], timeout=300)
    sh(["depmod", "-b", tmp, version], timeout=300)
    (tmp / "VERSION").write_text(version + "\n")
    shutil.rmtree(KERNEL_DIR, ignore_errors=True)
    tmp.rename(KERNEL_DIR)
    for deb in debs:  # 70 MB we no longer need
        deb.unlink()
    return version


def vmlinuz(version: str) -> Path:
    return KERNEL_DIR / "boot" / f"vmlinuz-{version}"


def modules_dir(version: str) -> Path:
    return KERNEL_DIR / "lib" / "modules" / version


def module_order(version: str, wanted: Iterable[str] = MODULES) -> list[str]:
    """Relative .ko paths of wanted and their dependencies, each after what it needs."""
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in (modules_dir(version) / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
        by_name[Path(path).name.split(".ko")[0].replace("-", "_")] = path
    order: list[str] = []

    def add(path: str) -> None:
        if path in order:
            return
        name = Path(path).name.split(".ko")[0]
        if name in SOFTDEPS:
            add(by_name[SOFTDEPS[name]])
        for dep in reversed(deps[path]):  # modules.dep lists the deepest dependency last
            add(dep)
        order.append(path)

    for name in wanted:
        if name not in by_name:
            raise LabError(f"kernel {version} has no module {name}")
        add(by_name[name])
    return order


def initramfs(version: str, progress: Progress | None = None) -> Path:
    """A cached cpio archive: static busybox, /init and the modules in load order."""
    out = CACHE_DIR / f"initramfs-{version}.cpio"
    init = initramfs_init() + "".join(f"# module {m}\n" for m in MODULES)  # a new module rebuilds it too
    stamp = out.with_suffix(".init")
    if out.is_file() and stamp.is_file() and stamp.read_text() == init:
        return out
    _say(progress, "building the VM's initramfs")
    root = CACHE_DIR / "initramfs.tmp"
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "proc", "sys", "dev", "modules"):
        (root / d).mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    (root / "init").write_text(initramfs_init())
    os.chmod(root / "init", 0o755)
    names = []
    for rel in module_order(version):
        name = Path(rel).name
        shutil.copy2(modules_dir(version) / rel, root / "modules" / name)
        names.append(name)
    (root / "modules" / "order").write_text("\n".join(names) + "\n")
    files = subprocess.run(["find", "."], cwd=root, capture_output=True, text=True, check=True).stdout
    with open(out, "wb") as f:
        subprocess.run(["cpio", "-o", "-H", "newc", "-R", "0:0", "--quiet"], cwd=root, input=files.encode(),
                       stdout=f, check=True)
    stamp.write_text(init)
    shutil.rmtree(root, ignore_errors=True)
    return out
