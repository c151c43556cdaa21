"""Undrain: the recorded weight back on every director.

check: every director answers, the real servers exist and are drained somewhere (a record, or weight 0)
apply: the agent's `undrain` verb on every usable director (the record goes first; keepalived restores a
       prepared server's weight itself, else the weight is set), with the record found on any director as
       the fallback weight for one that lost its own
verify: no director still has weight 0, and each has the recorded weight
"""

from __future__ import annotations

from typing import Any

from lbconsole.actions import director_view, nodecall, result
from lbconsole.actions.drain import _weights, check, read_back
from lbconsole.actions.result import ActionResult
from lbconsole.actions.targets import RealServerTarget


async def undrain(ctx: Any, target: RealServerTarget, force: bool = False) -> ActionResult:
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
    fallback = {k: int(rec["weight"]) for k, rec in records.items() if rec and rec.get("weight")}
    jobs = []
    for v in views.values():
        present = [k for k in keys if k in v.rows and (k in v.records or v.rows[k].weight == 0)]
        if v.usable and present:
            jobs.append((v.node, "undrain", {"service": target.service.key, "real_servers": present,
                                             "weights": fallback, "by": ctx.operator}))
    replies = await nodecall.call_all(ctx, jobs, mutating=True)
    after, problems = read_back(replies, keys)
    restored = ", ".join(f"{n} {w}" for n, ws in after.items() for w in ws.values())
    if problems:
        return result.failed(f"undrain of {', '.join(keys)} NOT verified: weights {restored}",
                             before=before, after=after, details=forced + problems)
    return result.done(f"undrained {', '.join(keys)} of {target.service.key}: weight back on {restored}",
                       before=before, after=after, details=forced)
