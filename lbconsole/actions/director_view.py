"""What one director says about a service before an action: its real servers and drain records.

Read with the agent's `snapshot` verb (a fresh VRRP dump, the IPVS table, the
drain and forced-failover records), all directors at once; changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lbconsole.actions import nodecall
from lbconsole.actions.targets import ServiceSpec
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
