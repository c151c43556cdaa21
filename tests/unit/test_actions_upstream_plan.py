"""An upstream drain's cluster-wide checks, on synthetic snapshots."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lbconsole.actions.upstream_plan import plan
from lbconsole.errors import RefusedError, UsageError
from lbconsole.snapshot import ClusterSnapshot, NodeSnapshot
from lbconsole.upstreams import Upstream, UpstreamDrain, UpstreamServer

APP1, APP2 = "10.99.0.31", "10.99.0.32"
DRAIN = UpstreamDrain("deploy", "ops", 1.0)


def srv(ip: str, **kw) -> UpstreamServer:
    return UpstreamServer(ip, 8080, name={APP1: "app1", APP2: "app2"}[ip], probe_ok=kw.pop("probe_ok", True), **kw)


def cluster(*servers_per_web: tuple[UpstreamServer, ...], reachable=(True, True, True)):
    nodes = [NodeSnapshot(f"web{i + 1}", f"10.99.0.2{i + 1}", ("nginx",), reachable=r, updated_at=1.0)
             for i, r in enumerate(reachable)]
    nodes += [NodeSnapshot("app1", APP1, ("backend",)), NodeSnapshot("app2", APP2, ("backend",))]
    data = {f"web{i + 1}": (Upstream("backend", s),) for i, s in enumerate(servers_per_web)}
    return ClusterSnapshot("lab", tuple(nodes)), (lambda n: data.get(n.name))


HEALTHY = (srv(APP1), srv(APP2))


def test_drain_by_inventory_name_acts_on_every_nginx_node():
    c, of = cluster(HEALTHY, HEALTHY, HEALTHY)
    p = plan(c, "backend", "app1", drain=True, upstreams_of=of)
    assert (p.server, p.label, p.act_on, p.already) == ("10.99.0.31:8080", "app1 (10.99.0.31:8080)",
                                                         ("web1", "web2", "web3"), ())
    assert plan(c, "Backend", "10.99.0.32:8080", drain=True, upstreams_of=of).server == "10.99.0.32:8080"


def test_partly_drained_goes_on_where_it_is_not_and_undrain_where_it_is():
    drained = (srv(APP1, down=True, drain=DRAIN), srv(APP2))
    c, of = cluster(drained, HEALTHY, drained)
    p = plan(c, "backend", "app1", drain=True, upstreams_of=of)
    assert (p.act_on, p.already) == (("web2",), ("web1", "web3"))
    u = plan(c, "backend", "app1", drain=False, upstreams_of=of)
    assert (u.act_on, u.already) == (("web1", "web3"), ("web2",))


def test_a_node_that_did_not_answer_refuses_the_whole_drain():
    c, of = cluster(HEALTHY, HEALTHY, HEALTHY, reachable=(True, False, True))
    with pytest.raises(RefusedError, match="web2 did not answer.*every nginx node"):
        plan(c, "backend", "app1", drain=True, upstreams_of=of)


def test_last_live_server_and_all_others_failing_are_refused_unless_forced():
    only = (srv(APP1), srv(APP2, down=True, drain=DRAIN))
    c, of = cluster(only, only, only)
    with pytest.raises(RefusedError, match="last live server of upstream backend on web1"):
        plan(c, "backend", "app1", drain=True, upstreams_of=of)
    failing = (srv(APP1), srv(APP2, probe_ok=False))
    c, of = cluster(failing, HEALTHY, HEALTHY)
    with pytest.raises(RefusedError, match="every other server of upstream backend is failing or down on web1"):
        plan(c, "backend", "app1", drain=True, upstreams_of=of)
    forced = plan(c, "backend", "app1", drain=True, force=True, upstreams_of=of)
    assert forced.act_on == ("web1", "web2", "web3") and "web1" in forced.warnings[0]


def test_hand_marked_down_and_unknown_names_are_clear_errors():
    by_hand = (srv(APP1, down=True), srv(APP2))
    c, of = cluster(by_hand, HEALTHY, HEALTHY)
    with pytest.raises(RefusedError, match="web1: app1 .* marked down by hand"):
        plan(c, "backend", "app1", drain=True, upstreams_of=of)
    with pytest.raises(RefusedError, match="by hand, not drained"):
        plan(c, "backend", "app1", drain=False, upstreams_of=of)
    c, of = cluster(HEALTHY, HEALTHY, HEALTHY)
    with pytest.raises(UsageError, match=r"no server 'app9' \(servers: app1 \(10.99.0.31:8080\), app2"):
        plan(c, "backend", "app9", drain=True, upstreams_of=of)
    with pytest.raises(UsageError, match="has no upstream 'api' \\(it has: backend\\)"):
        plan(c, "api", "app1", drain=True, upstreams_of=of)


def test_a_name_with_two_ports_must_be_given_as_address_port():
    two = (srv(APP1), replace(srv(APP1), port=9090), srv(APP2))
    c, of = cluster(two, two, two)
    with pytest.raises(UsageError, match="app1 is 2 servers of this upstream"):
        plan(c, "backend", "app1", drain=True, upstreams_of=of)


def test_nodes_that_disagree_on_the_servers_are_refused():
    c, of = cluster(HEALTHY, (srv(APP2),), HEALTHY)
    with pytest.raises(RefusedError, match="web2: upstream backend has no server 10.99.0.31:8080"):
        plan(c, "backend", "app1", drain=True, upstreams_of=of)
