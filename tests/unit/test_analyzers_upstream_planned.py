"""A drain of an upstream server is planned, not an incident: the recorded drain is INFO, and the drift it
causes while the nginx nodes are edited one by one (or this console's action runs) is INFO, never a
warning. A `down` by hand, or a recorded drain that never reached some node, still warns."""

from __future__ import annotations

from dataclasses import replace

from lbconsole.analyzers import Analyzer
from lbconsole.analyzers.planned import clock
from lbconsole.analyzers.settings import RunningAction, Settings
from lbconsole.snapshot import ClusterSnapshot, NodeSnapshot, Snapshot
from lbconsole.upstreams import Upstream, UpstreamDrain, UpstreamServer, UpstreamUse

APP1, APP2 = "10.99.0.31", "10.99.0.32"
NOW = 1_764_480_000.0
RECORD = UpstreamDrain("kernel update", "ops@console", NOW - 5)


def app(ip: str, **kw) -> UpstreamServer:
    return UpstreamServer(ip, 8080, name={APP1: "app1", APP2: "app2"}[ip], probe_ok=True, **kw)


def backend(app1: UpstreamServer, name: str = "backend") -> tuple[Upstream, ...]:
    return (Upstream(name, (app1, app(APP2)), 32, 0, (UpstreamUse(("_",), ("80",), "/"),)),)


def web(name: str, ups: tuple[Upstream, ...]) -> NodeSnapshot:
    return NodeSnapshot(name, f"10.99.0.2{name[-1]}", ("nginx",), reachable=True, updated_at=NOW, upstreams=ups)


UP = backend(app(APP1))
DRAINED = backend(app(APP1, down=True, drain=RECORD))
BY_HAND = backend(app(APP1, down=True))


def alerts(webs: dict[str, tuple[Upstream, ...]], running=(), taken_at: float = NOW, settings=None) -> list:
    cluster = ClusterSnapshot("lab", tuple(web(n, u) for n, u in webs.items()))
    found = Analyzer(settings or Settings()).analyze(Snapshot(taken_at, (cluster,)), running).alerts
    return [(a.severity, a.kind, a.message) for a in found if a.kind.startswith("upstream")]


def test_a_drain_on_every_node_is_one_info_line_and_no_warning():
    assert alerts({"web1": DRAINED, "web2": DRAINED, "web3": DRAINED}) == [
        ("info", "upstream_drained", "planned: app1 (10.99.0.31:8080) of upstream backend drained by ops@console "
         f"since {clock(RECORD.since)} (kernel update)")]


def test_drift_while_the_drain_reaches_the_nodes_is_info_planned():
    found = alerts({"web1": DRAINED, "web2": DRAINED, "web3": UP})
    assert [(s, k) for s, k, _ in found] == [("info", "upstream_drift"), ("info", "upstream_drained")]
    drift = found[0][2]
    assert drift.startswith("planned (upstream drain of app1 (10.99.0.31:8080) in backend by ops@console")
    assert drift.endswith("is down on web1, web2 but not on web3")
    assert "on web1, web2 (kernel update)" in found[1][2]


def test_a_recorded_drain_that_never_reached_a_node_warns_after_the_grace():
    later = NOW + 120
    found = alerts({"web1": DRAINED, "web2": UP}, taken_at=later)
    assert ("warning", "upstream_drift") in [(s, k) for s, k, _ in found]
    assert alerts({"web1": DRAINED, "web2": UP}, taken_at=later, settings=Settings(upstream_drift_grace=600))[0][0] \
        == "info"


def test_down_by_hand_is_drift_a_warning_even_with_a_record_elsewhere():
    found = alerts({"web1": DRAINED, "web2": BY_HAND, "web3": UP})
    assert ("warning", "upstream_drift") in [(s, k) for s, k, _ in found]


def test_a_running_upstream_action_explains_the_drift_of_its_own_upstream_only():
    # An undrain half done: web1 is back (no record), web2 still drained; the record is old.
    old = backend(app(APP1, down=True, drain=replace(RECORD, since=NOW - 3600)))
    webs = {"web1": UP + backend(app(APP1), name="api"), "web2": old + backend(app(APP1, down=True), name="api")}
    assert [(s, k) for s, k, _ in alerts(webs) if k == "upstream_drift"] == [
        ("warning", "upstream_drift"), ("warning", "upstream_drift")]
    running = [RunningAction("upstream_undrain", "lab", {"kind": "upstream_server", "upstream": "backend",
                                                         "server": f"{APP1}:8080"}, NOW - 1)]
    drifts = [(s, m) for s, k, m in alerts(webs, running) if k == "upstream_drift"]
    assert drifts[0][0] == "warning" and drifts[0][1].startswith("upstream api:")  # not this action's upstream
    assert drifts[1] == ("info", "planned (upstream_undrain 10.99.0.31:8080 of upstream backend running): "
                                 "upstream backend: app1 (10.99.0.31:8080) is down on web2 but not on web1")
    other_cluster = [replace(running[0], cluster="prod")]
    assert all(s == "warning" for s, k, _ in alerts(webs, other_cluster) if k == "upstream_drift")
