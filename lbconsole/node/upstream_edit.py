"""Drain and undrain an upstream server on this nginx node: ` down` on its one `server` line.

Runs on the node: Python 3.6+, standard library only. A drain inserts ` down`
just before the `;` of that server's directive, in the file nginx read it
from, and changes no other byte. It is recorded under RECORD_DIR (upstream,
server, reason, by, since, file, line, and the directive's text before and
after). Then `nginx -t`: on failure the file is put back byte for byte and the
drain refused with nginx's message. Then reload, verified (nginx_reload). An
undrain takes out exactly what the drain put in, only if the line still reads
as the drain left it. The last live (not down, not backup) server of an
upstream is never drained without force. One drain or undrain at a time per
node (a lock), so two consoles never interleave edits.
"""

# Python 3.6 on the node: typing generics and str.format, not the 3.9+ spellings.
# ruff: noqa: UP032

import fcntl
import json
import os
import re
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from lbconsole.node import nginx_conf, nginx_reload, upstream_conf
from lbconsole.node.nginx_reload import Nginx, NginxError

RECORD_DIR = "/var/lib/lbconsole/upstream-drain"
ENCODING = ("utf-8", "surrogateescape")  # every byte of a config round-trips, whatever its encoding


class Refused(Exception):
    """A check failed; nothing was changed (or it was all put back). The message says why and what to do."""


