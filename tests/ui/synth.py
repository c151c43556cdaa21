"""Snapshots built from the dataclasses, shaped like the lab (lb1/lb2, web1-3, app1).

For unit tests that need a precise situation (a failover, a drain, a lost
node); the Pilot tests replay the real lab recording in tests/fixtures.
"""

from __future__ import annotations

from dataclasses import replace

from lbconsole.snapshot import (
    Address,
    Alert,
    ClusterSnapshot,
    Drain,
    NginxStatus,
    NodeSnapshot,
    Rates,
    RealServer,
    Service,
    Snapshot,
    VrrpInstance,
)
from lbconsole.upstreams import Upstream, UpstreamDrain, UpstreamServer, UpstreamUse

VIP = "10.99.0.100"
RS = ("10.99.0.21", "10.99.0.22", "10.99.0.23")


def director(name: str, state: str, prio: int, t: float, weights=(100, 100, 100), drain=None,
             active=(3, 2, 1)) -> NodeSnapshot:
    master = state == "MASTER"
    rss = tuple(RealServer(a, 80, "route", w, active_conns=c if master else 0, inactive_conns=5 if master else 0,
                           rates=Rates(cps=2.0 if master else 0), drain=drain if a == RS[0] else None)
                for a, w, c in zip(RS, weights, active))
    svc = Service("TCP", VIP, 80, None, "wlc", rates=Rates(cps=6.0 if master else 0, inpps=40, inbps=4000),
                  real_servers=rss)
    addrs = (Address("eth1", "10.99.0.11" if name == "lb1" else "10.99.0.12", "inet"),)
    if master:
        addrs += (Address("eth1", VIP, "inet"),)
    return NodeSnapshot(name=name, host=name, roles=("director",), reachable=True, updated_at=t - 0.2, age_s=0.2,
                        ipvs=(svc,), addresses=addrs,
                        vrrp=(VrrpInstance("VI_1", 51, state, prio, prio, "eth1", (f"{VIP}/32",), t - 100),))


def web(name: str, t: float, requests: int = 1000) -> NodeSnapshot:
    return NodeSnapshot(name=name, host=name, roles=("nginx",), reachable=True, updated_at=t - 0.3, age_s=0.3,
                        nginx=NginxStatus(4, requests, requests, requests, 0, 1, 3, requests_per_s=12.5))


def lab(t: float = 1_700_000_000.0, lb1="MASTER", lb2="BACKUP", drain: Drain | None = None,
        weights=(100, 100, 100), read_only=False, alerts=(), active=(3, 2, 1)) -> Snapshot:
    nodes = (director("lb1", lb1, 150, t, weights, drain, active), director("lb2", lb2, 100, t, weights, drain, active),
             web("web1", t), web("web2", t), web("web3", t),
             NodeSnapshot(name="app1", host="app1", roles=("backend",), reachable=True, updated_at=t, age_s=0.1))
    return Snapshot(taken_at=t, clusters=(ClusterSnapshot("lab", nodes, read_only=read_only),), alerts=alerts)


def lose(snapshot: Snapshot, node: str, error: str = "connection refused") -> Snapshot:
    """The poller's view of a node that stopped answering, without its data."""
    cluster = snapshot.clusters[0]
    nodes = tuple(NodeSnapshot(name=n.name, host=n.host, roles=n.roles, reachable=False, error=error,
                               updated_at=None, age_s=0) if n.name == node else n for n in cluster.nodes)
    alert = Alert("critical", "node_unreachable", f"{node} unreachable: {error}", cluster.name, node)
    return replace(snapshot, clusters=(replace(cluster, nodes=nodes),), alerts=snapshot.alerts + (alert,))


def two_clusters(t: float = 1_700_000_000.0) -> Snapshot:
    a = lab(t)
    staging = replace(a.clusters[0], name="staging", color="ansi_bright_magenta", read_only=False)
    prod = replace(a.clusters[0], name="prod", color="red", read_only=True)
    return replace(a, clusters=(prod, staging))


