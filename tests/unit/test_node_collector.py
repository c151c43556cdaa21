"""The node collector: the agent's `snapshot` result (captured from the real agent) to NodeSnapshot."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lbconsole.collectors import node as collector
from lbconsole.inventory import NodeConfig

AGENT = Path(__file__).parents[1] / "fixtures" / "agent"
LB1 = NodeConfig("lb1", "10.99.0.11", ("director",), "lab")
WEB1 = NodeConfig("web1", "10.99.0.21", ("nginx",), "lab")
HERE = NodeConfig("here", "local", ("director", "nginx"), "local")


def load(name: str) -> dict:
    return json.loads((AGENT / name).read_text())


def test_a_host_without_ip_vs_nginx_or_keepalived_says_why_per_part():
    snap = collector.from_result(HERE, load("snapshot_host_no_ipvs.json"), 100.0)
    assert snap.reachable and snap.updated_at == 100.0
    assert snap.ipvs == () and snap.nginx is None and snap.keepalived_running is False
    assert snap.host_stats.cpus >= 1 and snap.host_stats.mem_total > 0
    assert any(a.interface == "lo" and a.address == "127.0.0.1" for a in snap.addresses)
    # One message per failed part, by name; the other parts still count.
    assert [p.split(":")[0] for p in snap.error.split("; ")] == ["ipvs", "nginx", "vrrp"]


def test_no_keepalived_on_a_web_node_is_not_an_error():
    result = load("snapshot_host_no_ipvs.json")
    result["errors"] = {"vrrp": "keepalived is not running (no /run/keepalived.pid)"}
    snap = collector.from_result(WEB1, result, 1.0)
    assert snap.error is None and snap.keepalived_running is False


@pytest.mark.parametrize("broken", [
    {"ipvs": [{"protocol": "TCP"}]},  # a service without its fields
    {"vrrp": [{"instance": "VI_1", "vrid": "fifty-one", "state": "MASTER"}]},
    {"addresses": "eth0"},
    {"host_stats": {"load1": "high"}},
    {"drains": [{"service": "x"}]},
])
def test_a_wrong_shape_is_bad_snapshot_not_a_traceback(broken):
    result = {**load("snapshot_host_no_ipvs.json"), **broken}
    with pytest.raises(collector.BadSnapshot):
        collector.from_result(LB1, result, 1.0)


def test_rates_from_counter_deltas():
    first = collector.from_result(HERE, load("snapshot_host_no_ipvs.json"), 1.0)
    first = replace(first, nginx=collector.NginxStatus(1, 10, 10, 100, 0, 1, 0))
    later = replace(first, sampled_at=first.sampled_at + 2, nginx=replace(first.nginx, requests=150, accepts=14))
    rated = collector.with_rates(later, first)
    assert (rated.nginx.requests_per_s, rated.nginx.conns_per_s) == (25.0, 2.0)
    # A counter that went down is a restart, not a negative rate.
    assert collector.with_rates(replace(first, sampled_at=first.sampled_at + 4), later).nginx.requests_per_s == 0


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["ipvs", "vrrp", "nginx", "host_stats", "addresses", "drains", "errors",
                                        "warnings", "keepalived_running", "sampled_at"]),
                       st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                                    lambda inner: st.lists(inner, max_size=3)
                                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)))
def test_garbage_never_raises_anything_but_bad_snapshot(garbage):
    try:
        collector.from_result(LB1, {**load("snapshot_host_no_ipvs.json"), **garbage}, 1.0)
    except collector.BadSnapshot:
        pass


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["read", "failures", "probes", "drains", "upstreams", "servers",
                                                       "name", "peer", "x"]), inner, max_size=4), max_leaves=10))
def test_an_upstreams_part_of_the_wrong_shape_is_that_part_error_only(garbage):
    result = {**load("snapshot_host_no_ipvs.json"), "errors": {}, "upstreams": garbage}
    snap = collector.from_result(WEB1, result, 1.0)
    assert snap.reachable  # the node's other parts still count
    if garbage is not None and snap.upstreams is None:
        assert snap.error.startswith("upstreams: the agent's upstreams part is not valid")
    assert collector.from_result(LB1, result, 1.0).upstreams is None  # not an nginx node: not read


def test_an_upstreams_error_from_the_agent_is_the_node_error():
    result = {**load("snapshot_host_no_ipvs.json"), "upstreams": None,
              "errors": {"upstreams": "nginx -T failed: nginx: [emerg] unexpected end of file"}}
    snap = collector.from_result(WEB1, result, 1.0)
    assert snap.reachable and snap.upstreams is None
    assert snap.error == "upstreams: nginx -T failed: nginx: [emerg] unexpected end of file"
