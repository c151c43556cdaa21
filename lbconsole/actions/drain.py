"""Drain: weight 0 for real servers on every director at once, recorded there.

check: every director answers (the console's live data when current, else a fresh snapshot each), the
       real servers exist, not the last one in service (unless forced); each agent checks the same again
       on the node when it acts (refused there: nothing touched on that director)
apply: the agent's `drain` verb on every usable director, concurrently (each records, uses the track
       file where keepalived is prepared, sets the weight, reads it back)
verify: the weight read back on every director is 0
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from lbconsole.actions import director_view, nodecall, result
from lbconsole.actions.director_view import DirectorView
from lbconsole.actions.result import ActionResult
from lbconsole.actions.targets import RealServerTarget
from lbconsole.errors import UsageError


def _weights(views: dict[str, DirectorView], keys: list[str]) -> dict[str, dict[str, int | None]]:
    return {name: {k: (v.rows[k].weight if k in v.rows else None) for k in keys}
            for name, v in views.items() if v.usable}


def check(target: RealServerTarget, views: dict[str, DirectorView], force: bool,
          drain: bool = True) -> tuple[ActionResult | None, list[str]]:
    """(a refusal or None to go ahead, the problems --force went past: warnings for the result)."""
    keys = [rs.key for rs in target.real_servers]
    svc = target.service.key
    usable = [v for v in views.values() if v.usable]
    down = [v for v in views.values() if v.error]
    missing_svc = [v.node.name for v in views.values() if v.service_missing]
    if not usable:
        why = "; ".join(v.error or "" for v in down) or f"no director has service {svc}"
        if not down:
            raise UsageError(f"no director has service {svc} ({', '.join(missing_svc)} checked)")
        return result.refused(f"no director usable: {why}"), []
    for key in keys:
        if not any(key in v.rows for v in usable):
            have = sorted({k for v in usable for k in v.rows})
            raise UsageError(f"no real server {key} in service {svc} (it has {', '.join(have) or 'none'})")
    problems = [v.error or "" for v in down]
    problems += [f"{name} has no service {svc}" for name in missing_svc]
    problems += [f"{key} is not in {svc} on {v.node.name}" for v in usable for key in keys if key not in v.rows]
    if drain:
        for v in usable:
            left = [k for k, s in v.rows.items() if s.weight > 0 and k not in keys]
            if not left:
                problems.append(f"{', '.join(keys)} would leave {svc} with no real server in service on "
                                f"{v.node.name}")
    if problems and not force:
        cmd = f"lbconsole {'drain' if drain else 'undrain'} {svc} {' '.join(keys)} --force"
        return result.refused("; ".join(problems) + f" (to go ahead anyway: {cmd})"), []
    return None, [f"forced: {p}" for p in problems]


def read_back(replies: dict[str, nodecall.Reply], keys: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Each director's weights as its agent read them back after the change, and what went wrong."""
    after: dict[str, dict[str, int | None]] = {}
    problems: list[str] = []
    for name, reply in replies.items():
        if not reply.ok:
            problems.append(reply.error or f"{name}: no answer")
            continue
        weights = reply.result.get("after") or {}
        after[name] = {k: weights.get(k) for k in keys}
        if not reply.result.get("verified"):
            problems.append(f"{name}: {reply.result.get('detail', 'not verified')}")
    return after, problems


