"""Failover: the MASTER of a VRRP instance steps down and its peer takes over.

check: the preflight in failover_plan (one MASTER, peers BACKUP and reachable, nobody forced)
apply: the master's agent `failover` verb (its track file where keepalived.conf is prepared, else
       keepalived stopped; the force recorded on that node)
verify: the peer reports MASTER and holds the VIP within VERIFY_S (polled on the peers only)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from lbconsole.actions import failover_plan, nodecall, result
from lbconsole.actions.failover_plan import Director, Plan
from lbconsole.actions.result import ActionResult
from lbconsole.actions.targets import InstanceTarget

VERIFY_S = 10.0
POLL_S = 0.3


def state_of(ds: list[Director], name: str) -> dict[str, dict[str, Any]]:
    out = {}
    for d in ds:
        inst = d.instance(name)
        out[d.node.name] = {"state": inst.state if inst else None,
                            "priority": (inst.effective_priority or inst.priority) if inst else None,
                            "holds_vip": d.holds(inst.vips) if inst else False,
                            "keepalived": d.snap.keepalived_running if d.snap else None,
                            "reachable": d.error is None}
    return out


async def plan(ctx: Any, target: InstanceTarget) -> Plan:
    return failover_plan.plan(target, await failover_plan.read_all(ctx))


async def failover(ctx: Any, target: InstanceTarget, reason: str = "") -> ActionResult:
    started = time.monotonic()
    p = await plan(ctx, target)
    before = state_of(p.directors, target.instance)
    if p.refusal or p.master is None:
        return result.refused(f"failover of {target.instance} refused: {p.refusal}", before=before)
    master = p.master
    ctx.say(f"{master.node.name} steps down from {target.instance}")
    args = {"instance": target.instance, "by": ctx.operator} | ({"reason": reason} if reason else {})
    reply = await nodecall.call(ctx, master.node, "failover", args, mutating=True)
    if not reply.ok:
        verb = result.refused if reply.code in ("refused", "version", "read_only") else result.failed
        return verb(f"failover of {target.instance}: {master.node.name} did not step down: {reply.error}",
                    before=before, details=[p.warning])
    # Only the peers are polled while waiting: the master is stepping down and may be slow.
    peers = {d.node.name for d in p.peers}
    ok, ds, took = await wait(ctx, lambda ds: _peer_took_over(ds, target.instance, master.node.name, p.vips),
                              VERIFY_S, peers)
    confirmed_s = time.monotonic() - started
    ds += await failover_plan.read_all(ctx, {master.node.name})
    after = state_of(ds, target.instance)
    details = [str(reply.result.get("detail", "")), f"release with: lbconsole failover {target.instance} --release"]
    if not ok or not reply.result.get("verified"):
        return result.failed(f"failover of {target.instance} NOT verified within {VERIFY_S:g} s: "
                             f"{failover_plan._states(ds, target.instance)}; VIP {', '.join(p.vips)} held by "
                             f"{_holders(ds, p.vips) or 'nobody'}. The step-down stays in place",
                             before=before, after=after, details=details)
    new = _peer_took_over(ds, target.instance, master.node.name, p.vips)
    res = result.done(f"{new} is MASTER of {target.instance} and holds {', '.join(p.vips)} "
                      f"({took:.1f} s after the step-down of {master.node.name}, {reply.result.get('mode')})",
                      before=before, after=after, details=details)
    res.timings.update(peer_master_s=round(took, 3), total_s=round(confirmed_s, 3))
    return res


def _holders(ds: list[Director], vips: Any) -> str:
    return ", ".join(d.node.name for d in ds if d.holds(vips))


def _peer_took_over(ds: list[Director], name: str, old: str, vips: Any) -> str | None:
    for d in ds:
        inst = d.instance(name)
        if d.node.name != old and inst and inst.state == "MASTER" and d.holds(vips or inst.vips):
            return d.node.name
    return None


async def wait(ctx: Any, done: Callable[[list[Director]], Any], bound: float,
               only: set[str] | None = None) -> tuple[bool, list[Director], float]:
    """Read the directors (or those in `only`) until done(directors) is truthy or the bound passes."""
    started = time.monotonic()
    while True:
        ds = await failover_plan.read_all(ctx, only)
        took = time.monotonic() - started
        if done(ds):
            return True, ds, took
        if took >= bound:
            return False, ds, took
        await asyncio.sleep(POLL_S)
