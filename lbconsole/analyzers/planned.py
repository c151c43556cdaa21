"""Planned is not an incident: forced failovers, drains and this console's own running actions.

A forced-failover record on a node becomes an INFO alert ("planned: VI_1
failover forced by root@ops since 10:16:40"), or a WARNING "still forced"
once it is older than the set limit. The alerts the planned work causes
(keepalived stopped on the forced node, the drift of its flushed IPVS table, a
missing MASTER while a failover runs, ...) are turned into INFO, saying why.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import replace

from lbconsole.analyzers.samples import sample_time
from lbconsole.analyzers.settings import RunningAction, Settings
from lbconsole.snapshot import Alert, ClusterSnapshot, Forced, NodeSnapshot

# What each running action may cause, by alert kind.
_CAUSES = {
    "failover": {"keepalived_down", "drift", "no_master", "vrrp_fault"},
    "release": {"keepalived_down", "drift", "no_master", "vrrp_fault"},
    "drain": {"drift", "drain_reverted"},
    "undrain": {"drift", "drain_reverted"},
    "reload": {"nginx_down"},
}
# What a forced failover left in place causes on the node it was forced on.
_FORCED_CAUSES = {"keepalived_down", "vrrp_fault", "drift"}


def clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def duration(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600} h {s % 3600 // 60} min" if s >= 3600 else f"{s // 60} min"


def forced_text(record: Forced) -> str:
    why = f" ({record.reason})" if record.reason else ""
    return f"{record.instance} failover forced by {record.by} since {clock(record.since)}{why}"


def forced_alerts(cluster: ClusterSnapshot, taken_at: float, settings: Settings) -> Iterator[Alert]:
    for node in cluster.directors:
        for record in node.forced:
            age = taken_at - record.since
            if age > settings.forced_warn_after:
                yield Alert("warning", "still_forced", f"still forced: {forced_text(record)}, {duration(age)} ago",
                            cluster.name, node.name)
            else:
                yield Alert("info", "forced_failover", f"planned: {forced_text(record)}", cluster.name, node.name)


def drain_alerts(cluster: ClusterSnapshot) -> Iterator[Alert]:
    """One INFO line per drained real server: planned, and visible."""
    seen: set[tuple[str, str]] = set()
    for node in cluster.directors:
        if not node.reachable:
            continue
        for svc in node.ipvs:
            for rs in svc.real_servers:
                d = rs.drain
                if d is None or (svc.key, rs.key) in seen or rs.weight != 0:
                    continue
                seen.add((svc.key, rs.key))
                yield Alert("info", "drained", f"planned: {rs.key} of {svc.key} drained by {d.by} since "
                            f"{clock(d.since)} ({d.reason})", cluster.name)


def _forced_nodes(cluster: ClusterSnapshot) -> dict[str, Forced]:
    return {n.name: n.forced[0] for n in cluster.directors if n.forced}


def _touches(alert: Alert, node: NodeSnapshot | None, name: str) -> bool:
    return alert.node == name or (alert.kind == "drift" and name in alert.message.split(":")[0])


def _handover_unseen(cluster: ClusterSnapshot, taken_at: float, settings: Settings) -> Forced | None:
    """A forced failover whose takeover no poll could have seen yet: a director's latest sample
    predates the force (plus the few advert intervals a takeover takes)."""
    records = [r for n in cluster.directors for r in n.forced]
    if not records:
        return None
    oldest = min(sample_time(n, taken_at) for n in cluster.directors)
    newest = max(records, key=lambda r: r.since)
    return newest if oldest <= newest.since + 3 * settings.advert_int else None


class Releases:
    """Forced-failover records that just went away: `--release` removes the record, then starts
    keepalived, so for a poll or two the node is still down with no record left to explain it."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], tuple[Forced, float]] = {}  # (cluster, node) -> record, last seen

    def recent(self, cluster: ClusterSnapshot, taken_at: float, settings: Settings) -> dict[str, Forced]:
        out: dict[str, Forced] = {}
        grace = 3 * settings.poll_interval + 3 * settings.advert_int
        for node in cluster.directors:
            key = (cluster.name, node.name)
            if node.forced:
                self.seen[key] = (node.forced[0], taken_at)
            elif key in self.seen:
                record, last = self.seen[key]
                if taken_at - last <= grace:
                    out[node.name] = record
                else:
                    del self.seen[key]
        return out


def downgrade(alerts: list[Alert], cluster: ClusterSnapshot, running: Iterable[RunningAction],
              taken_at: float = 0.0, settings: Settings | None = None,
              released: dict[str, Forced] | None = None) -> list[Alert]:
    """Alerts that planned work explains become INFO, with the reason in front."""
    forced = _forced_nodes(cluster)
    released = released or {}
    handover = _handover_unseen(cluster, taken_at, settings or Settings())
    mine = [r for r in running if r.cluster == cluster.name]
    out = []
    for alert in alerts:
        why = None
        for name, record in forced.items():
            if alert.kind in _FORCED_CAUSES and _touches(alert, cluster.node(name), name):
                why = forced_text(record)
                break
        for name, record in released.items():
            if why is None and alert.kind in _FORCED_CAUSES and _touches(alert, cluster.node(name), name):
                why = f"release of {forced_text(record)}"
        if why is None and alert.kind == "no_master" and released:
            # With preempt the peer steps back and the released node takes over: two polls may miss the moment.
            record = next(iter(released.values()))
            why = f"release of {forced_text(record)}; the handover back is not polled yet"
        if why is None and alert.kind == "no_master" and handover is not None:
            why = f"{forced_text(handover)}; the takeover is not polled yet"
        if why is None:
            action = next((r for r in mine if alert.kind in _CAUSES.get(r.name, ())), None)
            if action is not None:
                why = f"{action.describe()} running"
        if why is not None and alert.severity != "info":
            alert = replace(alert, severity="info", message=f"planned ({why}): {alert.message}")
        out.append(alert)
    return out
