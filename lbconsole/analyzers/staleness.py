"""Nodes that cannot be reached, or whose data is getting old."""

from __future__ import annotations

from collections.abc import Iterator

from lbconsole.snapshot import PENDING, Alert, ClusterSnapshot

STALE_POLLS = 3  # data older than this many poll intervals is stale...
STALE_MIN_S = 10.0  # ...but never sooner: a slow node's poll may itself take seconds


def check(cluster: ClusterSnapshot, poll_interval: float) -> Iterator[Alert]:
    for node in cluster.nodes:
        if node.error == PENDING:
            continue  # not known to be down yet: its first poll is still running
        if not node.reachable:
            seen = f"last data {node.age_s:.0f} s old" if node.updated_at else "never reached"
            yield Alert("critical", "node_unreachable", f"{node.name} unreachable: {node.error} ({seen})",
                        cluster.name, node.name)
        elif node.age_s > max(STALE_POLLS * poll_interval, STALE_MIN_S):
            yield Alert("warning", "node_stale", f"{node.name} data is {node.age_s:.0f} s old",
                        cluster.name, node.name)
