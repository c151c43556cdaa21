"""Assemble per-node results into one Snapshot: ages, inferred VRRP state, alerts."""

from __future__ import annotations

from dataclasses import replace

from lbconsole.analyzers import Analyzer, Settings, vips
from lbconsole.inventory import Inventory, NodeConfig
from lbconsole.snapshot import (
    PENDING,
    ClusterSnapshot,
    NodeSnapshot,
    Snapshot,
    VrrpInstance,
)


def pending(node: NodeConfig) -> NodeSnapshot:
    return NodeSnapshot(name=node.name, host=node.host, roles=node.roles, error=PENDING,
                        first_answer_s=node.connect_timeout + node.command_timeout)


def settings_for(inventory: Inventory) -> Settings:
    return Settings(poll_interval=inventory.poll_interval, forced_warn_after=inventory.forced_warn_after)


def analyzer_for(inventory: Inventory) -> Analyzer:
    return Analyzer(settings_for(inventory))


def assemble(inventory: Inventory, latest: dict[str, NodeSnapshot], now: float,
             analyzer: Analyzer | None = None) -> Snapshot:
    clusters = []
    for cluster in inventory.clusters:
        nodes = []
        for cfg in cluster.nodes:
            snap = latest.get(cfg.name) or pending(cfg)
            if snap.updated_at is not None:
                snap = replace(snap, age_s=round(max(0.0, now - snap.updated_at), 3))
            nodes.append(snap)
        nodes = infer_vrrp(nodes)
        clusters.append(ClusterSnapshot(name=cluster.name, nodes=tuple(nodes), read_only=cluster.read_only,
                                        color=cluster.color))
    snapshot = Snapshot(taken_at=round(now, 3), clusters=tuple(clusters))
    # The poller's analyzer remembers earlier snapshots (split brain "at once", drift that lasts).
    return snapshot.with_alerts((analyzer or analyzer_for(inventory)).alerts(snapshot))


def infer_vrrp(nodes: list[NodeSnapshot]) -> list[NodeSnapshot]:
    """A director whose keepalived gave no dump still gets its instances, learnt from its peers.

    Stopped keepalived -> STOP; otherwise holding a VIP on a non-lo interface -> MASTER, else BACKUP.
    """
    known: dict[tuple[str, int], VrrpInstance] = {}
    for node in nodes:
        for inst in node.vrrp:
            if inst.source != "addr":
                known.setdefault((inst.instance, inst.vrid), inst)
    out = []
    for node in nodes:
        if node.reachable and node.has_role("director") and not node.vrrp and known:
            up = vips.bound(node)  # the one rule for who holds a VIP (lo excluded)
            inferred = []
            for inst in known.values():
                if node.keepalived_running is False:
                    state = "STOP"
                else:
                    state = "MASTER" if up & {vips.vip_address(v) for v in inst.vips} else "BACKUP"
                inferred.append(VrrpInstance(instance=inst.instance, vrid=inst.vrid, state=state,
                                             interface=inst.interface, vips=inst.vips, source="addr"))
            node = replace(node, vrrp=tuple(inferred))
        out.append(node)
    return out
