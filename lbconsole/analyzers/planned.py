"""Planned is not an incident: forced failovers, drains, upstream drains and this console's own running actions.

A forced-failover record on a node becomes an INFO alert ("planned: VI_1
failover forced by root@ops since 10:16:40"), or a WARNING "still forced"
once it is older than the set limit. The alerts the planned work causes
(keepalived stopped on the forced node, the drift of its flushed IPVS table, a
missing MASTER while a failover runs, ...) are turned into INFO, saying why.
An upstream drain recorded by lbconsole is an INFO line; while the nginx nodes are edited one by one (or
an operator's drain is still reaching the last of them, within settings.upstream_drift_grace of its
record), the `upstream_drift` it causes is INFO too. A drift left longer, or a `down` put by hand, stays a
WARNING: traffic through the other nodes still reaches that server.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import replace

from lbconsole.analyzers.samples import sample_time
from lbconsole.analyzers.settings import RunningAction, Settings
from lbconsole.analyzers.upstreams import _by_server
from lbconsole.snapshot import Alert, ClusterSnapshot, Forced, NodeSnapshot
from lbconsole.upstreams import Upstream, UpstreamServer

# What each running action may cause, by alert kind.
_CAUSES = {
    "failover": {"keepalived_down", "drift", "no_master", "vrrp_fault"},
    "release": {"keepalived_down", "drift", "no_master", "vrrp_fault"},
    "drain": {"drift", "drain_reverted"},
    "undrain": {"drift", "drain_reverted"},
    "reload": {"nginx_down"},
    "upstream_drain": {"upstream_drift"},
    "upstream_undrain": {"upstream_drift"},
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


def _answered(cluster: ClusterSnapshot) -> dict[str, tuple[Upstream, ...]]:
    return {n.name: n.upstreams for n in cluster.nodes
            if n.reachable and n.has_role("nginx") and n.upstreams is not None}


def upstream_drain_alerts(cluster: ClusterSnapshot) -> Iterator[Alert]:
    """One INFO line per upstream server lbconsole drained (down with its record on some nginx node)."""
    for (up_name, _key), seen in sorted(_by_server(_answered(cluster)).items()):
        drained = [(n, s) for n, s in seen if s.down and s.drain is not None]
        if not drained:
            continue
        server = drained[0][1]
        d = min((s.drain for _, s in drained if s.drain is not None), key=lambda r: r.since)
        where = "" if len(drained) == len(seen) else f" on {', '.join(n for n, _ in drained)}"
        yield Alert("info", "upstream_drained", f"planned: {server.label} of upstream {up_name} drained by {d.by} "
                    f"since {clock(d.since)}{where} ({d.reason})", cluster.name)


def _drift_server(alert: Alert, cluster: ClusterSnapshot) -> tuple[str, list[tuple[str, UpstreamServer]]] | None:
    """The upstream and per-node rows an upstream_drift alert is about (its message names both)."""
    for (up_name, key), seen in _by_server(_answered(cluster)).items():
        head = alert.message.split(" is down on ")[0]
        if head.startswith(f"upstream {up_name}: ") and (head.endswith(f"({key})") or head.endswith(f": {key}")):
            return up_name, seen
    return None


def _recorded_drift(alert: Alert, cluster: ClusterSnapshot, taken_at: float, settings: Settings) -> str | None:
    """Why a drift is planned: every node where the server is down holds lbconsole's recent drain record."""
    found = _drift_server(alert, cluster)
    if found is None:
        return None
    up_name, seen = found
    down = [s for _, s in seen if s.down]
    if not down or any(s.drain is None for s in down):
        return None  # a `down` by hand somewhere: not ours to explain
    newest = max((s.drain for s in down if s.drain is not None), key=lambda r: r.since)
    if taken_at and taken_at - newest.since > settings.upstream_drift_grace:
        return None
    return (f"upstream drain of {down[0].label} in {up_name} by {newest.by} since {clock(newest.since)}, "
            "reaching every nginx node")


def _explains(action: RunningAction, alert: Alert) -> bool:
    """A running action explains an alert it may cause; an upstream action only about its own upstream."""
    if alert.kind not in _CAUSES.get(action.name, ()):
        return False
    upstream = action.target.get("upstream")
    return not upstream or alert.message.lower().startswith(f"upstream {upstream.lower()}: ")


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
    return newest if oldest <= newest.since + settings.takeover_s else None


class Releases:
    """Forced-failover records that just went away: `--release` removes the record, then starts
    keepalived, so for a poll or two the node is still down with no record left to explain it."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], tuple[Forced, float]] = {}  # (cluster, node) -> record, last seen

    def recent(self, cluster: ClusterSnapshot, taken_at: float, settings: Settings) -> dict[str, Forced]:
        out: dict[str, Forced] = {}
        grace = 3 * settings.poll_interval + settings.takeover_s
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
            action = next((r for r in mine if _explains(r, alert)), None)
            if action is not None:
                why = f"{action.describe()} running"
        if why is None and alert.kind == "upstream_drift":
            why = _recorded_drift(alert, cluster, taken_at, settings or Settings())
        if why is not None and alert.severity != "info":
            alert = replace(alert, severity="info", message=f"planned ({why}): {alert.message}")
        out.append(alert)
    return out
