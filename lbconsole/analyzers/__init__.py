"""Analyzers read a snapshot and raise alerts; they never change data."""

from __future__ import annotations

from lbconsole.analyzers import daemons, drain, drift, split_brain, staleness, vrrp_health
from lbconsole.snapshot import Alert, Snapshot

_ANALYZERS = (staleness.check, split_brain.check, vrrp_health.check, drift.check, drain.check, daemons.check)
_SEVERITY_ORDER = {"critical": 0, "warning": 1}


def analyze(snapshot: Snapshot, poll_interval: float = 2.0) -> tuple[Alert, ...]:
    alerts: list[Alert] = []
    for cluster in snapshot.clusters:
        for check in _ANALYZERS:
            alerts.extend(check(cluster, poll_interval))
    return tuple(sorted(alerts, key=lambda a: _SEVERITY_ORDER.get(a.severity, 9)))
