"""The program's command line. Exactly two forms serve (the ones sudoers allows) and one prints
the version:
  lbconsole-node serve [--read-only]
  lbconsole-node version
"""

import hashlib
import sys
from typing import (
    List,
    Optional,
)

from . import VERSION

USAGE = "usage: lbconsole-node serve [--read-only] | lbconsole-node version\n"


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def main(argv: List[str], code_sha: Optional[str] = None, mode: str = "installed", program_path: Optional[str] = None) -> int:
    """argv without the program name. code_sha: known already (bootstrap); else the sha256
    of program_path (the installed file), else of the program built from this package."""
    if argv not in (["serve"], ["serve", "--read-only"], ["version"]):
        sys.stderr.write(USAGE)
        return 2
    if code_sha is None:
        if program_path:
            code_sha = file_sha256(program_path)
        else:
            from . import program
            code_sha = program.code_sha256()
            mode = "source"
    if argv == ["version"]:
        sys.stdout.write(f"lbconsole-node {VERSION} {code_sha}\n")
        return 0
    from .agent import Agent
    from .server import serve
    return serve(Agent(read_only=argv[1:] == ["--read-only"], code_sha256=code_sha, mode=mode))
