"""reload: nginx -t first (a failing config is refused with its output, nothing touched), then
nginx -s reload, verified by nginx_reload (the one place its rules live: the same master PID, a
worker that was not there before, no [emerg]/[alert] in the error logs since). The pid file and
the error logs are those of the config nginx runs (`nginx -T`)."""

from typing import (
    Any,
    Dict,
    List,
)

from . import nginx_reload, upstream_conf
from .nginx_reload import Nginx, NginxError
from .protocol import REFUSED, UNAVAILABLE, NodeError


def workers(master: int) -> List[int]:
    """The PIDs whose parent is master (sorted), from /proc."""
    return sorted(nginx_reload.children(master))


def reload(agent: Any, args: Dict[str, Any]) -> Dict[str, Any]:
    return reload_nginx(Nginx())


def reload_nginx(nginx: Nginx, wait_s: float = nginx_reload.WORKERS_WAIT_S) -> Dict[str, Any]:
    """The reload verb's result for this nginx: {"before", "after", "verified", "detail"}."""
    try:
        ok, message = nginx.test()
    except NginxError as exc:
        raise NodeError(UNAVAILABLE, str(exc))
    if not ok:
        raise NodeError(REFUSED, "nginx -t failed; nothing was touched:\n" + message.strip()[-4000:])
    note = ""
    try:
        pid_file, logs = nginx_reload.config_paths(nginx)
    except NginxError as exc:
        raise NodeError(REFUSED, f"cannot read the config nginx runs ({exc}); nothing was touched")
    except ValueError as exc:  # a dump nginx accepts and our reader does not: verify at nginx's defaults
        pid_file, logs = upstream_conf.DEFAULT_PID_FILE, [upstream_conf.DEFAULT_ERROR_LOG]
        note = f" (the config's pid and error_log could not be read: {str(exc)[:200]}; nginx's defaults were used)"
    before = nginx_reload.state(pid_file, logs)
    if before.master is None:
        raise NodeError(REFUSED, f"nginx is not running (no live {pid_file}); nothing was touched")
    res = nginx_reload.reload_verified(nginx, pid_file, logs, before, wait_s)
    if res["verified"]:
        detail = "reloaded nginx: master {} kept, new worker(s) {}, no [emerg]/[alert] in {}".format(
            before.master, " ".join(map(str, res["new_workers"])), ", ".join(logs))
    else:
        detail = "reload of nginx NOT verified: " + "; ".join(res["problems"])
    detail += note
    return {"before": res["before"], "after": res["after"], "verified": res["verified"], "detail": detail}
