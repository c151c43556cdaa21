"""Cross-tier alerts: IPVS still sends traffic to an nginx whose upstream has no live server; an upstream
server failing on every nginx node; an upstream server marked down on some nginx nodes and not others.

Only nginx nodes that answered and sent their upstreams count (an unreachable node has its own alert):
a rule never fires on data it does not have. A drained or hand-marked `down` server is never "failing".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from lbconsole.snapshot import Alert, ClusterSnapshot, NodeSnapshot, Service
from lbconsole.upstreams import Upstream, UpstreamServer


def check(cluster: ClusterSnapshot, poll_interval: float) -> Iterator[Alert]:
    data = {n.name: n.upstreams for n in cluster.nodes if n.upstreams is not None}
    yield from alerts(cluster, data)


def alerts(cluster: ClusterSnapshot, upstreams: Mapping[str, Sequence[Upstream]]) -> Iterator[Alert]:
    """upstreams: nginx node name -> what it sent this poll (nodes absent or unreachable are left out)."""
    answered = {n.name: tuple(upstreams[n.name]) for n in cluster.nodes
                if n.reachable and n.has_role("nginx") and n.name in upstreams}
    yield from no_live_in_service(cluster, answered)
    yield from failing_everywhere(cluster.name, answered)
    yield from down_drift(cluster.name, answered)


def _serves(node: NodeSnapshot, address: str) -> bool:
    return address == node.host or any(a.address == address for a in node.addresses if a.interface != "lo")


def _relevant(ups: Sequence[Upstream], service: Service) -> list[Upstream]:
    """The upstreams a service's traffic reaches: those behind a listen on its port."""
    if service.port is None:  # fwmark: any port
        return [u for u in ups if u.used_by]
    return [u for u in ups if service.port in u.listen_ports()]


def no_live_in_service(cluster: ClusterSnapshot, answered: Mapping[str, tuple[Upstream, ...]]
                       ) -> Iterator[Alert]:
    found: dict[tuple[str, str], list[str]] = {}
    for director in cluster.directors:
        if not director.reachable:
            continue
        for service in director.ipvs:
            for rs in service.real_servers:
                if rs.weight <= 0:
                    continue
                for node in cluster.nodes:
                    if node.name not in answered or not _serves(node, rs.address):
                        continue
                    for up in _relevant(answered[node.name], service):
                        if up.servers and not up.has_live_server:
                            where = f"{service.key} (weight {rs.weight} on {director.name})"
                            found.setdefault((node.name, up.name), [])
                            if where not in found[(node.name, up.name)]:
                                found[(node.name, up.name)].append(where)
    for (node_name, up_name), wheres in sorted(found.items()):
        up = next(u for u in answered[node_name] if u.name == up_name)
        states = ", ".join(f"{s.label} {s.state}" for s in up.servers)
        yield Alert("critical", "upstream_no_live",
                    f"{node_name}: upstream {up_name} has no live server ({states}) while IPVS still sends "
                    f"it traffic: {'; '.join(wheres)}", cluster.name, node_name)


def _by_server(answered: Mapping[str, tuple[Upstream, ...]]
               ) -> dict[tuple[str, str], list[tuple[str, UpstreamServer]]]:
    out: dict[tuple[str, str], list[tuple[str, UpstreamServer]]] = {}
    for node_name, ups in sorted(answered.items()):
        for up in ups:
            for s in up.servers:
                out.setdefault((up.name, s.key), []).append((node_name, s))
    return out


def failing_everywhere(cluster_name: str, answered: Mapping[str, tuple[Upstream, ...]]) -> Iterator[Alert]:
    for (up_name, _key), seen in sorted(_by_server(answered).items()):
        in_service = [(n, s) for n, s in seen if not s.down]
        if in_service and all(s.failing for _, s in in_service):
            label = in_service[0][1].label
            nodes = ", ".join(n for n, _ in in_service)
            yield Alert("warning", "upstream_failing",
                        f"upstream {up_name}: {label} is failing on every nginx node ({nodes})", cluster_name)


def down_drift(cluster_name: str, answered: Mapping[str, tuple[Upstream, ...]]) -> Iterator[Alert]:
    for (up_name, _key), seen in sorted(_by_server(answered).items()):
        down = [n for n, s in seen if s.down]
        up = [n for n, s in seen if not s.down]
        if down and up:
            yield Alert("warning", "upstream_drift",
                        f"upstream {up_name}: {seen[0][1].label} is down on {', '.join(down)} "
                        f"but not on {', '.join(up)}", cluster_name)
