"""Drain and undrain: weight 0 on every director at once, recorded there; the recorded weight back.

check: every director answers, the real servers exist, not the last one in service (unless forced)
apply: one script per director, all concurrently: record, track file (prepared), ipvsadm -e, read back
verify: the read-back weight on every director
"""

from __future__ import annotations

import asyncio
import time

from lbconsole.actions import director_view, drain_script, nodescript, result
from lbconsole.actions.context import ActionContext
from lbconsole.actions.director_view import DirectorView
from lbconsole.actions.ipvs_state import RsState, parse_rows
from lbconsole.actions.result import ActionResult
from lbconsole.actions.targets import RealServerTarget
from lbconsole.errors import UsageError
from lbconsole.inventory import NodeConfig


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
        why = "; ".join(v.error for v in down if v.error) or f"no director has service {svc}"
        if not down:
            raise UsageError(f"no director has service {svc} ({', '.join(missing_svc)} checked)")
        return result.refused(f"no director usable: {why}"), []
    for key in keys:
        if not any(key in v.rows for v in usable):
            have = sorted({k for v in usable for k in v.rows})
            raise UsageError(f"no real server {key} in service {svc} (it has {', '.join(have) or 'none'})")
    problems = [v.error for v in down if v.error]
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


def _original_weight(view: DirectorView, target: RealServerTarget, state: RsState) -> int:
    rec = view.records.get(state.key)
    if rec and rec.get("weight") is not None:
        return int(rec["weight"])
    if state.weight > 0:
        return state.weight
    return view.configured_weight(target.service, state.key) or 1


async def drain(ctx: ActionContext, target: RealServerTarget, reason: str, force: bool = False) -> ActionResult:
    if not reason.strip():
        raise UsageError("a drain needs a reason (--reason TEXT)")
    keys = [rs.key for rs in target.real_servers]
    nodes = director_view.directors(ctx.cluster_config())
    if not nodes:
        return result.refused(f"cluster {target.cluster} has no directors")
    started = time.monotonic()
    views = await director_view.inspect(ctx, nodes, target.service, keys)
    before = _weights(views, keys)
    refusal, forced = check(target, views, force)
    if refusal:
        refusal.before = before
        return refusal
    since = time.time()
    jobs, modes = [], {}
    for v in views.values():
        if not v.usable:
            continue
        items = []
        for key in keys:
            state = v.rows.get(key)
            if state is None:
                continue
            prep = v.prep(target.service, key)
            modes[(v.node.name, key)] = prep
            rec = drain_script.record_json(target.service.key, key, _original_weight(v, target, state),
                                           reason, ctx.operator, since)
            items.append((state, rec, prep.path if prep.prepared else None))
        if items:
            jobs.append((v.node, drain_script.apply_drain(target.service, items)))
    ctx.say(f"draining {target.label} on {', '.join(n.name for n, _ in jobs)}")
    replies = await nodescript.run_all(ctx, jobs)
    verified_s = time.monotonic() - started
    after, problems = _read_back(replies, keys)
    bad = [f"{name}: {k} has weight {w}" for name, ws in after.items() for k, w in ws.items() if w not in (0, None)]
    out = result.done if not (problems or bad) else result.failed
    prepared = sorted({n for (n, _), p in modes.items() if p.prepared})
    direct = sorted({n for (n, _), p in modes.items() if not p.prepared})
    how = []
    if prepared:
        how.append(f"keepalived-safe on {', '.join(prepared)}")
    if direct:
        how.append(f"set directly on {', '.join(direct)}: a health flap or keepalived reload there puts the "
                   "weight back; a running console re-applies it (see docs/prepared-cluster.md)")
    verb = "drained" if out is result.done else "drain NOT verified for"
    message = f"{verb} {', '.join(keys)} of {target.service.key}: weight 0 on {', '.join(after) or 'no director'}"
    res = out(message, before=before, after=after, details=forced + problems + bad + how)
    res.timings["verified_s"] = round(verified_s, 4)
    if res.ok:
        await wait_for_zero(ctx, target, nodes, res)
    return res


