"""What one director says about a service before an action: its real servers and drain records.

Read with the agent's `snapshot` verb (a fresh VRRP dump, the IPVS table, the
drain and forced-failover records), all directors at once; changes nothing.
Or, where the console already has current data of every director (its live
snapshot), from that: the node checks again at the moment of action.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from lbconsole.actions import nodecall
from lbconsole.actions.targets import ServiceSpec
from lbconsole.analyzers.staleness import is_stale
from lbconsole.collectors import node as collector
from lbconsole.inventory import ClusterConfig, NodeConfig
from lbconsole.snapshot import NodeSnapshot, RealServer


@dataclass
class DirectorView:
    node: NodeConfig
    error: str | None = None  # unreachable, or IPVS unreadable
    service_missing: bool = False
    rows: dict[str, RealServer] = field(default_factory=dict)  # by real-server key
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # drain records, by real-server key
    snap: NodeSnapshot | None = None

    @property
    def usable(self) -> bool:
        return self.error is None and not self.service_missing


def directors(cluster: ClusterConfig) -> list[NodeConfig]:
    """Every director of the cluster, each exactly once."""
    return list({n.name: n for n in cluster.directors}.values())


def from_snapshot(node: NodeConfig, snap: NodeSnapshot, raw: dict[str, Any], service: ServiceSpec) -> DirectorView:
    view = DirectorView(node, snap=snap)
    if not snap.reachable:
        view.error = snap.error or f"{node.name} unreachable"
        return view
    errors = raw.get("errors") or {}
    if raw.get("ipvs") is None or "ipvs" in errors:
        view.error = f"{node.name}: IPVS not readable: {errors.get('ipvs', 'no table')}"
        return view
    for rec in raw.get("drains") or ():
        if isinstance(rec, dict) and rec.get("service") == service.key and rec.get("real_server"):
            view.records[str(rec["real_server"])] = rec
    svc = snap.service(service.key)
    if svc is None:
        view.service_missing = True
        return view
    view.rows = {rs.key: rs for rs in svc.real_servers}
    return view


async def inspect(ctx: Any, nodes: list[NodeConfig], service: ServiceSpec,
                  rs_keys: list[str] | None = None) -> dict[str, DirectorView]:
    # IPVS and the drain records are read afresh; VRRP state plays no part here, so the shared dump will do.
    got = await nodecall.snapshots(ctx, nodes, dump_max_age=collector.DUMP_MAX_AGE_S)
    return {n.name: from_snapshot(n, got[n.name][0], got[n.name][1], service) for n in nodes}


def known(ctx: Any, nodes: list[NodeConfig], service: ServiceSpec) -> dict[str, DirectorView] | None:
    """The views from the console's live snapshot, if it has every director reachable, not stale (the
    staleness rule) and with its IPVS table read; else None (read afresh with `inspect`)."""
    snapshot, inventory = getattr(ctx, "snapshot", None), getattr(ctx, "inventory", None)
    if snapshot is None or inventory is None or not nodes:
        return None
    cluster = snapshot.cluster(nodes[0].cluster) if hasattr(snapshot, "cluster") else None
    if cluster is None:
        return None
    waited = max(0.0, time.time() - float(snapshot.taken_at or 0))
    views = {}
    for node in nodes:
        snap = next((n for n in cluster.nodes if n.name == node.name), None)
        if snap is None or snap.updated_at is None or is_stale(snap, snap.age_s + waited, inventory.poll_interval):
            return None
        if snap.error and "ipvs:" in snap.error:
            return None  # inspect says exactly why
        view = DirectorView(node, snap=snap)
        svc = snap.service(service.key)
        if svc is None:
            view.service_missing = True
        else:
            view.rows = {rs.key: rs for rs in svc.real_servers}
            view.records = {rs.key: {"service": service.key, "real_server": rs.key, "weight": rs.drain.weight,
                                     "reason": rs.drain.reason, "by": rs.drain.by, "since": rs.drain.since}
                            for rs in svc.real_servers if rs.drain is not None}
        views[node.name] = view
    return views
