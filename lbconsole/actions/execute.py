"""The one way to run an action, for the CLI and the TUI alike: refuse, or check -> apply -> verify; then audit.

Read-only is enforced here, whatever the caller showed or hid: a refused
attempt is audited like any other and touches no node's state.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from lbconsole.actions import audit, registry, targets
from lbconsole.actions.context import ActionContext
from lbconsole.actions.result import USAGE, ActionResult, failed, refused
from lbconsole.errors import LbconsoleError, RefusedError, UsageError
from lbconsole.inventory import NodeConfig


async def execute(ctx: Any, name: str, target: Any, params: dict[str, Any] | None = None,
                  refusal: str | None = None, outcome: ActionResult | None = None) -> ActionResult:
    """Run action `name` on `target` (a targets.* object or the TUI/CLI dict); never raises for node trouble.

    `refusal`: the caller refuses (e.g. no confirmation possible); the attempt is audited all the same.
    `outcome`: the caller's preflight already ended it (a refusal or usage error): audited as it is.
    A read-only refusal reaches no node: it is audited locally only.
    """
    own_ctx = not isinstance(ctx, ActionContext)
    ctx = ActionContext.from_any(ctx)
    ctx.said, ctx.partial = [], None  # this action's own (a context may serve several in turn)
    params = dict(params or {})
    spec = registry.BY_NAME.get(name)
    if spec is None or not spec.mutating:
        raise UsageError(f"no action {name!r} (actions: {', '.join(a.name for a in registry.mutating())})")
    started = time.monotonic()
    raw_target = target.to_dict() if hasattr(target, "to_dict") else dict(target or {})
    record = audit.new_record(who=ctx.operator, what=name, target=raw_target, cluster=ctx.cluster,
                              origin=ctx.origin, params=_audited(params))
    nodes = []
    try:
        parsed = targets.from_dict(spec.target, target, ctx.cluster)
        ctx.cluster = parsed.cluster
        record["cluster"], record["target"] = parsed.cluster, parsed.to_dict()
        nodes = _involved(ctx, name, parsed)
        if ctx.cluster_read_only:
            why = "--read-only" if ctx.read_only else f"cluster {parsed.cluster} is read-only in the inventory"
            way = ("to act, run it without --read-only" if ctx.read_only else
                   f"to act, set read_only = false for cluster {parsed.cluster} in {ctx.inventory_path()}")
            res = refused(f"{spec.title} refused: read-only ({why}); nothing was changed",
                          details=[way, f"audited locally in {ctx.audit.path}; no node was contacted"])
            nodes = []  # read-only: not even a syslog line goes to a node
        elif outcome is not None:
            res = outcome
        elif refusal:
            res = refused(f"{spec.title} refused: {refusal}; nothing was changed")
        else:
            try:
                res = await _run(ctx, name, parsed, params)
            except asyncio.CancelledError:  # ctrl+c, SIGTERM, the caller gone: never an unaudited action
                if not ctx.records_interruptions:
                    try:
                        ctx.audit.append(_interrupted(ctx, spec.title, record, started))
                    except OSError:
                        pass  # nowhere left to write: the nodes' records and syslog remain
                raise
    except UsageError as exc:
        res = ActionResult(USAGE, str(exc))
    except RefusedError as exc:
        res = refused(str(exc))
    except LbconsoleError as exc:
        res = failed(str(exc))
    except Exception as exc:  # audited and reported, never lost
        res = failed(f"{type(exc).__name__}: {exc}")
    res.elapsed_s = round(time.monotonic() - started, 4)
    record.update(before=res.before, after=res.after, result=res.word, exit_code=res.exit_code,
                  message=res.message, details=res.details, elapsed_s=res.elapsed_s, timings=res.timings)
    ctx.audit.append(record)
    try:
        res.details += await audit.to_syslog(ctx, nodes, record)
    except asyncio.CancelledError:  # done and audited: only the nodes' syslog copy is cut short
        res.details.append("interrupted while sending the audit line to the nodes' syslog")
    finally:
        if own_ctx:
            await ctx.close()
    return res


def _interrupted(ctx: ActionContext, title: str, record: dict[str, Any], started: float) -> dict[str, Any]:
    """The audit record of an action stopped before it finished: what it had verified, else what it reported."""
    done = ctx.partial
    so_far = (f"{done.message} (verified)" if isinstance(done, ActionResult) else
              "; ".join(ctx.said) or "nothing reported yet: check the nodes")
    out = dict(record, result="interrupted", exit_code=1, details=list(ctx.said),
               elapsed_s=round(time.monotonic() - started, 4),
               message=f"{title}: interrupted before it finished; applied so far: {so_far}")
    if isinstance(done, ActionResult):
        out.update(before=done.before, after=done.after, timings=done.timings)
    return out


def _audited(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k in ("reason", "force", "wait")}


def _involved(ctx: ActionContext, name: str, target: targets.Target) -> list[NodeConfig]:
    """The nodes whose syslog gets the record: the directors, the nginx node reloaded, or every nginx node."""
    cluster = ctx.cluster_config()
    if isinstance(target, targets.UpstreamServerTarget):
        return [n for n in cluster.nodes if n.has_role("nginx")]
    if isinstance(target, targets.NodeTarget):
        node = cluster.node(target.node)
        if node is None:
            names = ", ".join(n.name for n in cluster.nodes if n.has_role("nginx"))
            raise UsageError(f"no node {target.node!r} in cluster {cluster.name} (nginx nodes: {names})")
        return [node]
    return list({n.name: n for n in cluster.directors}.values())


async def _run(ctx: ActionContext, name: str, target: Any, params: dict[str, Any]) -> ActionResult:
    if name == "drain":
        from lbconsole.actions import drain

        if params.get("wait") is not None:
            ctx.wait_s = float(params["wait"])
        return await drain.drain(ctx, target, str(params.get("reason") or ""), bool(params.get("force")))
    if name == "undrain":
        from lbconsole.actions import undrain

        return await undrain.undrain(ctx, target, bool(params.get("force")))
    if name == "failover":
        from lbconsole.actions import failover

        return await failover.failover(ctx, target)
    if name == "release":
        from lbconsole.actions import release

        return await release.release(ctx, target)
    if name == "reload":
        from lbconsole.actions import reload

        return await reload.reload(ctx, target)
    if name == "upstream_drain":
        from lbconsole.actions import upstream_drain

        return await upstream_drain.upstream_drain(ctx, target, str(params.get("reason") or ""),
                                                   bool(params.get("force")))
    if name == "upstream_undrain":
        from lbconsole.actions import upstream_undrain

        return await upstream_undrain.upstream_undrain(ctx, target)
    raise UsageError(f"action {name!r} has no implementation")
