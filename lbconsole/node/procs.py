"""The few programs an action starts, as argv lists: no shell, a fixed PATH and locale."""

import subprocess
from typing import (
    List,
    Tuple,
)

ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}


class Missing(Exception):
    pass


def run(argv: List[str], timeout: float = 30.0) -> Tuple[int, str]:
    """(exit status, stdout + stderr as text). Raises Missing when the program is not there."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=ENV, close_fds=True)
    except FileNotFoundError:
        raise Missing(f"{argv[0]} is not installed")
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return 124, out.decode("utf-8", "replace") + f"\n(timed out after {timeout:g} s)"
    return proc.returncode, out.decode("utf-8", "replace")
