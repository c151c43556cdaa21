"""What the console knows between snapshots: the latest one, the event log, sparkline histories.

Everything here is bounded (event log, histories, one view cache) so a NOC
wall can run for days. The clock is injectable so tests see fixed ages.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from lbconsole.analyzers import (
    Analysis,
    Analyzer,
    RunningAction,
    Settings,
    staleness,
    summary,
    transitions,
)
from lbconsole.analyzers.transitions import Event
from lbconsole.snapshot import Alert, ClusterSnapshot, NodeSnapshot, Snapshot
from lbconsole.ui.model import ClusterView

EVENT_CAP = 500
HISTORY_LEN = 120  # points per sparkline: two minutes at 1 Hz


class History:
    """Fixed-length series per key; keys absent from the latest snapshot are dropped."""

    def __init__(self, length: int = HISTORY_LEN):
        self.length = length
        self.series: dict[tuple[str, ...], deque[float]] = {}

    def add(self, key: tuple[str, ...], value: float) -> None:
        s = self.series.get(key)
        if s is None:
            s = self.series[key] = deque(maxlen=self.length)
        s.append(value)

    def get(self, key: tuple[str, ...]) -> list[float]:
        return list(self.series.get(key, ()))

    def keep_only(self, keys: set[tuple[str, ...]]) -> None:
        for key in self.series.keys() - keys:
            del self.series[key]


class ConsoleState:
    def __init__(self, clock: Callable[[], float] = time.monotonic, poll_interval: float | None = 2.0,
                 event_cap: int = EVENT_CAP, history_len: int = HISTORY_LEN, settings: Settings | None = None):
        self.clock = clock
        # None: not known (a replay): learnt from the gaps between snapshots.
        self.learn_interval = poll_interval is None
        self.poll_interval = poll_interval or 2.0
        self._gaps: deque[float] = deque(maxlen=15)
        self.snapshot: Snapshot | None = None
        self.received = 0.0
        self.count = 0
        self.events: deque[Event] = deque(maxlen=event_cap)
        self.history = History(history_len)
        self.cluster_index = 0
        self._views: dict[str, ClusterView] = {}
        # (cluster, service, real server) -> taken_at when a drained server's connections reached 0
        self.drained_at: dict[tuple[str, str, str], float] = {}
        # The console reads every snapshot through its own analyzer: replays get today's rules, and
        # the actions this console runs make what they cause planned (INFO), not incidents.
        self.analyzer = Analyzer(settings or Settings(poll_interval=self.poll_interval))
        self.analysis = Analysis()
        self.running: dict[int, RunningAction] = {}
        self._running_ids = 0

    # -- intake ---------------------------------------------------------------------------
    def apply(self, snapshot: Snapshot) -> list[Event]:
        """Take a new snapshot; return what changed since the previous one."""
        if self.learn_interval and self.snapshot is not None:
            self._learn_interval(snapshot.taken_at - self.snapshot.taken_at)
        snapshot = keep_last_known(self.snapshot, snapshot)
        self.analysis = self.analyzer.analyze(snapshot, self.running.values())
        snapshot = snapshot.with_alerts(self.analysis.alerts)
        events = transitions.diff(self.snapshot, snapshot)
        self.snapshot = snapshot
        self.received = self.clock()
        self.count += 1
        self.events.extend(events)
        self._views = {}
        self._record_history(snapshot)
        self._track_drains(snapshot)
        if self.cluster_index >= len(snapshot.clusters):
            self.cluster_index = 0
        return events

    def _learn_interval(self, gap: float) -> None:
        if 0 < gap < 600:
            self._gaps.append(gap)
            # The poller may hand out a snapshot per node report: the longer gaps are the poll interval.
            self.poll_interval = max(0.5, sorted(self._gaps)[(len(self._gaps) * 3) // 4])
            self.analyzer.settings = replace(self.analyzer.settings, poll_interval=self.poll_interval)

    def age_alerts(self) -> bool:
        """No snapshot for a while (a live feed stuck): re-read the last one as older. True if changed."""
        if self.snapshot is None:
            return False
        extra = self.since_received()
        if extra <= self.poll_interval:
            extra = 0.0
        analysis = self.analyzer.analyze(self.snapshot, self.running.values(), extra)
        changed = analysis.alerts != self.analysis.alerts
        self.analysis = analysis
        return changed

    # -- this console's running actions ------------------------------------------------
    def begin_action(self, name: str, target: dict[str, Any]) -> int:
        """An action starts: what it causes reads as planned until `end_action`."""
        self._running_ids += 1
        when = self.snapshot.taken_at if self.snapshot else time.time()
        self.running[self._running_ids] = RunningAction(name, str(target.get("cluster", "")), dict(target), when)
        return self._running_ids

    def end_action(self, token: int) -> None:
        self.running.pop(token, None)

    def _record_history(self, snapshot: Snapshot) -> None:
        keys: set[tuple[str, ...]] = set()
        for cluster in snapshot.clusters:
            c_cps = c_active = 0.0
            for node in cluster.directors:
                for svc in node.ipvs:
                    active = sum(rs.active_conns for rs in svc.real_servers)
                    for name, value in (("cps", svc.rates.cps), ("active", active)):
                        key: tuple[str, ...] = (cluster.name, node.name, svc.key, name)
                        self.history.add(key, value)
                        keys.add(key)
                    c_cps += svc.rates.cps
                    c_active += active
            for name, value in (("cps", c_cps), ("active", c_active)):
                key = (cluster.name, name)
                self.history.add(key, value)
                keys.add(key)
        self.history.keep_only(keys)

    def _track_drains(self, snapshot: Snapshot) -> None:
        """When each drain's active connections (all directors) reached 0: the drain's progress."""
        active: dict[tuple[str, str, str], int] = {}
        for cluster in snapshot.clusters:
            for node in cluster.directors:
                if not node.reachable:
                    continue
                for svc in node.ipvs:
                    for rs in svc.real_servers:
                        if rs.drain is not None:
                            key = (cluster.name, svc.key, rs.key)
                            active[key] = active.get(key, 0) + rs.active_conns
        done = {}
        for key, count in active.items():
            if count == 0:
                done[key] = self.drained_at.get(key, snapshot.taken_at)
        self.drained_at = done  # drains that ended or got busy again are forgotten

    # -- reading --------------------------------------------------------------------------
    @property
    def clusters(self) -> tuple[ClusterSnapshot, ...]:
        return self.snapshot.clusters if self.snapshot else ()

    @property
    def cluster(self) -> ClusterSnapshot | None:
        clusters = self.clusters
        return clusters[self.cluster_index % len(clusters)] if clusters else None

    def view(self, name: str | None = None) -> ClusterView | None:
        cluster = self.cluster if name is None else (self.snapshot.cluster(name) if self.snapshot else None)
        if cluster is None:
            return None
        v = self._views.get(cluster.name)
        if v is None:
            v = self._views[cluster.name] = ClusterView(cluster)
        return v

    def next_cluster(self) -> ClusterSnapshot | None:
        if self.clusters:
            self.cluster_index = (self.cluster_index + 1) % len(self.clusters)
        return self.cluster

    def select_cluster(self, name: str) -> None:
        for i, c in enumerate(self.clusters):
            if c.name == name:
                self.cluster_index = i

    def since_received(self) -> float:
        return max(0.0, self.clock() - self.received) if self.snapshot else 0.0

    def node_age(self, node: NodeSnapshot) -> float | None:
        """How old the node's data is now: its age at snapshot time plus time since."""
        if node.updated_at is None and not node.reachable:
            return None  # never reached
        return node.age_s + self.since_received()

    @property
    def stale_after(self) -> float:
        return staleness.budget(self.poll_interval)

    def is_stale(self, node: NodeSnapshot) -> bool:
        return staleness.is_stale(node, self.node_age(node), self.poll_interval)

    def alerts(self, cluster: str | None = None) -> tuple[Alert, ...]:
        return tuple(a for a in self.analysis.alerts if cluster is None or a.cluster in (None, cluster))

    def cluster_alerts(self) -> dict[str, dict[str, int]]:
        """Per cluster, how many alerts of each severity: the fleet at a glance."""
        return summary.per_cluster(self.analysis.alerts, (c.name for c in self.clusters))

    def next_cluster_with_alert(self) -> ClusterSnapshot | None:
        """The next cluster (after the shown one) whose worst alert is a warning or worse."""
        counts = self.cluster_alerts()
        n = len(self.clusters)
        for step in range(1, n + 1):
            c = self.clusters[(self.cluster_index + step) % n]
            if counts.get(c.name, {}).get("critical") or counts.get(c.name, {}).get("warning"):
                self.cluster_index = (self.cluster_index + step) % n
                return c
        return None

    def drifts(self, cluster: str, service: str, real_server: str | None) -> bool:
        return (cluster, service, real_server) in self.analysis.drift_rows

    def events_for(self, node: str | None = None, cluster: str | None = None, limit: int = 20) -> list[Event]:
        out = [e for e in self.events if (node is None or e.node == node) and (cluster is None or e.cluster == cluster)]
        return out[-limit:]


def _has_data(node: NodeSnapshot) -> bool:
    return bool(node.ipvs or node.vrrp or node.nginx or node.host_stats)


def keep_last_known(prev: Snapshot | None, cur: Snapshot) -> Snapshot:
    """An unreachable node without data keeps its previous data, still marked unreachable."""
    if prev is None:
        return cur
    changed = False
    clusters = []
    for cluster in cur.clusters:
        old = prev.cluster(cluster.name)
        nodes = []
        for node in cluster.nodes:
            was = old.node(node.name) if old else None
            if not node.reachable and not _has_data(node) and was is not None and _has_data(was):
                age = node.age_s if node.updated_at else was.age_s + max(0.0, cur.taken_at - prev.taken_at)
                node = replace(was, reachable=False, error=node.error, age_s=age,
                               updated_at=node.updated_at or was.updated_at)
                changed = True
            nodes.append(node)
        clusters.append(replace(cluster, nodes=tuple(nodes)) if changed else cluster)
    return replace(cur, clusters=tuple(clusters)) if changed else cur
