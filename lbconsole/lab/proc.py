"""Running commands for the lab: on the host, in a namespace, and PID book-keeping."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from lbconsole.lab.errors import LabError
from lbconsole.lab.topology import PIDS_DIR


def sh(args: Sequence[object], *, check: bool = True, timeout: float = 60, input: str | None = None,
       ns: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run args (in network namespace ns if given); a failure becomes a LabError naming the command."""
    argv = (["ip", "netns", "exec", ns] if ns else []) + [str(a) for a in args]
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input, cwd=cwd,
                             stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout:g} s: {' '.join(argv)}") from exc
    if check and res.returncode != 0:
        detail = (res.stderr or res.stdout).strip().splitlines()
        raise LabError(f"`{' '.join(argv)}` failed ({res.returncode}): {detail[-1] if detail else ''}")
    return res


def alive(pid: int) -> bool:
    """True if pid runs and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def record_pid(name: str, pid: int) -> None:
    """Remember a process the lab started, so `down` ends exactly those."""
    PIDS_DIR.mkdir(parents=True, exist_ok=True)
    (PIDS_DIR / f"{name}.pid").write_text(f"{pid}\n")


def recorded_pids() -> dict[str, int]:
    out = {}
    for p in sorted(PIDS_DIR.glob("*.pid")) if PIDS_DIR.is_dir() else ():
        pid = read_pid(p)
        if pid:
            out[p.stem] = pid
    return out


def forget_pid(name: str) -> None:
    (PIDS_DIR / f"{name}.pid").unlink(missing_ok=True)


def netns_pids(ns: str) -> list[int]:
    """Every process in network namespace ns (all of them are the lab's: it made the namespace)."""
    res = sh(["ip", "netns", "pids", ns], check=False)
    return [int(p) for p in res.stdout.split()] if res.returncode == 0 else []


def kill_pids(pids: Sequence[int], grace: float = 3.0) -> None:
    """SIGTERM, wait up to grace seconds, then SIGKILL what is left."""
    pids = [p for p in pids if p > 1 and p != os.getpid()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(alive(p) for p in pids):
            time.sleep(0.05)
        pids = [p for p in pids if alive(p)]
        if not pids:
            return