def _read_back(replies: dict[str, nodescript.NodeReply],
               keys: list[str]) -> tuple[dict[str, dict[str, int | None]], list[str]]:
    after: dict[str, dict[str, int | None]] = {}
    problems: list[str] = []
    for name, reply in replies.items():
        if reply.error:
            problems.append(reply.error)
            continue
        for label, section in reply.sections.items():
            if label.startswith(("rec:", "set:")) and not section.ok:
                problems.append(f"{name}: {label.split(':', 1)[0]} {label.split(':', 1)[1]}: {section.first_line()}")
        rows = reply.get("rows")
        states = parse_rows(rows.text) if rows and rows.ok else {}
        if rows is None or not rows.ok:
            problems.append(f"{name}: could not read the weights back")
        after[name] = {k: (states[k].weight if k in states else None) for k in keys}
    return after, problems


async def wait_for_zero(ctx: ActionContext, target: RealServerTarget, nodes: list[NodeConfig],
                        res: ActionResult) -> None:
    """Progress until the drained servers' active connections reach 0, or ctx.wait_s passes."""
    bound = float(getattr(ctx, "wait_s", 0) or 0)
    keys = [rs.key for rs in target.real_servers]
    started = time.monotonic()
    last = None
    while True:
        replies = await nodescript.run_all(ctx, [(n, drain_script.conns(target.service)) for n in nodes])
        per = {name: sum(s.active for k, s in parse_rows(rows.text).items() if k in keys)
               for name, r in replies.items() if not r.error and (rows := r.get("rows")) and rows.ok}
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


async def undrain(ctx: ActionContext, target: RealServerTarget, force: bool = False) -> ActionResult:
    keys = [rs.key for rs in target.real_servers]
    nodes = director_view.directors(ctx.cluster_config())
    views = await director_view.inspect(ctx, nodes, target.service, keys)
    before = _weights(views, keys)
    refusal, forced = check(target, views, force=force, drain=False)
    if forced:  # a director that did not answer keeps its drain: say how to finish
        forced.append(f"undrain again once {', '.join(v.node.name for v in views.values() if not v.usable)} "
                      "answers: it keeps its drain record and weight 0")
    if refusal:
        refusal.before = before
        return refusal
    records = {k: next((v.records[k] for v in views.values() if k in v.records), None) for k in keys}
    # Without a record anywhere, a weight 0 still counts as drained (a record lost half-way):
    # the configured weight comes back.
    not_drained = [k for k, rec in records.items() if rec is None
                   and not any(k in v.rows and v.rows[k].weight == 0 for v in views.values() if v.usable)]
    if not_drained:
        return result.refused(f"{', '.join(not_drained)} of {target.service.key} is not drained "
                              "(no drain record and a weight above 0 on every director)", before=before)
    jobs, expect = [], {}
    for v in views.values():
        items = []
        for key in keys:
            state = v.rows.get(key)
            if state is None:
                continue
            rec = v.records.get(key) or records[key] or {}
            weight = int(rec.get("weight") or v.configured_weight(target.service, key) or 1)
            prep = v.prep(target.service, key)
            items.append((state, weight, prep.path if prep.prepared else None))
            expect[(v.node.name, key)] = weight
        if items:
            jobs.append((v.node, drain_script.apply_undrain(target.service, items)))
    replies = await nodescript.run_all(ctx, jobs, timeout=30 + drain_script.UNDRAIN_WAIT_S)
    after, problems = _read_back(replies, keys)
    for name, ws in after.items():
        for key, read in ws.items():
            if read == 0:
                problems.append(f"{name}: {key} still has weight 0 (keepalived keeps it down: its health check "
                                "fails, or a drain was set by hand)")
            elif read is not None and read != expect.get((name, key), read):
                problems.append(f"{name}: {key} has weight {read}, recorded {expect[(name, key)]}")
    restored = ", ".join(f"{n} {w}" for n, ws in after.items() for w in ws.values())
    if problems:
        return result.failed(f"undrain of {', '.join(keys)} NOT verified: weights {restored}",
                             before=before, after=after, details=forced + problems)
    return result.done(f"undrained {', '.join(keys)} of {target.service.key}: weight back on {restored}",
                       before=before, after=after, details=forced)