def big(services: int = 100, per_service: int = 100, t: float = 1_700_000_000.0) -> Snapshot:
    """10,000 real servers by default: the benchmark's shape."""
    base = lab(t)
    svcs = []
    for s in range(services):
        rss = tuple(RealServer(f"10.{s // 250}.{s % 250}.{r}", 8080, "route", 100, active_conns=r,
                               rates=Rates(cps=r * 0.1)) for r in range(per_service))
        svcs.append(Service("TCP", f"10.99.{s // 250}.{s % 250}", 80, None, "wlc", real_servers=rss))
    nodes = tuple(replace(n, ipvs=tuple(svcs)) if n.has_role("director") else n for n in base.clusters[0].nodes)
    return replace(base, clusters=(replace(base.clusters[0], nodes=nodes),))


def sequence(t: float = 1_700_000_000.0) -> list[Snapshot]:
    """Steady, then a failover, a drain, and a lost nginx node."""
    drain = Drain("kernel upgrade", "ops@console", t + 3, 100)
    return [lab(t), lab(t + 1), lab(t + 2), lab(t + 3, lb1="BACKUP", lb2="MASTER"),
            lab(t + 4, lb1="BACKUP", lb2="MASTER", drain=drain, weights=(0, 100, 100)),
            lose(lab(t + 5, lb1="BACKUP", lb2="MASTER", drain=drain, weights=(0, 100, 100)), "web2")]


# -- the backends tier: nginx upstreams (issue 11) -------------------------------------------------------

APPS = (("app1", "10.99.0.31"), ("app2", "10.99.0.32"))


def upstream(name: str = "backend", states: dict[str, str] | None = None, failures: dict[str, int] | None = None,
             reason: str = "deploy", by: str = "ops@console", since: float = 1_700_000_000.0 - 120,
             names: bool = True, no_live: int = 0) -> Upstream:
    """An upstream over app1 and app2 (port 8080); states: app name -> up | failing | down | drained."""
    states = states or {}
    failures = failures or {}
    servers = []
    for app, address in APPS:
        st = states.get(app, "up")
        servers.append(UpstreamServer(
            address, 8080, name=app if names else None, max_fails=2, fail_timeout=10,
            down=st in ("down", "drained"),
            drain=UpstreamDrain(reason, by, since) if st == "drained" else None,
            failures=failures.get(app, 3 if st == "failing" else 0),
            probe_ok=None if st in ("down", "drained") else st != "failing",
            probe_ms=None if st in ("down", "drained") else (2.5 if st == "up" else None)))
    return Upstream(name, tuple(servers), 32, no_live,
                    (UpstreamUse(("_",), ("80",), "/"),))


def with_upstreams(snapshot: Snapshot, per_node: dict[str, tuple[Upstream, ...] | None]) -> Snapshot:
    """The snapshot with these nginx nodes' upstreams (None: not read)."""
    cluster = snapshot.clusters[0]
    nodes = tuple(replace(n, upstreams=per_node[n.name]) if n.name in per_node else n for n in cluster.nodes)
    return replace(snapshot, clusters=(replace(cluster, nodes=nodes),) + snapshot.clusters[1:])


def backends_lab(t: float = 1_700_000_000.0, web2: dict[str, str] | None = None, **kwargs) -> Snapshot:
    """The lab with app1 and app2 behind `upstream backend` on web1-3; web2's states as given.

    app1 and app2 are inventory nodes (role backend) at their addresses, as in the lab.
    """
    snap = lab(t, **kwargs)
    cluster = snap.clusters[0]
    apps = tuple(NodeSnapshot(name=name, host=address, roles=("backend",), reachable=True, updated_at=t, age_s=0.1)
                 for name, address in APPS)
    nodes = tuple(n for n in cluster.nodes if n.name != "app1") + apps
    snap = replace(snap, clusters=(replace(cluster, nodes=nodes),))
    return with_upstreams(snap, {"web1": (upstream(),), "web2": (upstream(states=web2),),
                                 "web3": (upstream(),)})
