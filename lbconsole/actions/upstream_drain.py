"""Upstream drain: an upstream server marked `down` on every nginx node of the cluster, recorded there.

check:  a fresh snapshot of every nginx node; upstream_plan.plan() (every nginx node answered and has the
        upstream, SERVER is one server, not marked down by hand, not the last live one unless forced)
apply:  the agent's `upstream_drain` verb on each node of plan.act_on, all at once, each on its own (the
        node records, edits, runs nginx -t, reloads and verifies: lbconsole/node/upstream_edit.py)
verify: a fresh snapshot again: the server is `down` with lbconsole's record on every nginx node
A node that fails is named; the others keep their drain (exit 1: undrain, or drain again, once it is fixed).
"""

from __future__ import annotations

import time
from typing import Any

from lbconsole.actions import nodecall, result
from lbconsole.actions.result import ActionResult
from lbconsole.actions.targets import UpstreamServerTarget
from lbconsole.actions.upstream_plan import UpstreamPlan, plan
from lbconsole.collectors import node as collector
from lbconsole.errors import UsageError
from lbconsole.inventory import NodeConfig
from lbconsole.snapshot import ClusterSnapshot


def nginx_nodes(ctx: Any) -> list[NodeConfig]:
    cluster = ctx.cluster_config()
    nodes = [n for n in cluster.nodes if n.has_role("nginx")]
    if not nodes:
        raise UsageError(f"cluster {cluster.name} has no nginx node")
    return nodes


async def fresh(ctx: Any) -> ClusterSnapshot:
    """The cluster as its nginx nodes read it now (the other nodes only by name, for SERVER names)."""
    cluster = ctx.cluster_config()
    read = await nodecall.snapshots(ctx, nginx_nodes(ctx))
    nodes = tuple(read[n.name][0] if n.name in read else collector.empty(n) for n in cluster.nodes)
    return ClusterSnapshot(cluster.name, nodes)


def states(cluster: ClusterSnapshot, upstream: str, key: str) -> dict[str, str | None]:
    """The server's state on each nginx node: up, failing, down, drained; None where it was not read."""
    out: dict[str, str | None] = {}
    for node in cluster.nodes:
        if not node.has_role("nginx"):
            continue
        up = next((u for u in node.upstreams or () if u.name.lower() == upstream.lower()), None)
        server = up.server(key) if up is not None and node.reachable else None
        out[node.name] = server.state if server is not None else None
    return out


def verify(after: dict[str, str | None], drained: bool) -> list[str]:
    """What the re-read says is wrong: each nginx node must show drained (or, undrained, not down)."""
    problems = []
    for name, state in after.items():
        if state is None:
            problems.append(f"{name}: not read back (no answer, or the server is gone)")
        elif drained and state != "drained":
            problems.append(f"{name}: {state}, not drained")
        elif not drained and state in ("drained", "down"):
            problems.append(f"{name}: still {state}")
    return problems


def reply_problems(replies: dict[str, nodecall.Reply]) -> tuple[list[str], list[str]]:
    """(one line per node that failed, naming it; the nodes' details) from the verbs' replies."""
    problems, details = [], []
    for name, reply in sorted(replies.items()):
        if reply.ok:
            if not reply.result.get("verified", not reply.result.get("changed")):
                problems.append(f"{name}: {reply.result.get('detail', 'not verified')}")
            continue
        text = reply.error or "no answer"
        first, _, rest = text.partition("\n")
        problems.append(f"{first} ({reply.code})" if reply.code else first)
        details += [f"  {line}" for line in rest.splitlines() if line.strip()]
    return problems, details


async def act(ctx: Any, target: UpstreamServerTarget, drain: bool, params: dict[str, Any],
              force: bool = False) -> ActionResult:
    """check -> apply -> verify for both directions; params are the verb's own (reason, force)."""
    verb = "upstream_drain" if drain else "upstream_undrain"
    word = "drain" if drain else "undrain"
    started = time.monotonic()
    before_cluster = await fresh(ctx)
    p: UpstreamPlan = plan(before_cluster, target.upstream, target.server, drain, force)
    before = states(before_cluster, p.upstream, p.server)
    checked_s = time.monotonic() - started
    what = f"{p.label} of upstream {p.upstream}"
    if not p.act_on:
        return result.done(f"{what} is already {word}ed on every nginx node ({', '.join(p.already)})",
                           before=before, after=before, details=list(p.warnings))
    cluster = ctx.cluster_config()
    jobs = [(node, verb, {"upstream": p.upstream, "server": p.server, "by": ctx.operator, **params})
            for node in nginx_nodes(ctx) if node.name in p.act_on]
    ctx.say(f"{word}ing {what} on {', '.join(n.name for n, _, _ in jobs)}")
    applied = time.monotonic()
    replies = await nodecall.call_all(ctx, jobs, mutating=True)
    applied_s = time.monotonic() - applied
    after = states(await fresh(ctx), p.upstream, p.server)
    problems, node_details = reply_problems(replies)
    failed_on = {line.split(":")[0] for line in problems}
    problems += [line for line in verify(after, drain) if line.split(":")[0] not in failed_on]
    failed_on = {line.split(":")[0] for line in problems}
    details = list(p.warnings) + problems + node_details
    if p.already:
        details.append(f"already {word}ed on {', '.join(p.already)}")
    timings = {"checked_s": round(checked_s, 4), "applied_s": round(applied_s, 4),
               "verified_s": round(time.monotonic() - started, 4)}
    if not problems:
        how = "down (drained, recorded)" if drain else "back in rotation"
        res = result.done(f"{word}ed {what}: {how} on every nginx node of {cluster.name} "
                          f"({', '.join(sorted(after))})", before=before, after=after, details=details)
    elif all(not r.ok and r.code in ("refused", "read_only", "version") for r in replies.values()):
        res = result.refused(f"{word} of {what} refused: {problems[0]}", before=before, after=after,
                             details=details)
    else:
        done = sorted(n for n, r in replies.items() if r.ok and n not in failed_on)
        res = result.failed(f"{word} of {what} NOT verified on every nginx node "
                            f"({'done on ' + ', '.join(done) if done else 'done nowhere'})",
                            before=before, after=after, details=details)
    res.timings.update(timings)
    return res


def describe(name: str, target: dict[str, Any], nginx: list[str], reason: str | None = None) -> str:
    """What the action will change and where, for a confirmation (CLI prompt and TUI alike)."""
    what = f"{target.get('server')} of upstream {target.get('upstream')} in cluster {target.get('cluster') or '?'}"
    where = ", ".join(nginx) or "none"
    if name == "upstream_drain":
        return (f"Drain {what}: marked down on every nginx node ({where}); nginx -t, reload, verified. "
                f"Requests in flight finish.\nReason: {reason or ''}")
    return f"Undrain {what}: lbconsole's `down` taken off on every nginx node ({where}); nginx -t, reload, verified."


async def upstream_drain(ctx: Any, target: UpstreamServerTarget, reason: str, force: bool = False) -> ActionResult:
    if not reason.strip():
        raise UsageError("an upstream drain needs a reason (--reason TEXT)")
    return await act(ctx, target, True, {"reason": reason, "force": force}, force)
