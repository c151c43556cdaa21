"""The shell a director runs for failover and release.

A forced failover is recorded on the node it was forced on, in
FORCED_DIR/INSTANCE.json: how (track_file or stopped), who and since when, and
how keepalived was started, so that `--release` undoes exactly that.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from lbconsole.actions.nodescript import q
from lbconsole.actions.prepared import CONF_SH

FORCED_DIR = "/var/lib/lbconsole/forced"
STOP_WAIT_S = 10


def forced_path(instance: str) -> str:
    return f"{FORCED_DIR}/{re.sub(r'[^A-Za-z0-9._-]', '_', instance)}.json"


def inspect() -> str:
    """keepalived's config, the forced records, how keepalived runs (systemd, command line)."""
    return CONF_SH + f"""
forced() {{ for f in {q(FORCED_DIR)}/*.json; do [ -f "$f" ] && {{ cat "$f"; echo; }}; done; return 0; }}
how() {{
  [ -d /run/systemd/system ] && echo systemd=yes || echo systemd=no
  _p=$(cat /run/keepalived.pid 2>/dev/null) && [ -r "/proc/$_p/cmdline" ] && tr '\\0' '\\n' < "/proc/$_p/cmdline" | sed 's/^/arg=/'
  return 0
}}
sec conf kconf_cat
sec forced forced
sec how how
"""  # noqa: E501 (a shell line)


def record_json(instance: str, mode: str, by: str, since: float, **extra: object) -> str:
    return json.dumps({"instance": instance, "mode": mode, "by": by, "since": round(since, 3), **extra},
                      sort_keys=True)


def _write_record(instance: str, record: str) -> str:
    path = forced_path(instance)
    return (f"mkdir -p {q(FORCED_DIR)} && printf '%s\\n' {q(record)} > {q(path + '.tmp')} "
            f"&& mv -f {q(path + '.tmp')} {q(path)}")


def force_track(instance: str, record: str, track: str) -> str:
    return (f"sec record sh -c {q(_write_record(instance, record))}\n"
            f"sec track sh -c {q(f'mkdir -p $(dirname {q(track)}) && echo 1 > {q(track)}')}\n")


STOP_SH = f"""
stop_keepalived() {{
  if [ -d /run/systemd/system ] && systemctl is-active -q keepalived 2>/dev/null; then
    systemctl stop keepalived; return $?
  fi
  _p=$(cat /run/keepalived.pid 2>/dev/null) || {{ echo 'keepalived is not running'; return 0; }}
  kill "$_p" 2>/dev/null || return 0
  _i=0; while kill -0 "$_p" 2>/dev/null && [ $_i -lt {STOP_WAIT_S * 10} ]; do sleep 0.1; _i=$((_i + 1)); done
  kill -0 "$_p" 2>/dev/null && {{ echo "keepalived (pid $_p) still runs after {STOP_WAIT_S} s"; return 1; }}
  return 0
}}
"""


def force_stop(instance: str, record: str) -> str:
    return STOP_SH + f"sec record sh -c {q(_write_record(instance, record))}\nsec stop stop_keepalived\n"


def start_command(record: dict[str, Any]) -> str:
    """How to start keepalived again: as systemd runs it, else as it ran before, else Debian's way."""
    if record.get("systemd"):
        return "systemctl start keepalived"
    argv = [str(a) for a in record.get("argv") or []]
    if argv:
        if any(a in ("-n", "--dont-fork") for a in argv):
            # It ran in the foreground under a supervisor we are not: detach it, keep its output.
            return f"setsid {shlex.join(argv)} </dev/null >>/var/log/keepalived.log 2>&1 &"
        return shlex.join(argv)
    return ". /etc/default/keepalived 2>/dev/null; keepalived $DAEMON_ARGS"


def release(instance: str, record: dict[str, Any]) -> str:
    path = forced_path(instance)
    if record.get("mode") == "track_file" and record.get("track"):
        undo = f"echo 0 > {q(record['track'])}"
    else:
        undo = ("_p=$(cat /run/keepalived.pid 2>/dev/null) && kill -0 \"$_p\" 2>/dev/null && exit 0; "
                + start_command(record))
    return f"sec undo sh -c {q(undo)}\nsec record rm -f {q(path)}\n"
