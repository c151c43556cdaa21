"""Mutating actions from the console: target, reason, confirmation, then the executor.

Also the re-apply of drains that keepalived undid, while a read-write console runs.

The call site is `await execute(ctx, name, target, params)` from
`lbconsole.actions`; targets and params are plain dicts, so the executor, the
audit log and the CLI share one shape:

    real_server:   {"kind", "cluster", "service": "VIP:PORT", "real_server": "IP:PORT"}
    vrrp_instance: {"kind", "cluster", "instance", "node": current MASTER or None}
    nginx_node:    {"kind", "cluster", "node"}
    params:        {"reason": str} for drain, else {}

Read-only is checked here before any prompt, again right before execution,
and passed in `ctx.read_only` so the executor refuses too.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from lbconsole.actions.registry import ActionSpec
from lbconsole.analyzers.transitions import Event
from lbconsole.inventory import Inventory
from lbconsole.snapshot import Snapshot
from lbconsole.ui.model import ClusterView, rs_label


@dataclass
class ActionContext:
    """What the executor gets from the console."""

    inventory: Inventory | None
    snapshot: Snapshot | None
    cluster: str | None
    read_only: bool
    origin: str = "tui"
    progress: Callable[[str], None] = field(default=lambda text: None)
    transports: dict | None = None  # the live poller's open connections, reused by the action
    extra: dict[str, Any] = field(default_factory=dict)


def load_executor():
    """`lbconsole.actions.execute`, whether a function or a module holding one; None if absent."""
    try:
        from lbconsole.actions import execute
    except ImportError:
        return None
    if inspect.ismodule(execute):
        execute = getattr(execute, "execute", None)
    return execute if callable(execute) else None


def has_reverted_drains(snapshot: Snapshot) -> bool:
    """A drained real server whose weight came back (keepalived wrote it): worth a re-apply."""
    return any(a.kind == "drain_reverted" for a in snapshot.alerts)


async def reapply_drains(ctx: ActionContext, snapshot: Snapshot) -> list:
    """Re-apply reverted drains through the actions layer; [] when it is not there."""
    try:
        from lbconsole.actions.reapply import reapply_reverted
    except ImportError:
        return []
    return await reapply_reverted(ctx, snapshot)


def describe(spec: ActionSpec, target: dict, view: ClusterView | None, params: dict) -> str:
    """Exactly what will change and where, for the confirmation."""
    cluster = target.get("cluster", "?")
    if spec.target == "real_server":
        svc, rs = target["service"], target["real_server"]
        directors = [n.name for n in view.directors] if view else []
        merged = view.services.get(svc) if view else None
        weights = []
        if merged is not None:
            for n, slot in zip(directors, _rs_slots(merged, rs)):
                weights.append(f"{n}: {slot.weight if slot is not None else 'absent'}")
        where = ", ".join(weights) or "every director"
        if spec.name == "drain":
            return (f"Drain real server {rs} of service {svc} in cluster {cluster}.\n\n"
                    f"Weight → 0 on every director ({where}).\n"
                    "New connections stop going to it; existing ones finish.\n"
                    f"Reason: {params.get('reason', '')}")
        return (f"Undrain real server {rs} of service {svc} in cluster {cluster}.\n\n"
                f"Restore its recorded weight on every director (now {where}).\n"
                "It will receive new connections again.")
    if spec.target == "vrrp_instance":
        inst = target["instance"]
        peers = view.instance_peers(inst) if view else []
        lines = [f"  {n.name}: {i.state}, priority {i.effective_priority or i.priority}" for n, i in peers]
        if spec.name == "failover":
            master = target.get("node") or "the current MASTER"
            return (f"Failover of VRRP instance {inst} in cluster {cluster}.\n\n"
                    f"{master} steps down; its peer takes over the VIP.\n" + "\n".join(lines) +
                    "\n\nConnections through the old master may break unless LVS sync runs."
                    "\nOn a cluster not prepared for graceful failover (see `lbconsole doctor`), keepalived is "
                    "STOPPED on the master: its health checkers stop and its IPVS table is flushed until Release.")
        return (f"Release the forced failover of {inst} in cluster {cluster}.\n\n"
                "Configured priorities apply again; with preempt the VIP may move back (a second flap).\n"
                + "\n".join(lines))
    if spec.target == "nginx_node":
        return (f"Reload nginx on {target['node']} in cluster {cluster}.\n\n"
                "First `nginx -t`; if it fails nothing is touched.\n"
                "Then reload: same master process, new workers; the error log is checked.")
    return f"{spec.title} in cluster {cluster}."


def _rs_slots(merged, rs: str):
    for key, slots in merged.rs.items():
        if rs_label(key) == rs:
            return slots
    return [None] * len(merged.per_director)


def what(target: dict) -> str:
    return target.get("real_server") or target.get("instance") or target.get("node") or "?"


def summarise(result: Any) -> tuple[bool, str]:
    """(ok, one line) from whatever the executor returns: an object, a dict, a bool or text."""
    if result is None:
        return True, "done"
    if isinstance(result, bool):
        return result, "done" if result else "failed"
    if isinstance(result, dict):
        ok = result.get("ok", result.get("exit_code", 0) == 0)
        return bool(ok), str(result.get("message") or result.get("summary") or ("done" if ok else "failed"))
    ok = getattr(result, "ok", None)
    if ok is None and hasattr(result, "exit_code"):
        ok = result.exit_code == 0
    message = getattr(result, "message", None) or getattr(result, "summary", None) or str(result)
    return bool(ok) if ok is not None else True, str(message)


def _transports(app) -> dict | None:
    return getattr(getattr(app.source, "poller", None), "transports", None)


def _log(app, at: float | None, kind: str, message: str, cluster: str, node: str | None, severity: str) -> None:
    when = at if at is not None else (app.state.snapshot.taken_at if app.state.snapshot else time.time())
    app.state.events.append(Event(when, kind, message, cluster, node, severity))


async def confirm_and_run(app, spec: ActionSpec, target: dict) -> None:
    """Reason (drain), confirmation, then the executor; runs in a worker (the dialogs wait)."""
    from lbconsole.ui.screens.confirm import ConfirmScreen
    from lbconsole.ui.screens.reason import ReasonScreen

    params: dict = {}
    if spec.name == "drain":
        reason = await app.push_screen_wait(ReasonScreen(what(target)))
        if reason is None:
            app.notify(f"{spec.title} cancelled")
            return
        params["reason"] = reason
    body = describe(spec, target, app.state.view(target["cluster"]), params)
    if not await app.push_screen_wait(ConfirmScreen(f"{spec.title}?", body, spec.title)):
        app.notify(f"{spec.title} cancelled")
        return
    if app.is_read_only(target["cluster"]):  # it may have changed while the dialog was open
        app.refuse(spec, "read-only")
        return
    execute = load_executor()
    if execute is None:
        app.notify("actions not available in this build", title=spec.title, severity="error")
        return
    ctx = ActionContext(inventory=app.inventory, snapshot=app.state.snapshot, cluster=target["cluster"],
                        read_only=app.is_read_only(target["cluster"]), transports=_transports(app),
                        progress=lambda text: app.notify(text, title=spec.title, timeout=4, markup=False))
    app.notify(f"{spec.title} {what(target)}: running…", title=spec.title, timeout=3)
    running = app.state.begin_action(spec.name, target)  # what it causes reads as planned meanwhile
    try:
        result = execute(ctx, spec.name, target, params)
        if inspect.isawaitable(result):
            result = await result
        ok, message = summarise(result)
    except Exception as exc:  # shown and logged, never a crash
        ok, message = False, str(exc) or type(exc).__name__
    finally:
        app.state.end_action(running)
    app.notify(message, title=f"{spec.title} {what(target)}", severity="information" if ok else "error",
               timeout=10, markup=False)
    _log(app, None, "action", f"{spec.title} {what(target)}: {message}", target["cluster"], target.get("node"),
         "info" if ok else "critical")
    app.source.refresh_now()  # show the effect as soon as the directors report it
    app.redraw()


async def reapply(app, snapshot: Snapshot) -> None:
    """keepalived put a drained server's weight back: drain it again (unprepared clusters)."""
    ctx = ActionContext(inventory=app.inventory, snapshot=snapshot, cluster=None, read_only=app.forced_read_only,
                        origin="reapply", transports=_transports(app))
    try:
        results = await reapply_drains(ctx, snapshot)
    except Exception as exc:  # shown; the alert stays up until a re-apply works
        results = [{"ok": False, "message": str(exc) or type(exc).__name__}]
    for result in results:
        ok, message = summarise(result)
        app.notify(message, title="Drain re-applied" if ok else "Drain re-apply failed",
                   severity="warning" if ok else "error", markup=False)
        _log(app, snapshot.taken_at, "drain_reapply", message, "", None, "warning" if ok else "critical")
