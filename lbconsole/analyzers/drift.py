"""Drift: the directors of a cluster disagree on services, real servers or weights.

Only a disagreement that lasts counts: one that is still there after every
director has been polled again. A drain being applied (one director already at
weight 0, the next a moment later) is never drift.
"""

from __future__ import annotations

from collections.abc import Iterator

from lbconsole.analyzers.samples import sample_time
from lbconsole.analyzers.settings import Settings
from lbconsole.snapshot import Alert, ClusterSnapshot, NodeSnapshot

# (service key, real server key or None for the service itself)
DriftKey = tuple[str, str | None]


def _table(node: NodeSnapshot) -> dict[str, dict[str, int]]:
    return {svc.key: {rs.key: rs.weight for rs in svc.real_servers} for svc in node.ipvs}


def keyed_differences(a: NodeSnapshot, b: NodeSnapshot) -> list[tuple[DriftKey, str]]:
    ta, tb = _table(a), _table(b)
    out: list[tuple[DriftKey, str]] = []
    for key in sorted(ta.keys() - tb.keys()):
        out.append(((key, None), f"service {key} only on {a.name}"))
    for key in sorted(tb.keys() - ta.keys()):
        out.append(((key, None), f"service {key} only on {b.name}"))
    for key in sorted(ta.keys() & tb.keys()):
        ra, rb = ta[key], tb[key]
        for rs in sorted(ra.keys() - rb.keys()):
            out.append(((key, rs), f"{key}: real server {rs} only on {a.name}"))
        for rs in sorted(rb.keys() - ra.keys()):
            out.append(((key, rs), f"{key}: real server {rs} only on {b.name}"))
        for rs in sorted(ra.keys() & rb.keys()):
            if ra[rs] != rb[rs]:
                out.append(((key, rs), f"{key}: {rs} weight {ra[rs]} on {a.name}, {rb[rs]} on {b.name}"))
    return out


def differences(a: NodeSnapshot, b: NodeSnapshot) -> list[str]:
    return [text for _, text in keyed_differences(a, b)]


class Drift:
    def __init__(self) -> None:
        # (cluster, pair, key) -> each director's sample time when the difference was first seen
        self.first_seen: dict[tuple[str, tuple[str, str], DriftKey], dict[str, float]] = {}
        self.rows: set[tuple[str, str, str | None]] = set()  # (cluster, service, real server) that drift

    def check(self, cluster: ClusterSnapshot, taken_at: float, settings: Settings) -> Iterator[Alert]:
        directors = [n for n in cluster.directors if n.reachable and n.updated_at]
        for row in [r for r in self.rows if r[0] == cluster.name]:
            self.rows.discard(row)
        seen_now: set[tuple[str, tuple[str, str], DriftKey]] = set()
        if len(directors) >= 2:
            times = {n.name: sample_time(n, taken_at) for n in directors}
            first = directors[0]
            for other in directors[1:]:
                pair = (first.name, other.name)
                lasting = []
                for key, text in keyed_differences(first, other):
                    k = (cluster.name, pair, key)
                    seen_now.add(k)
                    since = self.first_seen.setdefault(k, {n: times[n] for n in pair})
                    if all(times[n] > since[n] for n in pair):
                        lasting.append(text)
                        self.rows.add((cluster.name, key[0], key[1]))
                if lasting:
                    more = f" (+{len(lasting) - 3} more)" if len(lasting) > 3 else ""
                    yield Alert("warning", "drift", f"drift between {first.name} and {other.name}: "
                                + "; ".join(lasting[:3]) + more, cluster.name, other.name)
        for k in [k for k in self.first_seen if k[0] == cluster.name and k not in seen_now]:
            del self.first_seen[k]
