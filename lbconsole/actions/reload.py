"""nginx reload: `nginx -t` first (on failure refuse and show it; nothing touched), then reload and verify.

Verified means: the master PID is unchanged, the set of worker PIDs changed,
and no [emerg] or [alert] line was appended to the error log since the reload
(an apply-time failure such as a bind in use exits 0 and leaves the old workers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lbconsole.actions import nodescript, result
from lbconsole.actions.context import ActionContext
from lbconsole.actions.nodescript import q
from lbconsole.actions.result import ActionResult
from lbconsole.actions.targets import NodeTarget
from lbconsole.errors import UsageError

WORKERS_WAIT_S = 5.0
DEFAULT_ERROR_LOG = "/var/log/nginx/error.log"

STATE_SH = r"""
errlog() {
  _e=$(nginx -T 2>/dev/null | awk '$1 == "error_log" {gsub(/;/, "", $2); print $2; exit}')
  case "$_e" in /*) echo "$_e" ;; *) echo "$DEFAULT_LOG" ;; esac
}
state() {
  _m=$(cat /run/nginx.pid 2>/dev/null); echo "master=$_m"
  [ -n "$_m" ] && kill -0 "$_m" 2>/dev/null || { echo 'nginx is not running (no live /run/nginx.pid)'; return 3; }
  ps -o pid= --ppid "$_m" | sed 's/^ */worker=/'
  echo "log=$LOG"; echo "logsize=$(wc -c < "$LOG" 2>/dev/null || echo 0)"
}
"""


@dataclass
class NginxState:
    master: str = ""
    workers: set[str] = field(default_factory=set)
    log: str = DEFAULT_ERROR_LOG
    logsize: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"master_pid": self.master, "worker_pids": sorted(self.workers, key=int)}


def parse_state(text: str) -> NginxState:
    s = NginxState()
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "master":
            s.master = value.strip()
        elif key == "worker" and value.strip():
            s.workers.add(value.strip())
        elif key == "log":
            s.log = value.strip()
        elif key == "logsize" and value.strip().isdigit():
            s.logsize = int(value.strip())
    return s


def check_script() -> str:
    return (f"DEFAULT_LOG={q(DEFAULT_ERROR_LOG)}\n" + STATE_SH + "sec test nginx -t\n"
            + "LOG=$(errlog)\nsec state state\n")


def apply_script(before: NginxState) -> str:
    """Reload, wait until a worker appears that was not there before, then the state and new log lines."""
    old = " ".join(sorted(before.workers))
    # The path itself, not $LOG: `sh -c` does not see the script's unexported variables.
    new_lines = f'tail -c +{before.logsize + 1} {q(before.log)} 2>/dev/null | grep -E "\\[(emerg|alert)\\]"; true'
    return (f"LOG={q(before.log)}\n" + STATE_SH + "sec reload nginx -s reload\n"
            + f"""_i=0; while [ $_i -lt {int(WORKERS_WAIT_S * 10)} ]; do
  _new=0; for _w in $(ps -o pid= --ppid "$(cat /run/nginx.pid 2>/dev/null)" 2>/dev/null); do
    case " {old} " in *" $_w "*) ;; *) _new=1 ;; esac; done
  [ $_new -eq 1 ] && break; sleep 0.1; _i=$((_i + 1)); done
sec state state
sec log sh -c {q(new_lines)}
""")


async def reload(ctx: ActionContext, target: NodeTarget) -> ActionResult:
    node = ctx.cluster_config().node(target.node)
    if node is None or not node.has_role("nginx"):
        raise UsageError(f"{target.node!r} is not an nginx node of cluster {target.cluster}")
    reply = await nodescript.run(ctx, node, check_script())
    if reply.error:
        return result.failed(f"reload on {node.name}: {reply.error}")
    test, state = reply.get("test"), reply.get("state")
    if test is None or not test.ok:
        text = test.text.strip() if test else "no answer"
        return result.refused(f"nginx -t failed on {node.name}; nothing was touched:\n{text}",
                              details=text.splitlines())
    if state is None or not state.ok:
        return result.refused(f"reload on {node.name}: {state.first_line() if state else 'no state'}")
    before = parse_state(state.text)
    ctx.say(f"nginx -t ok on {node.name}; reloading (master {before.master}, workers "
            f"{' '.join(sorted(before.workers, key=int))})")
    reply = await nodescript.run(ctx, node, apply_script(before))
    if reply.error:
        return result.failed(f"reload on {node.name}: {reply.error}", before=before.to_dict())
    return verify(node.name, before, reply)


def verify(name: str, before: NginxState, reply: nodescript.NodeReply) -> ActionResult:
    signal, state, log = reply.get("reload"), reply.get("state"), reply.get("log")
    after = parse_state(state.text) if state is not None else NginxState()
    bad = [ln for ln in (log.text.splitlines() if log else ()) if re.search(r"\[(emerg|alert)\]", ln)]
    problems = []
    if signal is None or not signal.ok:
        problems.append(f"nginx -s reload failed: {signal.text.strip() if signal else 'no answer'}")
    if after.master != before.master:
        problems.append(f"master PID changed: {before.master} -> {after.master or 'none'} (nginx restarted or died)")
    if not after.workers - before.workers:
        problems.append(f"no new worker within {WORKERS_WAIT_S:g} s (workers still "
                        f"{' '.join(sorted(after.workers, key=int)) or 'none'})")
    if bad:
        problems.append(f"{len(bad)} [emerg]/[alert] line(s) in {before.log} since the reload")
    kw = dict(before=before.to_dict(), after=after.to_dict())
    if problems:
        return result.failed(f"reload of nginx on {name} NOT verified: {'; '.join(problems)}",
                             details=bad, **kw)
    new = " ".join(sorted(after.workers - before.workers, key=int))
    return result.done(f"reloaded nginx on {name}: master {after.master} kept, new worker(s) {new}, "
                       "no [emerg]/[alert] in the error log", **kw)
