"""`lbconsole status`: a node never reached has no age; node text reaches the terminal as text."""

from __future__ import annotations

import json

from lbconsole import cli
from lbconsole.commands import status
from lbconsole.snapshot import ClusterSnapshot, Counters, Drain, NodeSnapshot, Rates, RealServer, Service, Snapshot
from support.inventory import cluster_table, node_table, write_inventory


def test_a_node_never_reached_has_age_null_in_json(tmp_path, capsys):
    lb1 = node_table("lb1", "127.0.0.1", "director", port=1)
    path = write_inventory(tmp_path / "inv.toml", cluster_table("c", lb1))
    assert cli.main(["status", "--json", "--inventory", path]) == 1
    [node] = json.loads(capsys.readouterr().out)["clusters"][0]["nodes"]
    assert node["reachable"] is False and node["updated_at"] is None and node["age_s"] is None
    back = Snapshot.from_dict(json.loads(json.dumps(Snapshot(1.0, (ClusterSnapshot("c", (
        NodeSnapshot("lb1", "h", ("director",)),)),)).to_dict())))
    assert back.clusters[0].nodes[0].age_s == 0.0  # a recording with null ages replays


def test_drain_reasons_and_errors_are_printed_as_text():
    evil = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2Jdisk swap\r\nfake line"
    rs = RealServer(address="10.0.0.21", port=80, forward="route", weight=0, active_conns=0, inactive_conns=0,
                    stats=Counters(), rates=Rates(),
                    drain=Drain(reason=evil, by="ann\x1b[31m@ops", since=1.0, weight=1))
    svc = Service(protocol="TCP", address="10.0.0.100", port=80, fwmark=None, scheduler="wlc", real_servers=(rs,))
    node = NodeSnapshot("lb1", "h", ("director",), reachable=True, error="boom\x1b[5m", updated_at=1.0, ipvs=(svc,))
    text = status.render_text(Snapshot(1.0, (ClusterSnapshot("c", (node,)),)))
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert "disk swap" in text and "DRAINED" in text
    assert len([ln for ln in text.splitlines() if "fake line" in ln]) == 1
    assert all("fake line" not in ln or "DRAINED" in ln for ln in text.splitlines())


def test_upstream_servers_show_their_state_on_each_nginx_node():
    from lbconsole.upstreams import Upstream, UpstreamDrain, UpstreamServer

    servers = (
        UpstreamServer("10.0.0.31", 8080, "app1", max_fails=2, probe_ok=True, probe_ms=1.25),
        UpstreamServer("10.0.0.32", 8080, "app2", probe_ok=False, failures=4),
        UpstreamServer("10.0.0.33", 8080, None, down=True, drain=UpstreamDrain("kernel\x1b[2J update", "ann", 1.0)),
        UpstreamServer("10.0.0.34", 8080, None, down=True, backup=True),
    )
    node = NodeSnapshot("web1", "h", ("nginx",), reachable=True, updated_at=1.0,
                        upstreams=(Upstream("backend", servers, keepalive=32, no_live=3),))
    text = status.render_text(Snapshot(1.0, (ClusterSnapshot("c", (node,)),)))
    lines = text.splitlines()
    assert "    upstream backend keepalive 32  NO LIVE UPSTREAMS x3 since the last poll" in lines
    app1, app2, drained, down = (next(ln for ln in lines if f"10.0.0.3{i}:8080" in ln) for i in range(1, 5))
    assert "app1 (10.0.0.31:8080)" in app1 and " up " in app1 and "probe ok 1.25 ms" in app1 and "max_fails 2" in app1
    assert "FAILING" in app2 and "probe FAILED" in app2 and "failures 4" in app2
    assert "DRAINED (kernel" in drained and "by ann" in drained and "\x1b" not in text
    assert "DOWN" in down and "backup" in down and "not probed" in down
