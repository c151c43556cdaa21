"""The checks of an upstream drain or undrain across the cluster, before any node is touched.

`lbconsole upstream drain UPSTREAM SERVER` acts on every nginx node of the cluster (each node then
checks, edits, tests and reloads on its own, lbconsole/node/upstream_edit.py). From the snapshot, this
decides whether to go at all: every nginx node answered and has the upstream (never half a cluster),
SERVER names exactly one server (`address:port`, or an inventory node name with one port in that
upstream), and the drain leaves the upstream a live server on every node unless forced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lbconsole.errors import RefusedError, UsageError
from lbconsole.snapshot import ClusterSnapshot, NodeSnapshot
from lbconsole.upstreams import Upstream

UpstreamsOf = Callable[[NodeSnapshot], "tuple[Upstream, ...] | None"]


@dataclass(frozen=True, slots=True)
class UpstreamPlan:
    upstream: str
    server: str  # the key: address:port, or unix:/path
    label: str  # "app1 (10.99.0.31:8080)"
    act_on: tuple[str, ...]  # nginx nodes where something changes
    already: tuple[str, ...]  # nginx nodes already in the wanted state
    warnings: tuple[str, ...] = ()


def _views(cluster: ClusterSnapshot, upstream: str, upstreams_of: UpstreamsOf) -> dict[str, Upstream]:
    nginx = [n for n in cluster.nodes if n.has_role("nginx")]
    if not nginx:
        raise UsageError(f"cluster {cluster.name} has no nginx node")
    views: dict[str, Upstream] = {}
    for node in nginx:
        ups = upstreams_of(node) if node.reachable else None
        if ups is None:
            why = node.error or "its upstreams were not read"
            what = "did not answer" if not node.reachable else "answered without its upstreams"
            raise RefusedError(f"{node.name} {what} ({why}): an upstream drain must reach every nginx "
                               f"node of {cluster.name}; nothing was touched")
        found = next((u for u in ups if u.name.lower() == upstream.lower()), None)
        if found is None:
            have = ", ".join(sorted(u.name for u in ups)) or "none"
            raise UsageError(f"{node.name} has no upstream {upstream!r} (it has: {have})")
        views[node.name] = found
    return views


def resolve_server(cluster: ClusterSnapshot, views: dict[str, Upstream], server: str) -> str:
    """SERVER as a server key of the upstream: address:port as is, or an inventory node name."""
    keys = {s.key for up in views.values() for s in up.servers}
    if server in keys:
        return server
    node = cluster.node(server)
    if node is not None:
        ports = sorted({s.key for up in views.values() for s in up.servers if s.address == node.host})
        if len(ports) == 1:
            return ports[0]
        if len(ports) > 1:
            raise UsageError(f"{server} is {len(ports)} servers of this upstream ({', '.join(ports)}): "
                             "name one as address:port")
    have = ", ".join(sorted({s.label for up in views.values() for s in up.servers})) or "none"
    up_name = next(iter(views.values())).name
    raise UsageError(f"upstream {up_name} has no server {server!r} (servers: {have})")


def plan(cluster: ClusterSnapshot, upstream: str, server: str, drain: bool, force: bool = False,
         upstreams_of: UpstreamsOf | None = None) -> UpstreamPlan:
    views = _views(cluster, upstream, upstreams_of or (lambda n: n.upstreams))
    key = resolve_server(cluster, views, server)
    act_on, already, warnings = [], [], []
    label = key
    for name, up in views.items():
        target = up.server(key)
        if target is None:
            raise RefusedError(f"{name}: upstream {up.name} has no server {key} (the nginx nodes disagree); "
                               "nothing was touched")
        label = target.label
        if drain and target.down and target.drain is None:
            raise RefusedError(f"{name}: {target.label} is marked down by hand in upstream {up.name}, "
                               "not by lbconsole; nothing was touched")
        if not drain and target.down and target.drain is None:
            raise RefusedError(f"{name}: {target.label} is marked down by hand, not drained by lbconsole: "
                               "edit the config there; nothing was touched")
        if target.down == drain:
            already.append(name)
            continue
        act_on.append(name)
        if drain:
            others = [s for s in up.servers if s.key != key]
            in_config = [s for s in others if not s.down and not s.backup]
            live = [s for s in others if s.live]
            if not force and not in_config:
                raise RefusedError(f"{target.label} is the last live server of upstream {up.name} on {name}: "
                                   "draining it leaves its traffic no server; --force to do it anyway")
            if not force and not live:
                raise RefusedError(f"every other server of upstream {up.name} is failing or down on {name}: "
                                   f"draining {target.label} leaves no live server; --force to do it anyway")
            if force and not live:
                warnings.append(f"{name}: upstream {up.name} is left with no live server (--force)")
    return UpstreamPlan(next(iter(views.values())).name, key, label, tuple(act_on), tuple(already), tuple(warnings))