class Failed(Exception):
    """Applied, but not proven to have taken effect."""

    def __init__(self, message: str, result: Dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


def record_path(record_dir: str, upstream: str, server: str) -> str:
    def slug(s: str) -> str:
        return re.sub(r"[^A-Za-z0-9.]", "_", s)
    return "{}/{}_{}.json".format(record_dir, slug(upstream), slug(server))


def read_record(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as f:
            rec = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise Refused("drain record {} is unreadable ({}); look at it by hand".format(path, e)) from None
    return rec if isinstance(rec, dict) else None


def read_records(record_dir: str = RECORD_DIR) -> List[Dict[str, Any]]:
    """Every drain record, for the snapshot (the console shows reason, by and since)."""
    try:
        names = sorted(n for n in os.listdir(record_dir) if n.endswith(".json"))
    except OSError:
        return []
    out = []
    for name in names:
        try:
            rec = read_record(os.path.join(record_dir, name))
        except Refused:
            continue
        if rec is not None:
            out.append(rec)
    return out


def _write_atomic(path: str, data: bytes, like: Optional[str] = None) -> None:
    """Temporary file beside it, fsync, rename; mode and owner copied from `like` (the file it replaces)."""
    d, base = os.path.split(path)
    tmp = os.path.join(d, ".{}.lbconsole-tmp".format(base))  # not *.conf: no include glob picks it up
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
        if like is not None:
            st = os.stat(like)
            os.fchmod(fd, st.st_mode & 0o7777)
            os.fchown(fd, st.st_uid, st.st_gid)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def _lock(record_dir: str) -> int:
    os.makedirs(record_dir, mode=0o755, exist_ok=True)
    fd = os.open(os.path.join(record_dir, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def find(read: Dict[str, Any], upstream: str, server: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The upstream and its one server named SERVER: as written ("app1:8080") or a peer ("10.0.0.31:8080")."""
    ups = [u for u in read["upstreams"] if u["name"].lower() == upstream.lower()]
    if not ups:
        names = ", ".join(sorted(u["name"] for u in read["upstreams"])) or "none"
        raise Refused("no upstream {!r} on this node (upstreams: {})".format(upstream, names))
    up = ups[0]
    hits = [s for s in up["servers"] if server in (s["spec"], upstream_conf.peer_key(s["host"], s["port"]))
            or server in s["peers"]]
    if not hits:
        have = ", ".join(s["spec"] for s in up["servers"]) or "none"
        raise Refused("upstream {} has no server {} (servers: {})".format(up["name"], server, have))
    if len(hits) > 1:
        where = ", ".join("{}:{}".format(s["file"], s["line"]) for s in hits)
        raise Refused("{} matches {} server lines of upstream {} ({}); drain it by hand".format(
            server, len(hits), up["name"], where))
    target = hits[0]
    sharing = sorted({u["name"] for u in read["upstreams"] for s in u["servers"]
                      if (s["file"], s["line"]) == (target["file"], target["line"]) and u is not up})
    if sharing:
        raise Refused("{}:{} (server {}) is also in upstream {}: the file is included more than once, so "
                      "an edit there changes them all; drain it by hand".format(
                          target["file"], target["line"], target["spec"], ", ".join(sharing)))
    return up, target


def _directive(text: str, file: str, spec: str, args: Optional[List[str]], line: Optional[int]
               ) -> nginx_conf.Directive:
    """The upstream `server` directive for spec in a file's text: at `line`, else the only one with `args`."""
    found = [d for d, _ in nginx_conf.walk(nginx_conf.parse(text, file))
             if d.name == "server" and d.block is None and d.args[:1] == [spec]]
    at_line = [d for d in found if d.line == line and (args is None or d.args == args)]
    if len(at_line) == 1:
        return at_line[0]
    same = [d for d in found if args is not None and d.args == args]
    if len(same) == 1:
        return same[0]
    raise Refused("cannot find the `server {}` line in {} as lbconsole expects it; nothing was touched".format(
        spec, file))


def _read_file(path: str) -> Tuple[bytes, str]:
    with open(path, "rb") as f:
        raw = f.read()
    return raw, raw.decode(*ENCODING)


def _apply(nginx: Nginx, cfg: Dict[str, Any], path: str, raw: bytes, new_text: str,
           what: str) -> Dict[str, Any]:
    """Write new_text to path, nginx -t (restore and refuse on failure), reload and verify."""
    real = os.path.realpath(path)
    before = nginx_reload.state(cfg["pid_file"], cfg["error_logs"])
    if before.master is None:
        raise Refused("nginx is not running (no live PID in {}); nothing was touched".format(cfg["pid_file"]))
    _write_atomic(real, new_text.encode(*ENCODING), like=real)
    try:
        ok, message = nginx.test()
    except BaseException:
        _write_atomic(real, raw, like=real)  # nginx could not even be asked: put it back
        raise
    if not ok:
        _write_atomic(real, raw, like=real)
        with open(real, "rb") as f:
            restored = f.read() == raw
        raise Refused("nginx -t failed after {}; {} was put back{}, nginx not reloaded:\n{}".format(
            what, path, "" if restored else " BUT DIFFERS: check it by hand", message))
    result = nginx_reload.reload_verified(nginx, cfg["pid_file"], cfg["error_logs"], before)
    if not result["verified"] and not result["new_workers"]:
        _write_atomic(real, raw, like=real)  # nothing took: the file goes back to what nginx runs
        result["restored"] = True
    return result


def _context(nginx: Nginx, resolver: upstream_conf.Resolver, prefix: Optional[str]) -> Dict[str, Any]:
    try:
        config = nginx_conf.Config.from_dump(nginx.dump())
    except NginxError as e:
        raise Refused(str(e)) from None
    read = upstream_conf.read(config, resolver, prefix)
    read["texts"] = config.texts
    return read


def drain(nginx: Nginx, upstream: str, server: str, reason: str, by: str, force: bool = False,
          record_dir: str = RECORD_DIR, resolver: upstream_conf.Resolver = upstream_conf.system_resolver,
          prefix: Optional[str] = None, now: Callable[[], float] = time.time) -> Dict[str, Any]:
    if not reason.strip():
        raise Refused("a drain needs a reason")
    lock = _lock(record_dir)
    try:
        cfg = _context(nginx, resolver, prefix)
        up, srv = find(cfg, upstream, server)
        rec_path = record_path(record_dir, up["name"], srv["spec"])
        if read_record(rec_path) is not None and srv["down"]:
            return {"changed": False, "detail": "{} in upstream {} is already drained".format(srv["spec"], up["name"]),
                    "record": read_record(rec_path)}
        if srv["down"]:
            raise Refused("{} in upstream {} is already marked down in {}:{} by hand, not by lbconsole".format(
                srv["spec"], up["name"], srv["file"], srv["line"]))
        live = [s for s in up["servers"] if s is not srv and not s["down"] and not s["backup"]]
        if not live and not srv["backup"] and not force:
            raise Refused("{} is the last live server of upstream {}: draining it leaves no server for its "
                          "traffic; --force to do it anyway".format(srv["spec"], up["name"]))
        raw, text = _read_file(srv["file"])
        if text != cfg["texts"].get(srv["file"]):
            raise Refused("{} changed while it was being read; try again".format(srv["file"]))
        d = _directive(text, srv["file"], srv["spec"], None, srv["line"])
        new_text = text[:d.end] + " down" + text[d.end:]
        record = {"upstream": up["name"], "server": srv["spec"], "peers": srv["peers"], "reason": reason,
                  "by": by, "since": round(now(), 3), "file": srv["file"], "line": d.line,
                  "before": text[d.start:d.end + 1], "after": new_text[d.start:d.end + 6],
                  "forced": bool(force and not live)}
        # The record goes first: a snapshot in between never sees a `down` it cannot explain.
        _write_record(rec_path, record)
        try:
            result = _apply(nginx, cfg, srv["file"], raw, new_text, "marking {} down".format(srv["spec"]))
        except BaseException:
            os.unlink(rec_path)
            raise
        if result.get("restored"):
            os.unlink(rec_path)
            raise Failed("reload of nginx NOT verified ({}); {} put back".format(
                "; ".join(result["problems"]), srv["file"]), result)
        result.update(changed=True, record=record, detail="{} marked down in upstream {} ({}:{})".format(
            srv["spec"], up["name"], srv["file"], d.line))
        if not result["verified"]:
            raise Failed("drained, but the reload is NOT verified: " + "; ".join(result["problems"]), result)
        return result
    finally:
        os.close(lock)


def undrain(nginx: Nginx, upstream: str, server: str, record_dir: str = RECORD_DIR,
            resolver: upstream_conf.Resolver = upstream_conf.system_resolver,
            prefix: Optional[str] = None) -> Dict[str, Any]:
    lock = _lock(record_dir)
    try:
        cfg = _context(nginx, resolver, prefix)
        up, srv = find(cfg, upstream, server)
        rec_path = record_path(record_dir, up["name"], srv["spec"])
        record = read_record(rec_path)
        if record is None:
            if srv["down"]:
                raise Refused("{} in upstream {} is marked down in {}:{} by hand, not by lbconsole; "
                              "edit it there".format(srv["spec"], up["name"], srv["file"], srv["line"]))
            return {"changed": False, "detail": "{} in upstream {} is not drained".format(srv["spec"], up["name"])}
        if not srv["down"]:
            os.unlink(rec_path)  # someone took `down` off by hand: the record no longer describes anything
            return {"changed": False, "record": record, "detail": "{} in upstream {} was no longer down in {} "
                    "(undone by hand); its drain record is removed".format(srv["spec"], up["name"], srv["file"])}
        raw, text = _read_file(record["file"])
        after_args = nginx_conf.parse(record["after"], record["file"])[0].args
        d = _directive(text, record["file"], srv["spec"], after_args, record.get("line"))
        if text[d.start:d.end + 1] != record["after"]:
            raise Refused("{}:{} no longer reads as the drain left it ({!r}, the drain wrote {!r}); "
                          "nothing was touched".format(record["file"], d.line, text[d.start:d.end + 1],
                                                       record["after"]))
        new_text = text[:d.start] + record["before"] + text[d.end + 1:]
        result = _apply(nginx, cfg, record["file"], raw, new_text, "taking `down` off {}".format(srv["spec"]))
        if result.get("restored"):
            raise Failed("reload of nginx NOT verified ({}); {} put back, still drained".format(
                "; ".join(result["problems"]), record["file"]), result)
        os.unlink(rec_path)
        result.update(changed=True, record=record, detail="{} back in upstream {} ({}:{})".format(
            srv["spec"], up["name"], record["file"], d.line))
        if not result["verified"]:
            raise Failed("undrained, but the reload is NOT verified: " + "; ".join(result["problems"]), result)
        return result
    finally:
        os.close(lock)


def _write_record(path: str, record: Dict[str, Any]) -> None:
    _write_atomic(path, (json.dumps(record, sort_keys=True) + "\n").encode("utf-8"))
