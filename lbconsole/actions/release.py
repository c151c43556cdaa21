"""Release a forced failover: configured priorities apply again.

check: some director has the instance forced (its record)
apply: the agent's `release` verb on each forced director (track file reset, or keepalived started as it ran)
verify: exactly one MASTER holding the VIP again within RELEASE_VERIFY_S; with preempt the higher
        priority takes it back (a second flap), which the result says
"""

from __future__ import annotations

from typing import Any

from lbconsole.actions import failover_plan, nodecall, result
from lbconsole.actions.failover import state_of, wait
from lbconsole.actions.failover_plan import Director
from lbconsole.actions.result import ActionResult
from lbconsole.actions.targets import InstanceTarget

RELEASE_VERIFY_S = 20.0  # keepalived start + its first adverts + a preempt under a slow VM


async def release(ctx: Any, target: InstanceTarget) -> ActionResult:
    ds = await failover_plan.read_all(ctx)
    name = target.instance
    before = state_of(ds, name)
    forced = [d for d in ds if name in d.forced]
    unreachable = [d.node.name for d in ds if d.error and name not in d.forced]
    if not forced:
        why = f" ({', '.join(unreachable)} unreachable)" if unreachable else ""
        return result.refused(f"{name} is not forced on any director{why}: nothing to release", before=before)
    jobs = [(d.node, "release", {"instance": name, "by": ctx.operator}) for d in forced]
    replies = await nodecall.call_all(ctx, jobs, mutating=True)
    problems = [r.error or "" for r in replies.values() if not r.ok]
    problems += [f"{n}: {r.result.get('detail')}" for n, r in replies.items() if r.ok and not r.result.get("verified")]
    released = [d.node.name for d in forced]
    # With preempt a released director of higher priority takes the VIP back: wait for that second flap too.
    ok, ds2, took = await wait(ctx, lambda ds: _settled(ds, name, released, strict=True), RELEASE_VERIFY_S)
    if not ok:  # nopreempt (or preempt_delay): one MASTER holding the VIP is settled enough
        ok = _settled(ds2, name, released)
    after = state_of(ds2, name)
    details = [("with preempt, the director with the higher configured priority takes the VIP back (a second "
                "flap); set nopreempt or preempt_delay to avoid it")]
    details += [str(r.result.get("detail")) for r in replies.values() if r.ok]
    if problems or not ok:
        return result.failed(f"release of {name} on {', '.join(released)} NOT verified: "
                             f"{'; '.join(problems) or failover_plan._states(ds2, name)}",
                             before=before, after=after, details=details)
    master = next((d.node.name for d in ds2 if (i := d.instance(name)) and i.state == "MASTER"), None)
    res = result.done(f"released {name} on {', '.join(released)}: configured priorities apply again; "
                      f"{master} is MASTER ({took:.1f} s)", before=before, after=after, details=details)
    res.timings["settled_s"] = round(took, 3)
    return res


def _settled(ds: list[Director], name: str, released: list[str], strict: bool = False) -> bool:
    """One MASTER holding the VIP and every released director running the instance again; `strict`: and
    no released director has a higher configured priority than that MASTER (it would preempt)."""
    masters = [d for d in ds if (i := d.instance(name)) and i.state == "MASTER" and d.holds(i.vips)]
    back = [d.instance(name) for d in ds if d.node.name in released]
    if len(back) != len(released) or not all(back) or len(masters) != 1:
        return False
    top = masters[0].instance(name)
    return not strict or all(i is not None and top is not None and i.priority <= top.priority for i in back
                             if i is not top)
