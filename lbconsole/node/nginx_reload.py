"""nginx on the node: dump, test, reload, and the proof that a reload took.

Runs on the node: Python 3.6+, standard library only; nginx is exec'd with an
argument list, never through a shell. The rules are those of
lbconsole/actions/reload.py: a reload is verified when `nginx -t` passed, the
master PID is unchanged, a worker appeared that was not there before, and no
[emerg] or [alert] line was written to the error log since (an apply-time
failure such as a bind in use exits 0 and leaves the old workers).
"""

# Python 3.6 on the node: typing generics and str.format, not the 3.9+ spellings.
# ruff: noqa: UP032, UP022

import os
import re
import subprocess
import time
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from lbconsole.node import nginx_conf, procs, upstream_conf

WORKERS_WAIT_S = 5.0
COMMAND_TIMEOUT_S = 30.0
MAX_LOG_READ = 1 << 20
_BAD = re.compile(r"\[(emerg|alert)\]")


class NginxError(Exception):
    """nginx could not be run or answered with a failure; the message is nginx's own words."""


class NginxState:
    def __init__(self, master: Optional[int], workers: Set[int], log_sizes: Dict[str, int]) -> None:
        self.master, self.workers, self.log_sizes = master, workers, log_sizes

    def to_dict(self) -> Dict[str, Any]:
        return {"master_pid": self.master, "worker_pids": sorted(self.workers)}


class Nginx:
    """How to run this node's nginx: argv is ["nginx"] in production, with -c/-p in tests."""

    def __init__(self, argv: Sequence[str] = ("nginx",), timeout: float = COMMAND_TIMEOUT_S) -> None:
        self.argv, self.timeout = list(argv), timeout

    def run(self, *args: str) -> Tuple[int, str, str]:
        try:
            # A fixed PATH: a login without /usr/sbin on its PATH still finds nginx.
            out = subprocess.run(self.argv + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL, timeout=self.timeout, check=False, env=procs.ENV)
        except FileNotFoundError:
            raise NginxError("nginx is not installed ({} not found)".format(self.argv[0])) from None
        except subprocess.TimeoutExpired:
            raise NginxError("{} did not finish in {:g} s".format(" ".join(self.argv + list(args)),
                                                                  self.timeout)) from None
        return (out.returncode, out.stdout.decode("utf-8", "surrogateescape"),
                out.stderr.decode("utf-8", "replace").strip())

    def dump(self) -> str:
        rc, out, err = self.run("-T")
        if rc != 0:
            raise NginxError("nginx -T failed: {}".format(err or "exit {}".format(rc)))
        return out

    def test(self) -> Tuple[bool, str]:
        rc, _, err = self.run("-t")
        return rc == 0, err

    def reload(self) -> Tuple[bool, str]:
        rc, _, err = self.run("-s", "reload")
        return rc == 0, err


def config_paths(nginx: Nginx, prefix: Optional[str] = None) -> Tuple[str, List[str]]:
    """(pid file, error logs) of the config nginx runs, read from `nginx -T` with nginx's own lexer.
    Raises NginxError (nginx -T failed) or ValueError (a dump that cannot be read)."""
    read = upstream_conf.read(nginx_conf.Config.from_dump(nginx.dump()), _no_resolve, prefix)
    return read["pid_file"], read["error_logs"]


def _no_resolve(host: str, port: int) -> List[str]:
    return []  # only the paths are wanted: no name lookups


def read_pid(pid_file: str) -> Optional[int]:
    try:
        with open(pid_file) as f:
            text = f.read().strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    pid = int(text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return pid


def children(pid: int) -> Set[int]:
    """PIDs whose parent is pid, from /proc (no ps)."""
    out = set()  # type: Set[int]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/{}/stat".format(entry)) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(pid):
            out.add(int(entry))
    return out


def state(pid_file: str, error_logs: Sequence[str]) -> NginxState:
    master = read_pid(pid_file)
    sizes = {}  # type: Dict[str, int]
    for log in error_logs:
        try:
            sizes[log] = os.stat(log).st_size
        except OSError:
            sizes[log] = 0
    return NginxState(master, children(master) if master else set(), sizes)


def new_bad_lines(before: NginxState) -> List[str]:
    """[emerg]/[alert] lines written to the error logs since `before` was taken."""
    bad = []  # type: List[str]
    for log, size in before.log_sizes.items():
        try:
            with open(log, "rb") as f:
                end = os.fstat(f.fileno()).st_size
                f.seek(size if end >= size else 0)
                data = f.read(MAX_LOG_READ)
        except OSError:
            continue
        bad.extend(ln for ln in data.decode("utf-8", "replace").split("\n") if _BAD.search(ln))
    return bad


def reload_verified(nginx: Nginx, pid_file: str, error_logs: Sequence[str], before: NginxState,
                    wait_s: float = WORKERS_WAIT_S) -> Dict[str, Any]:
    """Signal the reload, wait for a new worker, and say whether it is proven: {"verified", "problems", ...}."""
    ok, err = nginx.reload()
    after = before
    deadline = time.monotonic() + wait_s
    while True:
        after = state(pid_file, error_logs)
        if not ok or after.workers - before.workers or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    bad = new_bad_lines(before)
    problems = []  # type: List[str]
    if not ok:
        problems.append("nginx -s reload failed: {}".format(err or "no message"))
    if after.master != before.master:
        problems.append("master PID changed: {} -> {} (nginx restarted or died)".format(
            before.master, after.master or "none"))
    new = after.workers - before.workers
    if not new:
        problems.append("no new worker within {:g} s (workers still {})".format(
            wait_s, " ".join(str(p) for p in sorted(after.workers)) or "none"))
    if bad:
        problems.append("{} [emerg]/[alert] line(s) in the error log since the reload, the last: {}".format(
            len(bad), bad[-1][-300:]))
    return {"verified": not problems, "problems": problems, "bad_lines": bad, "new_workers": sorted(new),
            "before": before.to_dict(), "after": after.to_dict()}
