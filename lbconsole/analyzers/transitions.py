"""What changed between two consecutive snapshots, as events for toasts and the event log.

VRRP state changes per node and instance, nodes lost and back, nginx restarts
(its counters only reset on a restart; a reload keeps them, so reloads are
not visible here), drains set and cleared, and alerts raised and resolved.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lbconsole.snapshot import Alert, ClusterSnapshot, Drain, NodeSnapshot, Snapshot


@dataclass(frozen=True, slots=True)
class Event:
    at: float  # taken_at of the snapshot that saw it
    kind: str  # vrrp_state | node_lost | node_back | nginx_restart | drain_set | drain_cleared | alert | alert_resolved
    message: str
    cluster: str
    node: str | None = None
    severity: str = "info"  # info | warning | critical
    before: str | None = None
    after: str | None = None


# Alerts whose news a transition event already told, for the same node.
_SAME_AS = {"node_unreachable": "node_lost", "nginx_down": "nginx_down", "vrrp_fault": "vrrp_state",
            "keepalived_down": "vrrp_state"}
_TOLD_BY_DRAIN_EVENTS = {"drained"}  # the planned-drain INFO line: drain_set / drain_cleared say it
_SECONDS = re.compile(r"\d+(?:\.\d+)?\s*s\b")

# Where a VRRP state change lands decides how loudly it is told.
_VRRP_SEVERITY = {"MASTER": "warning", "BACKUP": "warning", "FAULT": "critical", "STOP": "critical",
                  "INIT": "warning"}


def diff(prev: Snapshot | None, cur: Snapshot) -> list[Event]:
    if prev is None:
        return []
    events: list[Event] = []
    for cluster in cur.clusters:
        old = prev.cluster(cluster.name)
        if old is not None:
            events.extend(_cluster(old, cluster, cur.taken_at))
    told = {(e.kind, e.node) for e in events}
    events.extend(e for e in _alerts(prev, cur) if (_SAME_AS.get(e.after or ""), e.node) not in told
                  and (e.after or e.before) not in _TOLD_BY_DRAIN_EVENTS)
    return events


def _cluster(old: ClusterSnapshot, new: ClusterSnapshot, at: float) -> Iterator[Event]:
    before = {n.name: n for n in old.nodes}
    for node in new.nodes:
        prev = before.get(node.name)
        if prev is not None:
            yield from _node(prev, node, new.name, at)
    yield from _drains(old, new, at)


def _node(prev: NodeSnapshot, node: NodeSnapshot, cluster: str, at: float) -> Iterator[Event]:
    if prev.reachable and not node.reachable:
        yield Event(at, "node_lost", f"{node.name} unreachable: {node.error or 'no answer'}", cluster, node.name,
                    "critical")
    elif not prev.reachable and node.reachable and prev.updated_at is not None:
        yield Event(at, "node_back", f"{node.name} reachable again", cluster, node.name)
    if node.reachable:  # an unreachable node's VRRP data is the last known, not news
        yield from _vrrp(prev, node, cluster, at)
        yield from _nginx(prev, node, cluster, at)


def _vrrp(prev: NodeSnapshot, node: NodeSnapshot, cluster: str, at: float) -> Iterator[Event]:
    old = {i.instance: i for i in prev.vrrp}
    for inst in node.vrrp:
        was = old.get(inst.instance)
        if was is not None and was.state != inst.state:
            forced = next((r for r in node.forced if r.instance == inst.instance), None)
            text = f"{node.name} {inst.instance} (VRID {inst.vrid}): {was.state} → {inst.state}"
            if forced is not None:  # the state a forced failover causes is planned, not an incident
                yield Event(at, "vrrp_state", f"{text} (planned: failover forced by {forced.by})", cluster,
                            node.name, "info", was.state, inst.state)
                continue
            yield Event(at, "vrrp_state", text, cluster, node.name, _VRRP_SEVERITY.get(inst.state, "warning"),
                        was.state, inst.state)


def _nginx(prev: NodeSnapshot, node: NodeSnapshot, cluster: str, at: float) -> Iterator[Event]:
    was, now = prev.nginx, node.nginx
    if was is not None and now is None:
        yield Event(at, "nginx_down", f"{node.name}: nginx stopped answering", cluster, node.name, "critical")
    elif was is None and now is not None and prev.reachable:
        yield Event(at, "nginx_up", f"{node.name}: nginx answering again", cluster, node.name)
    elif was is not None and now is not None and now.accepts < was.accepts:
        yield Event(at, "nginx_restart", f"{node.name}: nginx restarted (counters reset)", cluster, node.name,
                    "warning")


def _drains(old: ClusterSnapshot, new: ClusterSnapshot, at: float) -> Iterator[Event]:
    """Drain marks per (service, real server), once per cluster rather than once per director."""
    was, now = _drain_marks(old), _drain_marks(new)
    for key, drain in now.items():
        if key not in was:
            svc, rs = key
            yield Event(at, "drain_set", f"{rs} in {svc} drained by {drain.by}: {drain.reason}", new.name)
    for key in was.keys() - now.keys():
        svc, rs = key
        yield Event(at, "drain_cleared", f"{rs} in {svc} undrained", new.name)


def _drain_marks(cluster: ClusterSnapshot) -> dict[tuple[str, str], Drain]:
    marks: dict[tuple[str, str], Drain] = {}
    for node in cluster.directors:
        if not node.reachable:
            continue  # its last data may predate an undrain
        for svc in node.ipvs:
            for rs in svc.real_servers:
                if rs.drain is not None:
                    marks.setdefault((svc.key, rs.key), rs.drain)
    return marks


def _alerts(prev: Snapshot, cur: Snapshot) -> Iterator[Event]:
    def key(a: Alert) -> tuple[str, str | None, str | None, str]:  # only seconds differ: the same alert
        return (a.kind, a.cluster, a.node, _SECONDS.sub("", a.message))

    old = {key(a): a for a in prev.alerts}
    new = {key(a): a for a in cur.alerts}
    for k, alert in new.items():
        if k not in old:
            yield Event(cur.taken_at, "alert", alert.message, alert.cluster or "", alert.node, alert.severity,
                        after=alert.kind)
    for k, alert in old.items():
        if k not in new:
            yield Event(cur.taken_at, "alert_resolved", f"resolved: {alert.message}", alert.cluster or "",
                        alert.node, before=alert.kind)
