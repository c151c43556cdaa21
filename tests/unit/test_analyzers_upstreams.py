"""Cross-tier alerts on synthetic snapshots: LVS -> nginx -> upstream servers."""

from __future__ import annotations

from dataclasses import replace

from lbconsole.analyzers import upstreams as rules
from lbconsole.snapshot import (
    Address,
    ClusterSnapshot,
    NodeSnapshot,
    RealServer,
    Service,
)
from lbconsole.upstreams import Upstream, UpstreamDrain, UpstreamServer, UpstreamUse

VIP = "10.99.0.100"
APP1, APP2 = "10.99.0.31", "10.99.0.32"


def director(weights: dict[str, int], name: str = "lb1", reachable: bool = True) -> NodeSnapshot:
    rs = tuple(RealServer(ip, 80, "route", w) for ip, w in weights.items())
    return NodeSnapshot(name, name, ("director",), reachable=reachable, updated_at=1.0,
                        ipvs=(Service("TCP", VIP, 80, None, "wlc", real_servers=rs),))


def web(name: str, ip: str, reachable: bool = True) -> NodeSnapshot:
    return NodeSnapshot(name, ip, ("nginx",), reachable=reachable, updated_at=1.0,
                        addresses=(Address("lo", VIP, "inet"), Address("eth0", ip, "inet")))


def backend(*servers: UpstreamServer, listen: str = "80") -> tuple[Upstream, ...]:
    return (Upstream("backend", servers, 32, 0, (UpstreamUse(("_",), (listen,), "/"),)),)


def app(ip: str, **kw) -> UpstreamServer:
    return UpstreamServer(ip, 8080, name={APP1: "app1", APP2: "app2"}[ip], **kw)


WEBS = (web("web1", "10.99.0.21"), web("web2", "10.99.0.22"), web("web3", "10.99.0.23"))
LB = director({"10.99.0.21": 100, "10.99.0.22": 100, "10.99.0.23": 100})


def run(upstreams: dict[str, tuple[Upstream, ...]], *nodes: NodeSnapshot) -> list:
    cluster = ClusterSnapshot("lab", nodes or (LB, *WEBS))
    return list(rules.alerts(cluster, upstreams))


def healthy() -> tuple[Upstream, ...]:
    return backend(app(APP1, probe_ok=True, probe_ms=1.0), app(APP2, probe_ok=True, probe_ms=2.0))


def test_healthy_tiers_raise_nothing():
    assert run({w.name: healthy() for w in WEBS}) == []


def test_one_backend_failing_everywhere_is_one_warning_naming_it():
    ups = backend(app(APP1, probe_ok=True), app(APP2, probe_ok=False, failures=3))
    alerts = run({w.name: ups for w in WEBS})
    assert [(a.severity, a.kind) for a in alerts] == [("warning", "upstream_failing")]
    assert "app2 (10.99.0.32:8080)" in alerts[0].message and "web1, web2, web3" in alerts[0].message


def test_failing_on_some_nodes_only_is_not_everywhere():
    bad = backend(app(APP1, probe_ok=True), app(APP2, probe_ok=False))
    assert run({"web1": bad, "web2": healthy(), "web3": healthy()}) == []


def test_no_live_server_while_ipvs_still_sends_traffic_is_critical_per_nginx_node():
    dead = backend(app(APP1, probe_ok=False), app(APP2, probe_ok=False))
    alerts = run({"web1": dead, "web2": healthy(), "web3": healthy()})
    assert [(a.severity, a.kind, a.node) for a in alerts] == [("critical", "upstream_no_live", "web1")]
    assert "10.99.0.100:80 (weight 100 on lb1)" in alerts[0].message
    assert "app1 (10.99.0.31:8080) failing" in alerts[0].message


def test_no_live_but_weight_zero_in_ipvs_is_not_critical():
    dead = backend(app(APP1, probe_ok=False), app(APP2, probe_ok=False))
    lb = director({"10.99.0.21": 0, "10.99.0.22": 100, "10.99.0.23": 100})
    assert run({"web1": dead, "web2": healthy(), "web3": healthy()}, lb, *WEBS) == []


def test_every_backend_down_everywhere_raises_both():
    dead = backend(app(APP1, probe_ok=False), app(APP2, probe_ok=False))
    alerts = run({w.name: dead for w in WEBS})
    kinds = sorted(a.kind for a in alerts)
    assert kinds == ["upstream_failing"] * 2 + ["upstream_no_live"] * 3


def test_drained_servers_are_not_failing_and_a_full_drain_is_no_live():
    drained = UpstreamDrain("deploy", "ops", 1.0)
    ups = backend(app(APP1, down=True, drain=drained, probe_ok=False), app(APP2, probe_ok=True))
    assert run({w.name: ups for w in WEBS}) == []  # a drain is not an incident
    all_down = backend(app(APP1, down=True, drain=drained), app(APP2, down=True, drain=drained))
    alerts = run({w.name: all_down for w in WEBS})
    assert sorted(a.kind for a in alerts) == ["upstream_no_live"] * 3
    assert "app1 (10.99.0.31:8080) drained" in alerts[0].message


def test_down_on_some_nodes_and_not_others_is_drift():
    down = backend(app(APP1, down=True, probe_ok=True), app(APP2, probe_ok=True))
    alerts = run({"web1": down, "web2": healthy(), "web3": down})
    assert [(a.kind, a.message) for a in alerts] == [
        ("upstream_drift", "upstream backend: app1 (10.99.0.31:8080) is down on web1, web3 but not on web2")]


def test_unreachable_nodes_and_nodes_without_data_are_left_out():
    bad = backend(app(APP1, probe_ok=True), app(APP2, probe_ok=False))
    webs = (WEBS[0], web("web2", "10.99.0.22", reachable=False), WEBS[2])
    # web2 would disagree, but it did not answer: failing on every node that answered
    alerts = run({"web1": bad, "web2": healthy(), "web3": bad}, LB, *webs)
    assert [a.kind for a in alerts] == ["upstream_failing"] and "(web1, web3)" in alerts[0].message
    assert run({}, LB, *WEBS) == []


def test_only_upstreams_behind_the_service_port_count():
    dead_admin = (Upstream("admin", (app(APP1, probe_ok=False),), None, 0, (UpstreamUse((), ("8081",), "/"),)),)
    assert [a.kind for a in run({"web1": healthy() + dead_admin, "web2": healthy(), "web3": healthy()})] \
        == ["upstream_failing"]  # failing, but no IPVS service reaches it: not critical


def test_check_reads_upstreams_from_the_node_when_it_carries_them():
    cluster = ClusterSnapshot("lab", (LB, *WEBS))
    assert list(rules.check(cluster, 2.0)) == []  # NodeSnapshot has no upstreams yet: nothing, no crash

    class WithUpstreams:
        def __init__(self, node: NodeSnapshot, ups: tuple[Upstream, ...]):
            self._node, self.upstreams = node, ups

        def __getattr__(self, name: str):
            return getattr(self._node, name)

    dead = backend(app(APP1, probe_ok=False), app(APP2, probe_ok=False))
    nodes = (LB, *(WithUpstreams(w, dead) for w in WEBS))
    alerts = list(rules.check(replace(cluster, nodes=nodes), 2.0))  # type: ignore[arg-type]
    assert sorted({a.kind for a in alerts}) == ["upstream_failing", "upstream_no_live"]
