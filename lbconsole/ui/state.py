"""What the console knows between snapshots: the latest one, the event log, sparkline histories.

Everything here is bounded (event log, histories, one view cache) so a NOC
wall can run for days. The clock is injectable so tests see fixed ages.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from lbconsole.analyzers import transitions
from lbconsole.analyzers.transitions import Event
from lbconsole.snapshot import ClusterSnapshot, NodeSnapshot, Snapshot
from lbconsole.ui.model import ClusterView

EVENT_CAP = 500
HISTORY_LEN = 120  # points per sparkline: two minutes at 1 Hz
STALE_POLLS = 3


class History:
    """Fixed-length series per key; keys absent from the latest snapshot are dropped."""

    def __init__(self, length: int = HISTORY_LEN):
        self.length = length
        self.series: dict[tuple, deque[float]] = {}

    def add(self, key: tuple, value: float) -> None:
        s = self.series.get(key)
        if s is None:
            s = self.series[key] = deque(maxlen=self.length)
        s.append(value)

    def get(self, key: tuple) -> list[float]:
        return list(self.series.get(key, ()))

    def keep_only(self, keys: set[tuple]) -> None:
        for key in self.series.keys() - keys:
            del self.series[key]


class ConsoleState:
    def __init__(self, clock: Callable[[], float] = time.monotonic, poll_interval: float | None = 2.0,
                 event_cap: int = EVENT_CAP, history_len: int = HISTORY_LEN):
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

    # -- intake ---------------------------------------------------------------------------
    def apply(self, snapshot: Snapshot) -> list[Event]:
        """Take a new snapshot; return what changed since the previous one."""
        if self.learn_interval and self.snapshot is not None:
            self._learn_interval(snapshot.taken_at - self.snapshot.taken_at)
        snapshot = keep_last_known(self.snapshot, snapshot)
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

    def _record_history(self, snapshot: Snapshot) -> None:
        keys: set[tuple] = set()
        for cluster in snapshot.clusters:
            c_cps = c_active = 0.0
            for node in cluster.directors:
                for svc in node.ipvs:
                    active = sum(rs.active_conns for rs in svc.real_servers)
                    for name, value in (("cps", svc.rates.cps), ("active", active)):
                        key = (cluster.name, node.name, svc.key, name)
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
        return STALE_POLLS * self.poll_interval

    def is_stale(self, node: NodeSnapshot) -> bool:
        age = self.node_age(node)
        return not node.reachable or age is None or age > self.stale_after

    def alerts(self, cluster: str | None = None):
        if not self.snapshot:
            return ()
        return tuple(a for a in self.snapshot.alerts if cluster is None or a.cluster in (None, cluster))

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
