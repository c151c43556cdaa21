"""Drains that something undid: a recorded drain whose weight is no longer 0."""

from __future__ import annotations

from collections.abc import Iterator

from lbconsole.snapshot import Alert, ClusterSnapshot, NodeSnapshot, RealServer, Service


def reverted(cluster: ClusterSnapshot) -> Iterator[tuple[NodeSnapshot, Service, RealServer]]:
    """Each (director, service, real server) where a drain is recorded but the weight is back."""
    for node in cluster.directors:
        if not node.reachable:
            continue
        for svc in node.ipvs:
            for rs in svc.real_servers:
                if rs.drain is not None and rs.weight != 0:
                    yield node, svc, rs


def check(cluster: ClusterSnapshot) -> Iterator[Alert]:
    for node, svc, rs in reverted(cluster):
        reason = rs.drain.reason if rs.drain else ""
        yield Alert("warning", "drain_reverted",
                    f"{svc.key} {rs.key} is drained ({reason!r}) but has weight {rs.weight} "
                    f"on {node.name}", cluster.name, node.name)
