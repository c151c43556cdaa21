"""failover / release on this node: the MASTER of a VRRP instance steps down, and back.

Prepared (the instance tracks a track_file with a negative weight): write 1 to it, keepalived
lowers the priority. Unprepared: stop keepalived (systemctl when systemd runs it). Either way
the force is recorded first in /var/lib/lbconsole/forced/INSTANCE.json (with how keepalived ran,
so that release undoes exactly that). The node verifies its own side: a lower effective
priority, or keepalived stopped and the VIPs gone from its interfaces; that the peer took over
is the console's to verify. Ported from lbconsole/actions/failover*.py, without a shell.
"""

import os
import shlex
import signal
import subprocess
import time
from typing import (
    Any,
    Callable,
    Dict,
    List,
)

from . import kconf, kdump, procs, records, rtnl, vrrp
from .protocol import BAD_REQUEST, FAILED, REFUSED, NodeError

VERIFY_S = 10.0
STOP_WAIT_S = 10.0
START_WAIT_S = 10.0
DEFAULT_ARGS = "/etc/default/keepalived"


def _instance_arg(args: Dict[str, Any]) -> str:
    name = args.get("instance")
    if not isinstance(name, str) or not 0 < len(name) <= 200:
        raise NodeError(BAD_REQUEST, "instance must be a VRRP instance name")
    return name


def _state(name: str) -> Dict[str, Any]:
    """{"state", "priority", "effective_priority", "vips", "keepalived_pid"} of the instance now."""
    try:
        pid = kdump.keepalived_pid()
    except kdump.NotRunning:
        return {"state": None, "priority": None, "effective_priority": None, "vips": [], "keepalived_pid": None}
    try:
        instances, _ = kdump.read(0)
    except (kdump.NotRunning, kdump.DumpError, vrrp.VrrpError, OSError) as exc:
        # A keepalived just started may not answer yet: "unknown", never an exception mid-action.
        return {"state": "unknown", "priority": None, "effective_priority": None, "vips": [],
                "keepalived_pid": pid, "error": f"cannot read keepalived's state: {exc}"}
    inst = next((i for i in instances if i["instance"] == name), None)
    if inst is None:
        return {"state": "absent", "priority": None, "effective_priority": None, "vips": [], "keepalived_pid": pid}
    return {"state": inst["state"], "priority": inst["priority"], "effective_priority": inst["effective_priority"],
            "vips": inst["vips"], "keepalived_pid": pid}


def _holds(vips: List[str]) -> List[str]:
    have = {a["address"] for a in rtnl.addresses() if a["interface"] != "lo"}
    return [v for v in vips if v in have]


def _systemd_runs_keepalived() -> bool:
    if not os.path.isdir("/run/systemd/system"):
        return False
    try:
        return procs.run(["systemctl", "is-active", "-q", "keepalived"])[0] == 0
    except procs.Missing:
        return False


def _argv(pid: int) -> List[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]


