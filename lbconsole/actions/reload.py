"""nginx reload on one node: the agent's `reload` verb checks (`nginx -t`: a failing config is refused with
its output, nothing touched), applies (`nginx -s reload`) and verifies on the node (the same master PID, a
new worker, no [emerg]/[alert] in the error log since)."""

from __future__ import annotations

from typing import Any

from lbconsole.actions import nodecall, result
from lbconsole.actions.result import ActionResult
from lbconsole.actions.targets import NodeTarget
from lbconsole.errors import UsageError


async def reload(ctx: Any, target: NodeTarget) -> ActionResult:
    node = ctx.cluster_config().node(target.node)
    if node is None or not node.has_role("nginx"):
        raise UsageError(f"{target.node!r} is not an nginx node of cluster {target.cluster}")
    reply = await nodecall.call(ctx, node, "reload", {"by": ctx.operator}, mutating=True)
    if not reply.ok:
        text = reply.error or ""
        if reply.code in ("refused", "version", "read_only"):
            lines = text.splitlines()
            return result.refused(f"reload on {node.name}: {text}", details=lines[1:])
        return result.failed(f"reload on {node.name}: {text}")
    res = reply.result
    before, after = res.get("before") or {}, res.get("after") or {}
    if not res.get("verified"):
        return result.failed(f"reload of nginx on {node.name} NOT verified: {res.get('detail')}",
                             before=before, after=after)
    return result.done(f"{node.name}: {res.get('detail')}", before=before, after=after)
