"""Mutating actions from the console: target, reason, confirmation, then the executor.

Also the re-apply of drains that keepalived undid, while a read-write console runs.

The call site is `await execute(ctx, name, target, params)` from
`lbconsole.actions`; targets and params are plain dicts, so the executor, the
audit log and the CLI share one shape:

    real_server:   {"kind", "cluster", "service": "VIP:PORT", "real_server": "IP:PORT"}
    vrrp_instance: {"kind", "cluster", "instance", "node": current MASTER or None}
    nginx_node:    {"kind", "cluster", "node"}
    upstream_server: {"kind", "cluster", "upstream": NAME, "server": "IP:PORT" (UpstreamServer.key)}
    params:        {"reason": str} for the actions whose spec.needs_reason, else {}

Read-only is checked here before any prompt, again right before execution,
and passed in `ctx.read_only` so the executor refuses too.

A confirmed action runs to its end (`ActionRunner`): at most one per cluster,
a second is refused and audited, and the run is an asyncio task the UI never
cancels. Quitting waits for it; a second quit, SIGHUP or a lost terminal
records it as interrupted with what it had reported so far.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lbconsole import safetext
from lbconsole.actions import audit as audit_mod
from lbconsole.actions import targets as targets_mod
from lbconsole.actions import upstream_drain
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
    transports: dict[str, Any] | None = None  # the live poller's open connections, reused by the action
    extra: dict[str, Any] = field(default_factory=dict)
    audit: Any = None  # an AuditLog; None: the default one
    records_interruptions: bool = True  # Running slots audit an interrupted action (interrupt_all)


def load_executor() -> Callable[..., Any] | None:
    """`lbconsole.actions.execute`, whether a function or a module holding one; None if absent."""
    try:
        from lbconsole.actions import execute as found
    except ImportError:
        return None
    execute: Any = getattr(found, "execute", None) if inspect.ismodule(found) else found
    return execute if callable(execute) else None


def has_reverted_drains(snapshot: Snapshot) -> bool:
    """A drained real server whose weight came back (keepalived wrote it): worth a re-apply."""
    return any(a.kind == "drain_reverted" for a in snapshot.alerts)


async def reapply_drains(ctx: ActionContext, snapshot: Snapshot) -> list[Any]:
    """Re-apply reverted drains through the actions layer; [] when it is not there."""
    try:
        from lbconsole.actions.reapply import reapply_reverted
    except ImportError:
        return []
    return await reapply_reverted(ctx, snapshot)


def describe(spec: ActionSpec, target: dict[str, Any], view: ClusterView | None, params: dict[str, Any]) -> str:
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
            master = target.get("node")
            who = (f"{master} (MASTER) steps down; its peer takes over the VIP.\n" if master else
                   "No single MASTER in the last poll: the preflight checks again and refuses if it must.\n")
            return (f"Failover of VRRP instance {inst} in cluster {cluster}.\n\n" + who + "\n".join(lines) +
                    "\n\nConnections through the old master may break unless LVS sync runs."
                    "\nOn a cluster not prepared for graceful failover (see `lbconsole doctor`), keepalived is "
                    "STOPPED on the master: its health checkers stop and its IPVS table is flushed until Release.")
        return (f"Release the forced failover of {inst} in cluster {cluster}.\n\n"
                "Configured priorities apply again; with preempt the VIP may move back (a second flap).\n"
                + "\n".join(lines))
    if spec.target == "upstream_server":
        return _describe_upstream(spec, target, view, params)
    if spec.target == "nginx_node":
        return (f"Reload nginx on {target['node']} in cluster {cluster}.\n\n"
                "First `nginx -t`; if it fails nothing is touched.\n"
                "Then reload: same master process, new workers; the error log is checked.")
    return f"{spec.title} in cluster {cluster}."


def _describe_upstream(spec: ActionSpec, target: dict[str, Any], view: ClusterView | None,
                       params: dict[str, Any]) -> str:
    """The actions layer's own words (the CLI prompt says the same) when it has them, and each node's state now."""
    upstream, server = target["upstream"], target["server"]
    merged = view.upstreams.get(upstream) if view else None
    slots = merged.servers.get(server, []) if merged else []
    nginx = [n.name for n in view.nginx] if view else []
    now = ", ".join(f"{n}: {s.state if s is not None else 'absent'}" for n, s in zip(nginx, slots)) or "not known"
    return f"{upstream_drain.describe(spec.name, target, nginx, params.get('reason'))}\n\nNow: {now}"


def _rs_slots(merged: Any, rs: str) -> Any:
    for key, slots in merged.rs.items():
        if rs_label(key) == rs:
            return slots
    return [None] * len(merged.per_director)


def what(target: dict[str, Any]) -> str:
    upstream = f"{target.get('server')} of upstream {target['upstream']}" if target.get("upstream") else None
    return str(upstream or target.get("real_server") or target.get("instance") or target.get("node") or "?")


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


def _transports(app: Any) -> dict[str, Any] | None:
    return getattr(getattr(app.source, "poller", None), "transports", None)


def _log(app: Any, at: float | None, kind: str, message: str, cluster: str, node: str | None, severity: str) -> None:
    when = at if at is not None else (app.state.snapshot.taken_at if app.state.snapshot else time.time())
    app.state.events.append(Event(when, kind, safetext.clean(message), cluster, node, severity))


@dataclass
class Running:
    """One action of a cluster, from its key press (dialogs included) to its audit record."""

    spec: ActionSpec
    target: dict[str, Any]
    started: float = field(default_factory=time.monotonic)
    params: dict[str, Any] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None  # set once confirmed: the run itself
    progress: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def label(self) -> str:
        return f"{self.spec.title} {what(self.target)}"


class ActionRunner:
    """At most one action per cluster, never cancelled by the UI, every outcome audited."""

    def __init__(self, app: Any, audit_log: audit_mod.AuditLog | None = None):
        self.app = app
        self.audit = audit_log or audit_mod.AuditLog()
        self.running: dict[str, Running] = {}
        self.quit_when_done = False

    def executing(self) -> list[Running]:
        return [r for r in self.running.values() if r.task is not None and not r.task.done()]

    def start(self, spec: ActionSpec, target: dict[str, Any]) -> None:
        cluster = target["cluster"]
        busy = self.running.get(cluster)
        if busy is not None:
            self.refuse_busy(spec, target, busy)
            return
        slot = Running(spec, target)
        self.running[cluster] = slot
        self.app.run_worker(self._flow(slot), group=f"action:{cluster}", exclusive=False, exit_on_error=False)

    async def _flow(self, slot: Running) -> None:
        try:
            await confirm_and_run(self.app, slot, self)
        finally:
            if slot.task is None or slot.task.done():  # else the task itself frees the cluster
                self._free(slot)

    def _free(self, slot: Running) -> None:
        if self.running.get(slot.target["cluster"]) is slot:
            del self.running[slot.target["cluster"]]

    def refuse_busy(self, spec: ActionSpec, target: dict[str, Any], busy: Running) -> None:
        took = time.monotonic() - busy.started
        state = "running" if busy.task is not None else "being confirmed"
        why = (f"{busy.label} is {state} in cluster {target['cluster']} (since {took:.0f} s); "
               "one action at a time per cluster: wait for it to finish")
        self.app.notify(safetext.clean(f"{spec.title} {what(target)} refused: {why}"), title="Refused",
                        severity="warning", markup=False)
        self.audit_refusal(spec, target, why)
        _log(self.app, None, "action_refused", f"{spec.title} {what(target)} refused: {why}", target["cluster"],
             target.get("node"), "warning")

    def audit_refusal(self, spec: ActionSpec, target: dict[str, Any], why: str) -> None:
        record = self._record(spec, target, {})
        record.update(result="refused", exit_code=3, message=f"{spec.title} refused: {why}; nothing was changed")
        self.audit.append(record)

    def _record(self, spec: ActionSpec, target: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        from lbconsole.actions.context import operator

        return audit_mod.new_record(who=operator(), what=spec.name, target=dict(target), cluster=target.get("cluster"),
                                    origin="tui", params={k: v for k, v in params.items() if k == "reason"})

    def interrupt_all(self, why: str) -> None:
        """Record every running action as interrupted, with what it reported so far (sync: we may be dying)."""
        for slot in self.executing():
            if slot.interrupted:
                continue
            slot.interrupted = True
            so_far = "; ".join(slot.progress) or "nothing reported yet: check the nodes"
            record = self._record(slot.spec, slot.target, slot.params)
            record.update(result="interrupted", exit_code=1, details=list(slot.progress),
                          elapsed_s=round(time.monotonic() - slot.started, 3),
                          message=f"{slot.label}: interrupted by {why} before it finished; applied so far: {so_far}")
            try:
                self.audit.append(record)
            except OSError:
                pass  # nowhere left to write: the nodes' state is the record

    def before_quit(self) -> bool:
        """True: leave now. False: an action runs; leave when it is done (a second quit leaves at once)."""
        running = self.executing()
        if not running:
            return True
        if self.quit_when_done:
            self.interrupt_all("quit")
            return True
        self.quit_when_done = True
        names = ", ".join(r.label for r in running)
        self.app.notify(safetext.clean(f"{names} is running: lbconsole leaves when it is done. Press q again to "
                                       "leave now (it is then recorded as interrupted)."),
                        title="Waiting for the action", severity="warning", timeout=15, markup=False)
        return False

    def finished(self, slot: Running) -> None:
        self._free(slot)
        if self.quit_when_done and not self.executing():
            self.app.exit()


async def confirm_and_run(app: Any, slot: Running, runner: ActionRunner) -> None:
    """Reason (drain), confirmation, then the executor as a task the UI cannot cancel."""
    from lbconsole.ui.screens.confirm import ConfirmScreen
    from lbconsole.ui.screens.reason import ReasonScreen

    spec, target = slot.spec, slot.target
    params: dict[str, Any] = slot.params
    if spec.needs_reason:
        reason = await app.push_screen_wait(ReasonScreen(what(target)))
        if reason is None:
            app.notify(f"{spec.title} cancelled")
            return
        params["reason"] = reason
    if spec.name == "failover":  # on any row of the instance: its MASTER is the one that steps down
        target["node"] = targets_mod.master_of(app.state.snapshot, target["cluster"], target["instance"])
    body = safetext.clean(describe(spec, target, app.state.view(target["cluster"]), params))
    if not await app.push_screen_wait(ConfirmScreen(f"{spec.title}?", body, spec.title)):
        app.notify(f"{spec.title} cancelled")
        return
    if app.is_read_only(target["cluster"]):  # it may have changed while the dialog was open
        app.refuse(spec, "read-only", target)
        return
    execute = load_executor()
    if execute is None:
        app.notify("actions not available in this build", title=spec.title, severity="error")
        return

    def progress(text: str) -> None:
        slot.progress.append(text)
        app.notify(safetext.clean(text), title=spec.title, timeout=4, markup=False)

    ctx = ActionContext(inventory=app.inventory, snapshot=app.state.snapshot, cluster=target["cluster"],
                        read_only=app.is_read_only(target["cluster"]), transports=_transports(app),
                        progress=progress, audit=runner.audit)
    app.notify(safetext.clean(f"{slot.label}: running…"), title=spec.title, timeout=3, markup=False)
    slot.task = asyncio.ensure_future(_run_to_the_end(app, slot, runner, execute, ctx))
    await asyncio.shield(slot.task)  # a cancelled worker leaves the task running


async def _run_to_the_end(app: Any, slot: Running, runner: ActionRunner, execute: Callable[..., Any],
                          ctx: ActionContext) -> None:
    spec, target = slot.spec, slot.target
    running = app.state.begin_action(spec.name, target)  # what it causes reads as planned meanwhile
    try:
        try:
            result = execute(ctx, spec.name, target, slot.params)
            if inspect.isawaitable(result):
                result = await result
            ok, message = summarise(result)
        except Exception as exc:  # shown and logged, never a crash
            ok, message = False, str(exc) or type(exc).__name__
        finally:
            app.state.end_action(running)
        if slot.interrupted:
            return
        app.notify(safetext.clean(message), title=f"{spec.title} {what(target)}",
                   severity="information" if ok else "error", timeout=10, markup=False)
        _log(app, None, "action", f"{spec.title} {what(target)}: {message}", target["cluster"], target.get("node"),
             "info" if ok else "critical")
        app.source.refresh_now()  # show the effect as soon as the directors report it
        app.redraw()
    finally:
        runner.finished(slot)


class ReapplyJob:
    """Re-apply of reverted drains: one serial job; a new snapshot waits its turn, it never cancels a run."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.latest: Snapshot | None = None
        self._wake = asyncio.Event()
        self.runs = 0

    def offer(self, snapshot: Snapshot) -> None:
        self.latest = snapshot  # only the newest matters: older ones are stale by then
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            snapshot, self.latest = self.latest, None
            if snapshot is None:
                continue
            if self.app.runner.executing():  # an operator's action goes first; the alert stays until then
                continue
            await reapply(self.app, snapshot)
            self.runs += 1


async def reapply(app: Any, snapshot: Snapshot) -> None:
    """keepalived put a drained server's weight back: drain it again (unprepared clusters)."""
    ctx = ActionContext(inventory=app.inventory, snapshot=snapshot, cluster=None, read_only=app.forced_read_only,
                        origin="reapply", transports=_transports(app))
    try:
        results = await reapply_drains(ctx, snapshot)
    except Exception as exc:  # shown; the alert stays up until a re-apply works
        results = [{"ok": False, "message": str(exc) or type(exc).__name__}]
    for result in results:
        ok, message = summarise(result)
        app.notify(safetext.clean(message), title="Drain re-applied" if ok else "Drain re-apply failed",
                   severity="warning" if ok else "error", markup=False)
        _log(app, snapshot.taken_at, "drain_reapply", message, "", None, "warning" if ok else "critical")
