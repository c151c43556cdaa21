"""keepalived's VRRP dump, shared by every agent on the node: at most one signal per
`max_age` seconds however many consoles ask.

An flock'ed lock (/run/lbconsole/vrrp.lock) serialises the agents; the redacted dump is kept
in /run/lbconsole/vrrp.json (directory 0700, file 0600) with the time it was taken and the
keepalived PID it came from. An agent that finds it fresh (and from the running keepalived)
reads it instead of signalling. The signal number comes from `keepalived --signum=JSON`
(one process, so it is cached per binary path, mtime and PID in that file too), never
guessed: a wrong signal can stop keepalived. A dump is read only once keepalived finished
writing it: the JSON one when it parses, the data one when its size stops changing.
"""

import fcntl
import json
import os
import signal
import stat
import subprocess
import time
from typing import (
    Any,
    Dict,
    List,
    Optional,
    Tuple,
)

from . import vrrp

RUN_DIR = "/run/lbconsole"
LOCK_FILE = RUN_DIR + "/vrrp.lock"
CACHE_FILE = RUN_DIR + "/vrrp.json"
PID_FILE = "/run/keepalived.pid"
MIN_AGE_S = 0.5  # a floor under any dump_max_age a console asks for
WAIT_S = 5.0  # for keepalived to write a dump (seconds on a busy or emulated node)
# Signals keepalived uses for dumps (SIGUSR1 data, SIGUSR2 stats, real-time ones for JSON);
# anything else from --signum is refused rather than sent.
_SAFE = {signal.SIGUSR1, signal.SIGUSR2}


class NotRunning(Exception):
    pass


class DumpError(Exception):
    pass


def keepalived_pid() -> int:
    """The PID of the running keepalived (its parent process), or raise NotRunning."""
    try:
        with open(PID_FILE, "r", encoding="ascii", errors="replace") as f:
            text = f.read().strip()
    except FileNotFoundError:
        raise NotRunning(f"keepalived is not running (no {PID_FILE})")
    except OSError as exc:
        raise NotRunning(f"keepalived: cannot read {PID_FILE}: {exc.strerror}")
    if not text.isdigit():
        raise NotRunning(f"keepalived: {PID_FILE} holds no PID")
    pid = int(text)
    try:
        with open(f"/proc/{pid}/comm", "r", encoding="utf-8", errors="replace") as f:
            comm = f.read().strip()
    except OSError:
        raise NotRunning(f"keepalived is not running (pid {pid} gone)")
    if comm != "keepalived":
        raise NotRunning(f"keepalived is not running (pid {pid} is {comm!r}, a stale {PID_FILE})")
    return pid


def _safe_signal(num: int) -> bool:
    return num in _SAFE or signal.SIGRTMIN <= num <= signal.SIGRTMAX


