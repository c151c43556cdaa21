"""What a poll tells the node agent about its cadence, so the agent has the next sample ready.

The agent answers from a sample it took just before the request was due (docs/node-agent.md,
`snapshot`), never older than `max_age`; after a watch event the console asks for a sample
started after the event (`after`, the node's own clock), so an event is never answered with
data from before it.
"""

from __future__ import annotations

from lbconsole.collectors.node import DUMP_MAX_AGE_S


def max_age(interval: float) -> float:
    """The oldest prepared sample a poll takes: half an interval, and no older than the shared VRRP dump."""
    return round(min(interval / 2, DUMP_MAX_AGE_S), 3)


def cadence(interval: float | None, after: float | None = None) -> dict[str, float] | None:
    """The snapshot request's prepared-sample args; None (sample now) without an interval."""
    if not interval or interval <= 0:
        return None
    args = {"interval": round(max(0.1, min(interval, 3600.0)), 3), "max_age": max_age(interval)}
    if after:
        args["after"] = after
    return args
