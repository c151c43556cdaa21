"""The one program: this package as a single file, and the ways to start it.

- program_bytes(): what `lbconsole node install` writes to INSTALL_PATH (root, 0755): a
  Python zip application with a `#!/usr/bin/python3 -I` line, built from this package's
  files with fixed timestamps and modes, so the same checkout always gives the same bytes.
- code_sha256(): the sha256 of exactly those bytes. `hello` reports the same value when run
  from the installed file (it hashes itself), in bootstrap mode (the stub checks the bytes it
  was sent) and in-process, so the console can compare.
- bootstrap_argv() + bootstrap_payload(): run it without installing it (root sessions): the
  console starts the argv and writes the payload first on its stdin (see boot.py).
"""

import hashlib
import io
import os
import threading
import zipfile
from typing import (
    Dict,
    List,
    Tuple,
)

INSTALL_DIR = "/usr/local/lib/lbconsole"
INSTALL_PATH = INSTALL_DIR + "/lbconsole-node"
SHEBANG = b"#!/usr/bin/python3 -I\n"
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_MAIN = b"""# lbconsole-node: the node agent of lbconsole (docs/node-agent.md)
import sys
from lbconsole.node.cli import main
sys.exit(main(sys.argv[1:], program_path=sys.argv[0]))
"""
_ROOT_INIT = b'"""lbconsole, as shipped to a node: only its node package."""\n'
_lock = threading.Lock()
_cache: "Dict[str, bytes]" = {}


def _sources() -> List[Tuple[str, bytes]]:
    """(archive name, bytes) of every module of this package, sorted."""
    out = []
    for name in sorted(os.listdir(_PACKAGE_DIR)):
        if name.endswith(".py"):
            with open(os.path.join(_PACKAGE_DIR, name), "rb") as f:
                out.append(("lbconsole/node/" + name, f.read()))
    return out


def _entry(name: str, data: bytes, archive: zipfile.ZipFile) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o100644 << 16
    info.create_system = 3
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def program_bytes() -> bytes:
    """The installable program (bytes)."""
    with _lock:
        if "bytes" not in _cache:
            buf = io.BytesIO()
            buf.write(SHEBANG)
            with zipfile.ZipFile(buf, "w") as archive:
                _entry("__main__.py", _MAIN, archive)
                _entry("lbconsole/__init__.py", _ROOT_INIT, archive)
                for name, data in _sources():
                    _entry(name, data, archive)
            _cache["bytes"] = buf.getvalue()
        return _cache["bytes"]


def code_sha256() -> str:
    return hashlib.sha256(program_bytes()).hexdigest()


def bootstrap_payload() -> bytes:
    """What the console writes on the session's stdin before any request."""
    return program_bytes()


def bootstrap_argv(read_only: bool = False, python: str = "python3") -> List[str]:
    """The command line that runs the payload from stdin, in memory. One line of Python with
    the payload's length and sha256 in it; quote it for the remote shell as any argument."""
    data = program_bytes()
    stub = (f"import sys,io,hashlib,zipfile;n={len(data)};h={hashlib.sha256(data).hexdigest()!r};b=sys.stdin.buffer.read(n);"
            "(len(b)==n and hashlib.sha256(b).hexdigest()==h) or sys.exit('lbconsole-node: the program sent "
            "over the session is incomplete ('+str(len(b))+' of '+str(n)+' bytes)');"
            "z=zipfile.ZipFile(io.BytesIO(b));g={'__name__':'lbconsole_node_boot'};"
            "exec(compile(z.read('lbconsole/node/boot.py'),'<lbconsole-node>/lbconsole/node/boot.py','exec'),g);"
            "sys.exit(g['main'](z,h,sys.argv[1:]))")
    return [python, "-I", "-c", stub, "serve"] + (["--read-only"] if read_only else [])
