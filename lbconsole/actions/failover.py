"""Failover: the MASTER of a VRRP instance steps down and its peer takes over; release undoes it.

Prepared cluster: write 1 to the master's failover track file (its priority
drops below the peer's). Unprepared: stop keepalived on the master. Either way
the force is recorded on that node, verified by the peer reporting MASTER and
holding the VIP within VERIFY_S, and `release` removes it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection

from lbconsole.actions import failover_plan, failover_script, nodescript, prepared, result
from lbconsole.actions.context import ActionContext
from lbconsole.actions.failover_plan import Director, Plan
from lbconsole.actions.result import ActionResult
from lbconsole.actions.targets import InstanceTarget

VERIFY_S = 10.0
RELEASE_VERIFY_S = 20.0  # keepalived start + its first adverts + a preempt under a slow VM
POLL_S = 0.3


def _state_of(ds: list[Director], name: str) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for d in ds:
        inst = d.instance(name)
        out[d.node.name] = {"state": inst.state if inst else None,
                            "priority": (inst.effective_priority or inst.priority) if inst else None,
                            "holds_vip": d.holds(inst.vips) if inst else False,
                            "keepalived": d.snap.keepalived_running if d.snap else None,
                            "reachable": d.error is None}
    return out


async def plan(ctx: ActionContext, target: InstanceTarget) -> Plan:
    return failover_plan.plan(target, await failover_plan.read_all(ctx))


async def failover(ctx: ActionContext, target: InstanceTarget) -> ActionResult:
    started = time.monotonic()
    p = await plan(ctx, target)
    before = _state_of(p.directors, target.instance)
    if p.refusal:
        return result.refused(f"failover of {target.instance} refused: {p.refusal}", before=before)
    master = p.master
    assert master is not None  # plan() names the master unless it refuses
    since = time.time()
    if p.mode == "track_file":
        assert p.track is not None and p.track.path is not None  # the track_file mode comes with its file
        rec = failover_script.record_json(target.instance, "track_file", ctx.operator, since, track=p.track.path)
        script = failover_script.force_track(target.instance, rec, p.track.path)
    else:
        rec = failover_script.record_json(target.instance, "stopped", ctx.operator, since,
                                          systemd=master.systemd, argv=master.argv)
        script = failover_script.force_stop(target.instance, rec)
    ctx.say(f"{master.node.name} steps down from {target.instance}: {p.warning}")
    reply = (await nodescript.run_all(ctx, [(master.node, script)]))[master.node.name]
    failed = reply.error or next((f"{k}: {s.first_line()}" for k, s in reply.sections.items() if not s.ok), None)
    if failed:
        return result.failed(f"failover of {target.instance}: {master.node.name} did not step down: {failed}",
                             before=before, details=[p.warning])
    # Only the peers are polled while waiting: the master is stepping down and the VM may be slow.
    peers = {d.node.name for d in p.peers}
    ok, ds, took = await _wait(ctx, lambda ds: _peer_took_over(ds, target.instance, master.node.name, p.vips),
                               VERIFY_S, peers)
    confirmed_s = time.monotonic() - started
    ds += await failover_plan.read_all(ctx, {master.node.name})
    after = _state_of(ds, target.instance)
    details = [p.warning, f"release with: lbconsole failover {target.instance} --release"]
    if not ok:
        return result.failed(f"failover of {target.instance} NOT verified within {VERIFY_S:g} s: "
                             f"{failover_plan._states(ds, target.instance)}; VIP {', '.join(p.vips)} held by "
                             f"{_holders(ds, p.vips) or 'nobody'}. The step-down stays in place",
                             before=before, after=after, details=details)
    new = _peer_took_over(ds, target.instance, master.node.name, p.vips)
    res = result.done(f"{new} is MASTER of {target.instance} and holds {', '.join(p.vips)} "
                      f"({took:.1f} s after the step-down of {master.node.name})",
                      before=before, after=after, details=details)
    res.timings.update(peer_master_s=round(took, 3), total_s=round(confirmed_s, 3))
    return res


def _holders(ds: list[Director], vips: Collection[str]) -> str:
    return ", ".join(d.node.name for d in ds if d.holds(vips))


def _peer_took_over(ds: list[Director], name: str, old: str, vips: Collection[str]) -> str | None:
    for d in ds:
        inst = d.instance(name)
        if d.node.name != old and inst and inst.state == "MASTER" and d.holds(vips or inst.vips):
            return d.node.name
    return None


async def _wait(ctx: ActionContext, done: Callable[[list[Director]], object], bound: float,
                only: set[str] | None = None) -> tuple[bool, list[Director], float]:
    """Poll the directors (or those in `only`) until done(directors) is truthy or the bound passes."""
    started = time.monotonic()
    while True:
        ds = await failover_plan.read_all(ctx, only)
        took = time.monotonic() - started
        if done(ds):
            return True, ds, took
        if took >= bound:
            return False, ds, took
        await asyncio.sleep(POLL_S)


async def release(ctx: ActionContext, target: InstanceTarget) -> ActionResult:
    ds = await failover_plan.read_all(ctx)
    name = target.instance
    before = _state_of(ds, name)
    forced = [d for d in ds if name in d.forced]
    unreachable = [d.node.name for d in ds if d.error and name not in d.forced]
    if not forced:
        why = f" ({', '.join(unreachable)} unreachable)" if unreachable else ""
        return result.refused(f"{name} is not forced on any director{why}: nothing to release", before=before)
    jobs = [(d.node, failover_script.release(name, d.forced[name])) for d in forced]
    replies = await nodescript.run_all(ctx, jobs)
    problems = []
    for node_name, reply in replies.items():
        if reply.error:
            problems.append(reply.error)
            continue
        problems += [f"{node_name}: {k}: {s.first_line()}" for k, s in reply.sections.items() if not s.ok]
    released = [d.node.name for d in forced]
    preempt = _preempt_note(forced, ds, name)
    ok, ds2, took = await _wait(ctx, lambda ds: _settled(ds, name, released, preempt[1]), RELEASE_VERIFY_S)
    after = _state_of(ds2, name)
    details = [preempt[0]] if preempt[0] else []
    if problems or not ok:
        return result.failed(f"release of {name} on {', '.join(released)} NOT verified: "
                             f"{'; '.join(problems) or failover_plan._states(ds2, name)}",
                             before=before, after=after, details=details)
    master = next((d.node.name for d in ds2 if (i := d.instance(name)) and i.state == "MASTER"), None)
    res = result.done(f"released {name} on {', '.join(released)}: configured priorities apply again; "
                      f"{master} is MASTER ({took:.1f} s)", before=before, after=after, details=details)
    res.timings["settled_s"] = round(took, 3)
    return res


def _preempt_note(forced: list[Director], ds: list[Director], name: str) -> tuple[str, str | None]:
    """(warning, the node expected to end MASTER) for a released node that will take the VIP back."""
    current = next((d for d in ds if (i := d.instance(name)) and i.state == "MASTER"), None)
    for d in forced:
        prio = prepared.instance_priority(d.conf, name) if d.conf else None
        cur = current.instance(name) if current else None
        preempts = prepared.preempts(d.conf, name) if d.conf else True
        if prio and cur and current is not None and prio > (cur.priority or 0) and preempts:
            return (f"preempt: {d.node.name} (priority {prio}) takes {name} back from {current.node.name} - a "
                    "second flap; set nopreempt or preempt_delay to avoid it", d.node.name)
    return "", None


def _settled(ds: list[Director], name: str, released: list[str], expect_master: str | None) -> bool:
    masters = [d for d in ds if (i := d.instance(name)) and i.state == "MASTER" and d.holds(i.vips)]
    back = all((r := next((x for x in ds if x.node.name == n), None)) and r.instance(name) for n in released)
    if expect_master:
        return back and [d.node.name for d in masters] == [expect_master]
    return back and len(masters) == 1