def _write_track(path: str, value: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(value + "\n")


def _stop(pid: int, systemd: bool) -> None:
    if systemd:
        rc, out = procs.run(["systemctl", "stop", "keepalived"], timeout=STOP_WAIT_S + 20)
        if rc != 0:
            raise NodeError(FAILED, "systemctl stop keepalived failed: " + out.strip()[-1000:])
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_WAIT_S
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    if os.path.exists(f"/proc/{pid}"):
        raise NodeError(FAILED, f"keepalived (pid {pid}) still runs {STOP_WAIT_S:g} s after SIGTERM")


def _wait(done: Callable[[], bool], bound: float) -> bool:
    deadline = time.monotonic() + bound
    while True:
        ok = done()
        if ok or time.monotonic() >= deadline:
            return ok
        time.sleep(0.2)


def failover(agent: Any, args: Dict[str, Any]) -> Dict[str, Any]:
    name = _instance_arg(args)
    before = _state(name)
    if before["keepalived_pid"] is None:
        raise NodeError(REFUSED, "keepalived is not running here: nothing to step down")
    if before.get("error"):
        raise NodeError(REFUSED, before["error"] + "; nothing was touched")
    if before["state"] != "MASTER":
        raise NodeError(REFUSED, "this node is not MASTER of {} (it is {}): nothing was touched".format(
            name, before["state"]))
    path = records.forced_path(name)
    old = records.read_one(path)
    if old is not None:
        raise NodeError(REFUSED, "{} is already forced here since {} by {}: release it first".format(
            name, old.get("since"), old.get("by")))
    try:
        conf, _ = kconf.load(before["keepalived_pid"])
        track, why = kconf.failover_track(conf, name)
    except OSError as exc:
        track, why = None, f"keepalived config not readable: {exc}"
    rec = {"instance": name, "by": args["by"], "since": round(time.time(), 3)}
    if isinstance(args.get("reason"), str):
        rec["reason"] = args["reason"]
    if track:
        rec.update(mode="track_file", track=track)
        records.write(path, rec)
        _write_track(track, "1")
        ok = _wait(lambda: _lower(_state(name), before), VERIFY_S)
        after = _state(name)
        detail = ("{} stepped down through its track file {} (effective priority {} -> {})".format(
            name, track, before["effective_priority"], after["effective_priority"]) if ok else
            f"track file {track} written but keepalived's priority for {name} did not drop within {VERIFY_S:g} s")
    else:
        systemd = _systemd_runs_keepalived()
        rec.update(mode="stopped", systemd=systemd, argv=_argv(before["keepalived_pid"]))
        records.write(path, rec)
        _stop(before["keepalived_pid"], systemd)
        ok = _wait(lambda: not _holds(before["vips"]), VERIFY_S)
        after = _state(name)
        ok = ok and after["keepalived_pid"] is None
        detail = ("keepalived stopped ({}; {}): its checkers stopped and its IPVS table is flushed; the VIPs "
                  "left this node".format("systemctl" if systemd else "SIGTERM", why) if ok else
                  "keepalived stopped but this node still holds {}".format(", ".join(_holds(before["vips"]))))
    return {"before": before, "after": after, "verified": bool(ok), "detail": detail, "mode": rec["mode"]}


def _restored(now: Dict[str, Any]) -> bool:
    return now["priority"] is not None and now["effective_priority"] == now["priority"]


def _lower(now: Dict[str, Any], before: Dict[str, Any]) -> bool:
    return now["state"] != "MASTER" or (now["effective_priority"] is not None
                                        and now["effective_priority"] < before["effective_priority"])


def _start(rec: Dict[str, Any]) -> str:
    """keepalived as it ran before: systemd, else its own argv, else Debian's defaults."""
    if rec.get("systemd"):
        rc, out = procs.run(["systemctl", "start", "keepalived"], timeout=START_WAIT_S + 20)
        if rc != 0:
            raise NodeError(FAILED, "systemctl start keepalived failed: " + out.strip()[-1000:])
        return "systemctl start keepalived"
    argv = [str(a) for a in rec.get("argv") or []]
    if not argv:
        argv = ["keepalived"] + shlex.split(_default_args())
    if any(a in ("-n", "--dont-fork") for a in argv):
        # It ran in the foreground under a supervisor that is not us: detach it, keep its output.
        log = os.open("/var/log/keepalived.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True,
                             start_new_session=True, env=procs.ENV)
        finally:
            os.close(log)
    else:
        rc, out = procs.run(argv, timeout=START_WAIT_S + 20)
        if rc != 0:
            raise NodeError(FAILED, "{} failed: {}".format(" ".join(argv), out.strip()[-1000:]))
    return " ".join(shlex.quote(a) for a in argv)


def _default_args() -> str:
    """DAEMON_ARGS from /etc/default/keepalived, read as data (a plain assignment), never run."""
    try:
        with open(DEFAULT_ARGS, "r", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.strip().partition("=")
                if sep and key == "DAEMON_ARGS":
                    parts = shlex.split(value)
                    return parts[0] if parts else ""
    except (OSError, ValueError):
        pass
    return ""


def release(agent: Any, args: Dict[str, Any]) -> Dict[str, Any]:
    name = _instance_arg(args)
    path = records.forced_path(name)
    rec = records.read_one(path)
    if rec is None:
        raise NodeError(REFUSED, f"{name} is not forced on this node (no {path}): nothing to release")
    before = _state(name)
    if rec.get("mode") == "track_file" and isinstance(rec.get("track"), str):
        _write_track(rec["track"], "0")
        records.remove(path)
        ok = _wait(lambda: _restored(_state(name)), VERIFY_S)
        how = "track file {} reset".format(rec["track"])
    else:
        how = "keepalived was running already"
        if before["keepalived_pid"] is None:
            how = "started " + _start(rec)
        records.remove(path)
        ok = _wait(lambda: _state(name)["keepalived_pid"] is not None, START_WAIT_S)
    after = _state(name)
    detail = f"released {name}: {how}" if ok else f"released {name} ({how}) but keepalived did not come back " \
        f"as before within {VERIFY_S:g} s"
    return {"before": before, "after": after, "verified": bool(ok), "detail": detail, "mode": rec.get("mode")}
