"""Upstream undrain: lbconsole's `down` taken off an upstream server on every nginx node of the cluster.

check:  a fresh snapshot of every nginx node; upstream_plan.plan() (every nginx node answered and has the
        upstream, SERVER is one server, not marked down by hand: that is the config's owner's to edit)
apply:  the agent's `upstream_undrain` verb on each node where it is drained, all at once (the node takes
        out exactly what its drain put in, nginx -t, reload, verified, record removed)
verify: a fresh snapshot again: the server is not down on any nginx node
"""

from __future__ import annotations

from typing import Any

from lbconsole.actions.result import ActionResult
from lbconsole.actions.targets import UpstreamServerTarget
from lbconsole.actions.upstream_drain import act


async def upstream_undrain(ctx: Any, target: UpstreamServerTarget) -> ActionResult:
    return await act(ctx, target, False, {})
