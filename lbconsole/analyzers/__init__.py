"""Analyzers read snapshots and raise alerts; they never change data.

Each rule lives in one module here and nowhere else. `Analyzer` remembers
what it saw before, because some rules are about time: split brain needs two
MASTERs *at once*, drift and reverted drains must last across polls, a node's first poll may still
be running. `analyze()` is the one-shot form for a single snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lbconsole.analyzers import daemons, planned, upstreams, vrrp_health
from lbconsole.analyzers.drain import Reverted
from lbconsole.analyzers.drift import Drift
from lbconsole.analyzers.settings import RunningAction, Settings
from lbconsole.analyzers.split_brain import SplitBrain
from lbconsole.analyzers.staleness import Staleness
from lbconsole.analyzers.summary import rank
from lbconsole.snapshot import Alert, Snapshot

__all__ = ["Analysis", "Analyzer", "RunningAction", "Settings", "analyze"]


@dataclass(frozen=True, slots=True)
class Analysis:
    alerts: tuple[Alert, ...] = ()
    drift_rows: frozenset[tuple[str, str, str | None]] = field(default_factory=frozenset)


class Analyzer:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()
        self.split_brain = SplitBrain()
        self.drift = Drift()
        self.reverted = Reverted()
        self.staleness = Staleness()
        self.releases = planned.Releases()

    def analyze(self, snapshot: Snapshot, running: Iterable[RunningAction] = (),
                extra_age: float = 0.0) -> Analysis:
        """Alerts for `snapshot`; `extra_age` is how long ago it was taken (no newer one came)."""
        s = self.settings
        running = tuple(running)
        alerts: list[Alert] = []
        for cluster in snapshot.clusters:
            at = snapshot.taken_at
            found: list[Alert] = [*self.staleness.check(cluster, at, s, extra_age),
                                  *self.split_brain.check(cluster, at, s), *vrrp_health.check(cluster, at, s),
                                  *self.drift.check(cluster, at, s), *self.reverted.check(cluster, at, s),
                                  *daemons.check(cluster), *upstreams.check(cluster, s.poll_interval)]
            released = self.releases.recent(cluster, at, s)
            alerts.extend(planned.downgrade(found, cluster, running, at, s, released))
            alerts.extend(planned.forced_alerts(cluster, at, s))
            alerts.extend(planned.drain_alerts(cluster))
            alerts.extend(planned.upstream_drain_alerts(cluster))
        return Analysis(tuple(sorted(alerts, key=rank)), frozenset(self.drift.rows))

    def alerts(self, snapshot: Snapshot) -> tuple[Alert, ...]:
        return self.analyze(snapshot).alerts


def analyze(snapshot: Snapshot, poll_interval: float = 2.0) -> tuple[Alert, ...]:
    """One snapshot alone: nothing is known from before it (drift cannot be confirmed yet)."""
    return Analyzer(Settings(poll_interval=poll_interval)).alerts(snapshot)
