"""A cluster seen the way the console shows it: services merged across directors.

Every director of a cluster carries the same IPVS table (or should: drift is
an alert), so the console shows one row per service and real server with each
director's numbers side by side or summed. Real servers are keyed by
(address, port) tuples, which are cheaper than formatted strings at 10,000 rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lbconsole.analyzers import vips
from lbconsole.analyzers.vips import vip_address
from lbconsole.snapshot import (
    ClusterSnapshot,
    NodeSnapshot,
    RealServer,
    Service,
    VrrpInstance,
    join_host_port,
)
from lbconsole.ui.upstream_view import MergedUpstream, merge

RsKey = tuple[str, int]

__all__ = ["ClusterView", "MergedService", "RsKey", "rate_total", "rs_label", "total", "vip_address"]


@dataclass(slots=True)
class MergedService:
    key: str
    per_director: list[Service | None]  # aligned with ClusterView.directors
    rs_keys: list[RsKey] = field(default_factory=list)  # in first-seen order
    rs: dict[RsKey, list[RealServer | None]] = field(default_factory=dict)

    @property
    def any(self) -> Service:
        return next(s for s in self.per_director if s is not None)

    def real_servers(self, key: RsKey) -> list[RealServer | None]:
        return self.rs[key]


class ClusterView:
    """Indexes for one ClusterSnapshot; built once per snapshot, read by every widget."""

    def __init__(self, cluster: ClusterSnapshot):
        self.cluster = cluster
        self.directors: tuple[NodeSnapshot, ...] = cluster.directors
        self.nginx: tuple[NodeSnapshot, ...] = tuple(n for n in cluster.nodes if n.has_role("nginx"))
        # Nodes in neither tier table (backends) still need their age shown somewhere.
        self.others: tuple[NodeSnapshot, ...] = tuple(n for n in cluster.nodes
                                                      if not n.has_role("nginx") and not n.has_role("director"))
        self._services: dict[str, MergedService] | None = None
        self._upstreams: dict[str, MergedUpstream] | None = None
        self._names: dict[str, str] | None = None

    @property
    def name(self) -> str:
        return self.cluster.name

    @property
    def services(self) -> dict[str, MergedService]:
        if self._services is None:
            self._services = self._merge()
        return self._services

    @property
    def upstreams(self) -> dict[str, MergedUpstream]:
        """The backends tier: each upstream merged across the nginx nodes (columns aligned with `nginx`)."""
        if self._upstreams is None:
            self._upstreams = merge(self.nginx)
        return self._upstreams

    def _merge(self) -> dict[str, MergedService]:
        merged: dict[str, MergedService] = {}
        n = len(self.directors)
        for i, node in enumerate(self.directors):
            for svc in node.ipvs:
                m = merged.get(svc.key)
                if m is None:
                    m = merged[svc.key] = MergedService(svc.key, [None] * n)
                m.per_director[i] = svc
                rs_map = m.rs
                for rs in svc.real_servers:
                    k = (rs.address, rs.port)
                    slots = rs_map.get(k)
                    if slots is None:
                        slots = rs_map[k] = [None] * n
                        m.rs_keys.append(k)
                    slots[i] = rs
        return merged

    def vip_holders(self) -> dict[str, list[str]]:
        """VIP -> director names holding it on a non-lo interface (more than one is split brain)."""
        holders: dict[str, list[str]] = {}
        for node in self.directors:
            for vip in self.held_vips(node):
                holders.setdefault(vip, []).append(node.name)
        return holders

    @staticmethod
    def held_vips(node: NodeSnapshot, inst: VrrpInstance | None = None) -> list[str]:
        return vips.held_vips(node, inst)

    def name_of(self, address: str) -> str | None:
        """The inventory name of the node that owns `address` (its host, or an address on it, lo excluded)."""
        if self._names is None:
            names: dict[str, str] = {}
            for node in self.cluster.nodes:
                for a in node.addresses:
                    if a.interface != "lo":
                        names.setdefault(a.address, node.name)
            for node in self.cluster.nodes:
                names[node.host] = node.name  # the inventory's own address wins
            self._names = names
        return self._names.get(address)

    def rs_title(self, key: RsKey) -> str:
        """`web1 10.99.0.21:80`: the real server by the inventory name of the node behind it."""
        name = self.name_of(key[0])
        return f"{name} {rs_label(key)}" if name else rs_label(key)

    def node(self, name: str) -> NodeSnapshot | None:
        return self.cluster.node(name)

    def instance_peers(self, instance: str) -> list[tuple[NodeSnapshot, VrrpInstance]]:
        return [(n, i) for n in self.directors for i in n.vrrp if i.instance == instance]


def rs_label(key: RsKey) -> str:
    return join_host_port(*key)


def total(rss: Sequence[RealServer | None], attr: str) -> int:
    return sum(getattr(r, attr) for r in rss if r is not None)


def rate_total(rss: Sequence[RealServer | None], attr: str) -> float:
    out: float = sum(getattr(r.rates, attr) for r in rss if r is not None)
    return out
