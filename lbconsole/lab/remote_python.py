"""Run a Python script on a lab node with this checkout's lbconsole (and, if asked, pyroute2).

The code travels over the lab's ssh as a tarball, unpacked under /var/tmp on the node and
removed afterwards: the VM's 9p view of the host can be stale, and nothing made by hand on one
machine (a venv outside the checkout) is assumed to exist. The node's own python3 runs it.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import tarfile
from pathlib import Path

from lbconsole.lab.access import run
from lbconsole.lab.errors import LabError

PACKAGE = Path(__file__).resolve().parents[1]


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise LabError(f"{name} is not installed in this Python ({name} is needed on the node)")
    return Path(next(iter(spec.submodule_search_locations)))


def _skip(ti: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if "__pycache__" in ti.name else ti


def bundle(main: str, packages: tuple[str, ...] = ()) -> bytes:
    """A gzipped tarball of lbconsole, the named installed packages and main.py."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(PACKAGE, "lbconsole", filter=_skip)
        for name in packages:
            tar.add(_package_dir(name), name, filter=_skip)
        data = main.encode()
        info = tarfile.TarInfo("main.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def run_python(node: str, main: str, *, netns: str | None = None, packages: tuple[str, ...] = (),
               timeout: float = 600) -> str:
    """Run the source `main` as a script on lab node `node` (in its network namespace `netns`
    if given) with lbconsole and `packages` importable; its stdout. A non-zero exit raises."""
    prefix = f"ip netns exec {netns} " if netns else ""
    cmd = ('d=$(mktemp -d /var/tmp/lbc-py.XXXXXX) && base64 -d | tar xz -C "$d" && chmod 755 "$d" && cd "$d" && '
           f'PYTHONPATH="$d" {prefix}python3 main.py; rc=$?; cd /; rm -rf "$d"; exit $rc')
    res = run(node, cmd, input=base64.b64encode(bundle(main, packages)).decode(), timeout=timeout)
    if res.returncode != 0:
        raise LabError(f"{node}: python exited {res.returncode}: {res.stderr.strip()[-3000:]}")
    return res.stdout