async def drain(ctx: Any, target: RealServerTarget, reason: str, force: bool = False) -> ActionResult:
    if not reason.strip():
        raise UsageError("a drain needs a reason (--reason TEXT)")
    keys = [rs.key for rs in target.real_servers]
    nodes = director_view.directors(ctx.cluster_config())
    if not nodes:
        return result.refused(f"cluster {target.cluster} has no directors")
    started = time.monotonic()
    # The console's live data when current (the agent checks again when it acts), else read afresh.
    views = director_view.known(ctx, nodes, target.service) or \
        await director_view.inspect(ctx, nodes, target.service, keys)
    checked_s = time.monotonic() - started
    before = _weights(views, keys)
    refusal, forced = check(target, views, force)
    if refusal:
        refusal.before = before
        return refusal
    jobs = []
    for v in views.values():
        present = [k for k in keys if k in v.rows] if v.usable else []
        if present:
            jobs.append((v.node, "drain", {"service": target.service.key, "real_servers": present, "reason": reason,
                                           "by": ctx.operator, "force": force}))
    ctx.say(f"draining {target.label} on {', '.join(n.name for n, _, _ in jobs)}")
    applied = time.monotonic()
    replies = await nodecall.call_all(ctx, jobs, mutating=True)
    verified_s = time.monotonic() - started
    after, problems = read_back(replies, keys)
    before.update({n: {k: r.result["before"].get(k) for k in keys} for n, r in replies.items()
                   if r.ok and isinstance(r.result.get("before"), dict)})  # as the node read it when it acted
    bad = [f"{name}: {k} has weight {w}" for name, ws in after.items() for k, w in ws.items() if w not in (0, None)]
    out = result.done if not (problems or bad) else result.failed
    how = _how(replies)
    verb = "drained" if out is result.done else "drain NOT verified for"
    message = f"{verb} {', '.join(keys)} of {target.service.key}: weight 0 on {', '.join(after) or 'no director'}"
    res = out(message, before=before, after=after, details=forced + problems + bad + how)
    res.timings.update(checked_s=round(checked_s, 4), applied_s=round(time.monotonic() - applied, 4),
                       verified_s=round(verified_s, 4))
    if res.ok:
        ctx.partial = res  # applied and verified: an interruption while waiting is audited with it
        await wait_for_zero(ctx, target, nodes, res, _active(replies, keys))
    return res


def _how(replies: dict[str, nodecall.Reply]) -> list[str]:
    """Which directors hold the drain through keepalived (prepared) and which had it set directly."""
    modes = {name: [str(h) for h in (r.result.get("how") or {}).values()] for name, r in replies.items() if r.ok}
    safe = sorted(n for n, hs in modes.items() if hs and all(h.startswith("keepalived-safe") for h in hs))
    direct = sorted(n for n, hs in modes.items() if any(h.startswith("set directly") for h in hs))
    out = []
    if safe:
        out.append(f"keepalived-safe on {', '.join(safe)}")
    if direct:
        out.append(f"set directly on {', '.join(direct)}: a health flap or keepalived reload there puts the weight "
                   "back; a running console re-applies it (see docs/prepared-cluster.md)")
    return out


def _active(replies: dict[str, nodecall.Reply], keys: list[str]) -> dict[str, int] | None:
    """Active connections per director as each read them back with the drain, if every one did."""
    per = {}
    for name, reply in replies.items():
        conns = reply.result.get("active_conns") if reply.ok else None
        if not isinstance(conns, dict) or not all(isinstance(conns.get(k), int) for k in keys):
            return None
        per[name] = sum(int(conns[k]) for k in keys)
    return per or None


async def wait_for_zero(ctx: Any, target: RealServerTarget, nodes: list[Any], res: ActionResult,
                        first: dict[str, int] | None = None) -> None:
    """Progress until the drained servers' active connections reach 0, or ctx.wait_s passes.

    `first`: the counts the drain verb read back (no extra read when they are already 0)."""
    bound = float(getattr(ctx, "wait_s", 0) or 0)
    keys = [rs.key for rs in target.real_servers]
    started = time.monotonic()
    last = None
    while True:
        if first is not None:
            per, first = first, None
        else:
            views = await director_view.inspect(ctx, nodes, target.service, keys)
            per = {name: sum(rs.active_conns for k, rs in v.rows.items() if k in keys)
                   for name, v in views.items() if v.usable}
        total = sum(per.values())
        took = time.monotonic() - started
        if total != last:
            ctx.say(f"active connections: {total} ({', '.join(f'{n} {c}' for n, c in per.items())}) "
                    f"after {took:.1f} s")
            last = total
        if total == 0:
            res.details.append(f"active connections reached 0 after {took:.1f} s")
            res.after["active_connections"] = 0
            return
        if took >= bound:
            res.details.append(f"still {total} active connection(s) after {took:.0f} s; stopped waiting, "
                               "the drain stays in place")
            res.after["active_connections"] = total
            return
        await asyncio.sleep(min(1.0, max(0.0, bound - took)))
