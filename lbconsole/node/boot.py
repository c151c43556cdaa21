"""Bootstrap: run the program sent over the session, writing nothing to the node.

The console starts `python3 -I -c STUB serve` (program.bootstrap_argv) and writes the
program's bytes (a zip archive, program.bootstrap_payload) first on its stdin. The stub reads
exactly that many bytes, checks their sha256, and runs main() below from the archive; main()
puts an importer for the archive's modules first on sys.meta_path (in memory: zipimport
needs a file) and serves on the same stdin and stdout.
"""

import importlib.abc
import importlib.util
import sys
import zipfile
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import (
    Any,
    List,
    Optional,
    Tuple,
)

PREFIX = "lbconsole"


class ArchiveImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.names = set(archive.namelist())

    def _path(self, fullname: str) -> Tuple[Optional[str], bool]:
        base = fullname.replace(".", "/")
        if base + "/__init__.py" in self.names:
            return base + "/__init__.py", True
        if base + ".py" in self.names:
            return base + ".py", False
        return None, False

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Optional[ModuleSpec]:
        if fullname != PREFIX and not fullname.startswith(PREFIX + "."):
            return None
        where, package = self._path(fullname)
        if where is None:
            return None
        spec = importlib.util.spec_from_loader(fullname, self, origin="<lbconsole-node>/" + where,
                                               is_package=package)
        return spec

    def create_module(self, spec: ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        where, _ = self._path(module.__name__)
        if where is None:
            raise ImportError(module.__name__)
        module.__file__ = "<lbconsole-node>/" + where
        code = compile(self.archive.read(where), module.__file__, "exec")
        exec(code, module.__dict__)  # noqa: S102 - our own module, as import would


def main(archive: zipfile.ZipFile, code_sha: str, argv: List[str]) -> int:
    """Called by the stub with the archive (a zipfile.ZipFile in memory), the sha256 of its
    bytes as checked, and the command line after `-c`."""
    for name in [n for n in sys.modules if n == PREFIX or n.startswith(PREFIX + ".")]:
        del sys.modules[name]  # an lbconsole installed on the node must not mix in
    sys.meta_path.insert(0, ArchiveImporter(archive))
    from lbconsole.node import cli
    return cli.main(argv, code_sha=code_sha, mode="bootstrap")
