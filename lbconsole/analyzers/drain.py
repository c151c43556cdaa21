"""Drains that something undid: a recorded drain whose weight is no longer 0.

A poll can read the IPVS table a moment before a drain sets weight 0 and the
drain record (written first) a moment after; that straddle is not an incident.
So a drain recorded moments ago counts as reverted only once the director's
next sample still shows it; an older one (a health check that put keepalived's
weight back) counts at once, even in a one-shot `lbconsole status`.
"""

from __future__ import annotations

from collections.abc import Iterator

from lbconsole.analyzers.samples import sample_time
from lbconsole.analyzers.settings import Settings
from lbconsole.snapshot import Alert, ClusterSnapshot, NodeSnapshot, RealServer, Service

FRESH_S = 10.0  # a drain younger than this (or two polls) may still be being applied; clocks may differ a little
# (cluster, director, service key, real server key)
_Key = tuple[str, str, str, str]


def reverted(cluster: ClusterSnapshot) -> Iterator[tuple[NodeSnapshot, Service, RealServer]]:
    """Each (director, service, real server) where a drain is recorded but the weight is back."""
    for node in cluster.directors:
        if not node.reachable:
            continue
        for svc in node.ipvs:
            for rs in svc.real_servers:
                if rs.drain is not None and rs.weight != 0:
                    yield node, svc, rs


class Reverted:
    def __init__(self) -> None:
        self.first_seen: dict[_Key, float] = {}  # the director's sample time when the revert was first seen

    def check(self, cluster: ClusterSnapshot, taken_at: float, settings: Settings) -> Iterator[Alert]:
        fresh = max(2 * settings.poll_interval, FRESH_S)
        now: set[_Key] = set()
        for node, svc, rs in reverted(cluster):
            key = (cluster.name, node.name, svc.key, rs.key)
            now.add(key)
            at = sample_time(node, taken_at)
            first = self.first_seen.setdefault(key, at)
            just_drained = rs.drain is not None and at - rs.drain.since < fresh
            if just_drained and at <= first:
                continue
            reason = rs.drain.reason if rs.drain else ""
            yield Alert("warning", "drain_reverted",
                        f"{svc.key} {rs.key} is drained ({reason!r}) but has weight {rs.weight} "
                        f"on {node.name}", cluster.name, node.name)
        for key in [k for k in self.first_seen if k[0] == cluster.name and k not in now]:
            del self.first_seen[key]
