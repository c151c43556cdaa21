"""Calling the agents' verbs for an action: each node at most once per step, all concurrently.

Node trouble never raises out of here: it is the reply's error (with the
agent's code when it answered with one). A mutating verb goes only to an agent
that is this console's version (else: refused, naming `lbconsole node install`)
and carries an op_id, so a reconnect never applies it twice.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from lbconsole.inventory import NodeConfig
from lbconsole.transport import AgentError, OutcomeUnknown, TransportError

ACTION_TIMEOUT_S = 30.0


@dataclass
class Reply:
    node: str
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    code: str | None = None  # the agent's error code; "version", "unreachable" or "unknown" from here

    @property
    def ok(self) -> bool:
        return self.error is None


async def call(ctx: Any, node: NodeConfig, verb: str, args: dict[str, Any] | None = None, *,
               mutating: bool = False, timeout: float = ACTION_TIMEOUT_S) -> Reply:
    if mutating:
        problem = await ctx.agent_ready(node)
        if problem:
            code = "version" if problem == ctx.session(node).version_problem else "unreachable"
            return Reply(node.name, error=problem, code=code)
    try:
        result = await ctx.session(node).request(verb, args or {}, timeout=timeout, mutating=mutating)
    except AgentError as exc:
        return Reply(node.name, error=str(exc), code=exc.code)
    except OutcomeUnknown as exc:
        return Reply(node.name, error=str(exc), code="unknown")
    except TransportError as exc:
        return Reply(node.name, error=str(exc), code="unreachable")
    return Reply(node.name, result)


async def call_all(ctx: Any, jobs: list[tuple[NodeConfig, str, dict[str, Any]]], *, mutating: bool = False,
                   timeout: float = ACTION_TIMEOUT_S) -> dict[str, Reply]:
    """Each (node, verb, args) concurrently; each node at most once (a repeat is a bug, so it raises)."""
    names = [node.name for node, _, _ in jobs]
    if len(set(names)) != len(names):
        raise ValueError(f"a node appears twice in one step: {names}")
    replies = await asyncio.gather(*(call(ctx, node, verb, args, mutating=mutating, timeout=timeout)
                                     for node, verb, args in jobs))
    return {r.node: r for r in replies}


async def snapshots(ctx: Any, nodes: list[NodeConfig], timeout: float = ACTION_TIMEOUT_S,
                    dump_max_age: float = 0.0) -> dict[str, Any]:
    """A fresh NodeSnapshot of each node (unreachable ones marked so), plus the raw results by name.

    `dump_max_age`: how old keepalived's shared dump may be (0: signal it now; a drain needs no VRRP state)."""
    from lbconsole.collectors import node as collector

    async def one(node: NodeConfig) -> tuple[Any, dict[str, Any]]:
        args = collector.snapshot_args(node, dump_max_age=dump_max_age)
        reply = await call(ctx, node, "snapshot", args, timeout=timeout)
        if not reply.ok:
            return collector.unreachable(node, None, reply.error or "no answer", 0.0), {}
        try:
            return collector.from_result(node, reply.result, time.time()), reply.result
        except collector.BadSnapshot as exc:
            return collector.unreachable(node, None, f"the agent's snapshot is not valid: {exc}", 0.0), {}

    got = await asyncio.gather(*(one(n) for n in nodes))
    return {n.name: pair for n, pair in zip(nodes, got, strict=True)}