def _run_dir() -> None:
    try:
        os.mkdir(RUN_DIR, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(RUN_DIR)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise DumpError(f"{RUN_DIR} is not a directory of ours: not used")
    if st.st_mode & 0o777 != 0o700:
        os.chmod(RUN_DIR, 0o700)


def _load_cache() -> Dict[str, Any]:
    try:
        with open(CACHE_FILE, "r", encoding="utf-8") as f:
            doc = json.load(f)
        return doc if isinstance(doc, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_cache(doc: Dict[str, Any]) -> None:
    tmp = f"{CACHE_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    os.rename(tmp, CACHE_FILE)


def _binary(pid: int) -> Tuple[str, str]:
    exe = os.readlink(f"/proc/{pid}/exe")
    if exe.endswith(" (deleted)"):  # upgraded under a running keepalived: ask the new binary
        exe = exe[:-10]
    return exe, f"{exe}:{os.stat(exe).st_mtime_ns}:{pid}"


def _signum(exe: str, kind: str) -> Optional[int]:
    """keepalived's signal number for a dump kind, or None (that build has no such dump)."""
    try:
        proc = subprocess.Popen([exe, "--signum=" + kind], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, close_fds=True)
        out, _ = proc.communicate(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = out.decode("ascii", "replace").strip()
    if proc.returncode != 0 or not text.isdigit() or not _safe_signal(int(text)):
        return None
    return int(text)


def _tmpdir(pid: int) -> str:
    """Where keepalived writes its dumps: its own $TMPDIR, else /tmp."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            for item in f.read().split(b"\0"):
                if item.startswith(b"TMPDIR=") and item[7:].startswith(b"/"):
                    return item[7:].decode("utf-8", "replace")
    except OSError:
        pass
    return "/tmp"


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


def _wait_dump(path: str, kind: str, pid: int) -> str:
    """The dump's text once complete (JSON: parses; data: non-empty, size stable)."""
    deadline, last, pause = time.monotonic() + WAIT_S, -1, 0.001
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raw = b""
        if raw:
            text = raw.decode("utf-8", "replace")
            if kind == "JSON":
                try:
                    json.loads(text)
                    return text
                except ValueError:
                    pass
            elif len(raw) == last:
                return text
            last = len(raw)
        if not _alive(pid):
            raise NotRunning(f"keepalived is not running (pid {pid} exited)")
        time.sleep(pause if kind == "JSON" else 0.025)
        pause = min(pause * 2, 0.01)  # keepalived usually has written it within a millisecond or two
    raise DumpError(f"keepalived wrote no complete {kind} dump in {WAIT_S:g} s")


def _dump(pid: int, cache: Dict[str, Any]) -> Tuple[str, str, Optional[str]]:
    """(kind, redacted text, warning) from a new dump; updates cache["signums"]."""
    exe, key = _binary(pid)
    raw = cache.get("signums")
    signums: Dict[str, Any] = raw if isinstance(raw, dict) else {}
    known = signums.get(key)
    if not isinstance(known, dict):
        known = {"JSON": _signum(exe, "JSON"), "DATA": _signum(exe, "DATA")}
        signums = {key: known}  # the old binary's or PID's numbers are of no use any more
    cache["signums"] = signums
    warning, tmp = None, _tmpdir(pid)
    for kind, name in (("JSON", "keepalived.json"), ("DATA", "keepalived.data")):
        num = known.get(kind)
        if not isinstance(num, int) or not _safe_signal(num):
            warning = f"keepalived {exe} has no {kind} dump"
            continue
        path = os.path.join(tmp, name)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        os.kill(pid, num)
        try:
            text = vrrp.redact(_wait_dump(path, kind, pid))
        except DumpError as exc:
            warning = str(exc)
            continue
        if kind == "DATA" and warning:
            warning = f"keepalived JSON dump unavailable ({warning}); used the data dump"
        return kind.lower(), text, warning
    raise DumpError(warning or "keepalived gave no dump")


def _fingerprint(addresses: Optional[List[Dict[str, Any]]]) -> Optional[List[str]]:
    if addresses is None:
        return None
    return sorted("{} {}".format(a.get("interface"), a.get("address")) for a in addresses)


def read(max_age: float = 1.0, addresses: Optional[List[Dict[str, Any]]] = None) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    """(instances, warning or None). Raises NotRunning, DumpError, or vrrp.VrrpError.

    `addresses`: the node's addresses as just read. A cached dump taken while they were different
    is not used whatever its age: a VIP moved, and a VRRP state older than the move next to
    addresses newer than it would read as a split brain (or as no master)."""
    pid = keepalived_pid()
    _run_dir()
    fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        cache = _load_cache()
        now = time.time()
        seen = _fingerprint(addresses)
        fresh = cache.get("pid") == pid and isinstance(cache.get("at"), (int, float)) \
            and 0 <= now - cache["at"] < max(float(max_age), MIN_AGE_S) and isinstance(cache.get("text"), str) \
            and (seen is None or cache.get("addresses") == seen)
        if not fresh:
            kind, text, warning = _dump(pid, cache)
            cache.update(pid=pid, at=time.time(), kind=kind, text=text, warning=warning, addresses=seen)
            _save_cache(cache)
    finally:
        os.close(fd)  # releases the lock
    parse = vrrp.parse_json if cache["kind"] == "json" else vrrp.parse_data
    return parse(cache["text"]), cache.get("warning")
