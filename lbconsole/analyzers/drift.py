"""Drift: the directors of a cluster disagree on services, real servers or weights."""

from __future__ import annotations

from collections.abc import Iterator

from lbconsole.snapshot import Alert, ClusterSnapshot, NodeSnapshot


def _table(node: NodeSnapshot) -> dict[str, dict[str, int]]:
    return {svc.key: {rs.key: rs.weight for rs in svc.real_servers} for svc in node.ipvs}


def differences(a: NodeSnapshot, b: NodeSnapshot) -> list[str]:
    ta, tb = _table(a), _table(b)
    out = []
    for key in sorted(ta.keys() - tb.keys()):
        out.append(f"service {key} only on {a.name}")
    for key in sorted(tb.keys() - ta.keys()):
        out.append(f"service {key} only on {b.name}")
    for key in sorted(ta.keys() & tb.keys()):
        ra, rb = ta[key], tb[key]
        for rs in sorted(ra.keys() - rb.keys()):
            out.append(f"{key}: real server {rs} only on {a.name}")
        for rs in sorted(rb.keys() - ra.keys()):
            out.append(f"{key}: real server {rs} only on {b.name}")
        for rs in sorted(ra.keys() & rb.keys()):
            if ra[rs] != rb[rs]:
                out.append(f"{key}: {rs} weight {ra[rs]} on {a.name}, {rb[rs]} on {b.name}")
    return out


def check(cluster: ClusterSnapshot, poll_interval: float) -> Iterator[Alert]:
    directors = [n for n in cluster.directors if n.reachable and n.updated_at]
    if len(directors) < 2:
        return
    first = directors[0]
    for other in directors[1:]:
        diffs = differences(first, other)
        if diffs:
            more = f" (+{len(diffs) - 3} more)" if len(diffs) > 3 else ""
            yield Alert("warning", "drift", f"drift between {first.name} and {other.name}: "
                        + "; ".join(diffs[:3]) + more, cluster.name, other.name)
