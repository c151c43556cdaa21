"""reload: nginx -t first (a failing config is refused with its output, nothing touched), then
nginx -s reload, verified: the same master PID, a worker PID that was not there before, and no
[emerg]/[alert] line appended to the error log since (an apply-time failure such as a bind in use
exits 0 and keeps the old workers). Ported from lbconsole/actions/reload.py, without a shell:
the workers are read from /proc, the error log's path from `nginx -T`."""

import os
import re
import time
from typing import (
    Any,
    Dict,
    List,
)

from . import procs
from .protocol import REFUSED, UNAVAILABLE, NodeError

PID_FILE = "/run/nginx.pid"
DEFAULT_ERROR_LOG = "/var/log/nginx/error.log"
WORKERS_WAIT_S = 5.0
_BAD = re.compile(r"\[(emerg|alert)\]")


def _master() -> int:
    try:
        with open(PID_FILE, "r", encoding="ascii", errors="replace") as f:
            text = f.read().strip()
    except OSError:
        text = ""
    if not text.isdigit() or not os.path.exists("/proc/" + text):
        raise NodeError(REFUSED, f"nginx is not running (no live {PID_FILE}); nothing was touched")
    return int(text)


def workers(master: int) -> List[int]:
    """The PIDs whose parent is master, from /proc (no `ps`)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(master).encode():
            out.append(int(name))
    return sorted(out)


def error_log(dump: str) -> str:
    """The first absolute error_log of `nginx -T`, else Debian's default."""
    for line in dump.split("\n"):
        words = line.strip().rstrip(";").split()
        if len(words) >= 2 and words[0] == "error_log" and words[1].startswith("/"):
            return words[1].rstrip(";")
    return DEFAULT_ERROR_LOG


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _new_lines(path: str, offset: int) -> List[str]:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(1 << 20).decode("utf-8", "replace").splitlines()
    except OSError:
        return []


def reload(agent: Any, args: Dict[str, Any]) -> Dict[str, Any]:
    try:
        rc, out = procs.run(["nginx", "-t"])
    except procs.Missing as exc:
        raise NodeError(UNAVAILABLE, str(exc))
    if rc != 0:
        raise NodeError(REFUSED, "nginx -t failed; nothing was touched:\n" + out.strip()[-4000:])
    master = _master()
    _, dump = procs.run(["nginx", "-T"])
    log = error_log(dump)
    workers_before = workers(master)
    before = {"master_pid": master, "worker_pids": workers_before}
    offset = _size(log)
    rc, out = procs.run(["nginx", "-s", "reload"])
    deadline = time.monotonic() + WORKERS_WAIT_S
    new: List[int] = []
    old = set(workers_before)
    while rc == 0 and time.monotonic() < deadline:
        new = [w for w in workers(master) if w not in old]
        if new:
            break
        time.sleep(0.05)
    try:
        now = _master()
    except NodeError:
        now = None
    after = {"master_pid": now, "worker_pids": workers(now) if now else []}
    bad = [ln for ln in _new_lines(log, offset) if _BAD.search(ln)]
    problems = []
    if rc != 0:
        problems.append("nginx -s reload failed: " + out.strip()[-2000:])
    if now != master:
        problems.append("master PID changed: {} -> {} (nginx restarted or died)".format(master, now or "none"))
    if rc == 0 and not new:
        problems.append(f"no new worker within {WORKERS_WAIT_S:g} s")
    if bad:
        problems.append(f"{len(bad)} [emerg]/[alert] line(s) in {log} since the reload: {bad[-1][-300:]}")
    if problems:
        detail = "reload of nginx NOT verified: " + "; ".join(problems)
    else:
        detail = "reloaded nginx: master {} kept, new worker(s) {}, no [emerg]/[alert] in {}".format(
            master, " ".join(map(str, new)), log)
    return {"before": before, "after": after, "verified": not problems, "detail": detail}
