"""Alerts read at a glance: the worst per cluster, and banner lines that group alike alerts.

"waiting for lb1, lb2" and "2 nodes unreachable: lb1, lb2" rather than one line per node.
"""

from __future__ import annotations

from collections.abc import Iterable

from lbconsole.snapshot import Alert

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
GLYPH = {"critical": "▲", "warning": "●", "info": "ℹ"}
WORD = {"critical": "CRITICAL", "warning": "WARNING", "info": "INFO"}


def rank(alert: Alert) -> int:
    return SEVERITY_ORDER.get(alert.severity, 9)


def worst(alerts: Iterable[Alert], include_info: bool = False) -> str | None:
    """The worst severity among the alerts (info only when asked), or None."""
    ranks = [rank(a) for a in alerts if include_info or a.severity != "info"]
    if not ranks:
        return None
    return next(s for s, r in SEVERITY_ORDER.items() if r == min(ranks))


def per_cluster(alerts: Iterable[Alert], clusters: Iterable[str]) -> dict[str, dict[str, int]]:
    """cluster -> severity -> count; alerts without a cluster count for every cluster."""
    names = list(clusters)
    out: dict[str, dict[str, int]] = {c: {} for c in names}
    for a in alerts:
        for c in ([a.cluster] if a.cluster else names):
            if c in out:
                out[c][a.severity] = out[c].get(a.severity, 0) + 1
    return out


def text(alert: Alert) -> str:
    kind = alert.kind.replace("_", " ")
    msg = alert.message
    return msg if msg.lower().startswith(kind) or msg.startswith("planned") else f"{kind}: {msg}"


def banner(alerts: Iterable[Alert]) -> list[tuple[str, str]]:
    """(severity, line) worst first; per-node waiting/unreachable alerts grouped into one line."""
    ordered = sorted(alerts, key=rank)
    lines: list[tuple[str, str]] = []
    waiting = [a.node or "?" for a in ordered if a.kind == "node_waiting"]
    down = [a for a in ordered if a.kind == "node_unreachable"]
    if len(down) > 1:
        lines.append(("critical", f"{len(down)} nodes unreachable: {', '.join(a.node or '?' for a in down)}"))
    for a in ordered:
        if a.kind == "node_waiting" or (a.kind == "node_unreachable" and len(down) > 1):
            if a.kind == "node_waiting" and waiting and a.node == waiting[0]:
                lines.append(("warning", f"waiting for {', '.join(waiting)} (first poll)"))
            continue
        lines.append((a.severity, text(a)))
    return sorted(lines, key=lambda sl: SEVERITY_ORDER.get(sl[0], 9))
