"""Re-apply drains that keepalived undid, while a console runs and is not read-only.

On an unprepared cluster keepalived writes its configured weight back when it
next acts on a real server (a health flap, a reload), and the analyzers raise
"drain_reverted". Called with each new snapshot, this sets weight 0 again on
the director that reverted, only where the drain record is still there (an
undrain may have removed it since the snapshot), and audits it.
"""

from __future__ import annotations

import time
from typing import Any

from lbconsole.actions import audit, director_view, drain, nodecall
from lbconsole.actions.context import ActionContext
from lbconsole.actions.result import ActionResult, done, failed
from lbconsole.actions.targets import RealServerTarget, parse_real_server, parse_service
from lbconsole.analyzers.drain import reverted as reverted_in
from lbconsole.inventory import NodeConfig
from lbconsole.snapshot import Snapshot

MIN_INTERVAL_S = 5.0  # per (director, service, real server): never fight keepalived in a tight loop
_last: dict[tuple[str, str, str, str], float] = {}


def reverted(snapshot: Snapshot) -> dict[tuple[str, str, str], list[str]]:
    """(cluster, director, service key) -> drained real servers whose weight is not 0 there."""
    out: dict[tuple[str, str, str], list[str]] = {}
    for cluster in snapshot.clusters:
        if cluster.read_only:
            continue
        for node, svc, rs in reverted_in(cluster):
            out.setdefault((cluster.name, node.name, svc.key), []).append(rs.key)
    return out


async def reapply_reverted(ctx: Any, snapshot: Snapshot | None, now: float | None = None) -> list[ActionResult]:
    """Re-drain every reverted real server once; returns what was done (empty when nothing was due)."""
    base = ActionContext.from_any(ctx)
    if base.read_only or base.inventory is None or snapshot is None:
        return []
    try:
        return await _reapply_due(base, snapshot, time.monotonic() if now is None else now)
    finally:
        if base is not ctx:
            await base.close()


async def _reapply_due(base: ActionContext, snapshot: Snapshot, now: float) -> list[ActionResult]:
    results: list[ActionResult] = []
    if base.inventory is None:
        return results
    for (cluster_name, node_name, svc_key), keys in sorted(reverted(snapshot).items()):
        cluster = base.inventory.cluster(cluster_name)
        node = cluster.node(node_name) if cluster else None
        if cluster is None or cluster.read_only or node is None:
            continue
        due = [k for k in keys if now - _last.get((cluster_name, node_name, svc_key, k), -1e9) >= MIN_INTERVAL_S]
        if not due:
            continue
        for k in due:
            _last[(cluster_name, node_name, svc_key, k)] = now
        base.cluster = cluster_name
        target = RealServerTarget(cluster_name, parse_service(svc_key), tuple(parse_real_server(k) for k in due))
        res = await _reapply_one(base, target, node)
        if res is not None:
            results.append(res)
    return results


async def _reapply_one(ctx: ActionContext, target: RealServerTarget, node: NodeConfig) -> ActionResult | None:
    """None when, read afresh, there is nothing to do (undrained since the snapshot, or already 0)."""
    keys = [rs.key for rs in target.real_servers]
    record = audit.new_record(who=ctx.operator, what="drain_reapply", target={**target.to_dict(), "node": node.name},
                              cluster=target.cluster, origin="reapply")
    views = await director_view.inspect(ctx, [node], target.service, keys)
    view = views[node.name]
    items = []
    for key in keys:
        state, rec = view.rows.get(key), view.records.get(key)
        if view.usable and state is not None and rec is not None and state.weight != 0:
            items.append((key, rec))
    before = {node.name: {k: (view.rows[k].weight if k in view.rows else None) for k in keys}}
    if not items and not view.error:
        return None
    if not items:
        res = failed(f"could not re-apply the drain of {', '.join(keys)} on {node.name}: {view.error}", before=before)
    else:
        # The drain as it was recorded (the record is kept on the node, with the weight to restore).
        # Only the servers still recorded as drained: one undrained since the snapshot is left alone,
        # and never hides a failure on another.
        done_keys = [k for k, _ in items]
        skipped = [k for k in keys if k not in done_keys]
        first = items[0][1]
        args = {"service": target.service.key, "real_servers": done_keys,
                "reason": str(first.get("reason") or "re-applied"), "by": ctx.operator, "force": True}
        replies = await nodecall.call_all(ctx, [(node, "drain", args)], mutating=True)
        after, problems = drain.read_back(replies, done_keys)
        bad = [f"{k} has weight {w} on {node.name}" for k, w in after.get(node.name, {}).items()
               if w not in (0, None)]
        if not bad and not problems:
            res = done(f"re-applied the drain of {', '.join(done_keys)} of {target.service.key} on {node.name} "
                       "(keepalived had put the weight back)", before=before, after=after)
        else:
            res = failed(f"re-apply of the drain of {', '.join(done_keys)} of {target.service.key} on {node.name} "
                         f"FAILED: {'; '.join(bad + problems)}", before=before, after=after, details=bad + problems)
        if skipped:
            res.details.append(f"{', '.join(skipped)}: undrained since, left alone")
    record.update(before=res.before, after=res.after, result=res.word, exit_code=res.exit_code, message=res.message)
    ctx.audit.append(record)
    res.details += await audit.to_syslog(ctx, [node], record)
    ctx.say(res.message)
    return res
