"""The backends tier of the snapshot: rows from what the node sends, the JSON contract, names, states."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from lbconsole import upstreams
from lbconsole.node import nginx_conf, upstream_conf, upstream_log
from lbconsole.upstreams import Upstream, UpstreamDrain, UpstreamServer

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nginx_upstreams"
CONTRACT = {"address", "port", "name", "weight", "max_fails", "fail_timeout", "backup", "down", "drain",
            "failures", "probe_ok", "probe_ms"}


def node_read() -> dict:
    table = {"127.1": ["127.0.0.1"], "localhost": ["127.0.0.1"]}
    return upstream_conf.read(nginx_conf.Config.from_dump((FIX / "hard.T.txt").read_text()),
                              lambda host, port: table[host])


def test_rows_from_a_real_nginx_dump_failures_probes_and_records():
    refused = ('2026/11/30 04:40:01 [error] 81#81: *5 connect() failed (111: Connection refused) while connecting '
               'to upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.0", '
               'upstream: "http://127.0.0.1:18081/"')
    no_live = ('2026/11/30 04:40:02 [error] 81#81: *7 no live upstreams while connecting to upstream, '
               'client: 127.0.0.1, server: , request: "GET / HTTP/1.0", upstream: "http://backend/"')
    log = upstream_log.count([refused, no_live], ["127.0.0.1:18081"])
    probes = [{"peer": "127.0.0.1:18081", "ok": False, "ms": None}, {"peer": "127.0.0.1:18082", "ok": True, "ms": 1.5}]
    records = [{"upstream": "backend", "server": "[::1]:18084", "reason": "disk", "by": "ops@lb", "since": 5.0}]
    names = upstreams.inventory_names([SimpleNamespace(host="127.0.0.2", name="app3")])
    ups = {u.name: u for u in upstreams.from_node(node_read(), log, probes, records, names)}
    backend = ups["backend"]
    assert [s.key for s in backend.servers] == ["127.0.0.1:18081", "127.0.0.1:18082", "127.0.0.1:18083",
                                                "[::1]:18084", "unix:/tmp/lbc-upfix-hard/app.sock", "127.0.0.2:80"]
    s = backend.servers
    assert (s[0].failures, s[0].probe_ok, s[0].state) == (1, False, "failing")
    assert (s[1].probe_ok, s[1].probe_ms, s[1].state, s[1].name) == (True, 1.5, "up", "127.1")  # config's name
    assert s[2].name == "localhost" and s[2].backup and s[2].state == "up"  # not probed, no failures
    assert s[3].state == "drained" and s[3].drain == UpstreamDrain("disk", "ops@lb", 5.0)
    assert s[4].port is None and s[4].name is None
    assert s[5].name == "app3"  # from the inventory
    assert backend.no_live == 1 and backend.keepalive == 16
    assert backend.listen_ports() == {18090, 18092}
    assert backend.has_live_server


def test_json_contract_and_round_trip():
    ups = upstreams.from_node(node_read())
    plain = json.loads(json.dumps(upstreams.to_plain(ups)))
    for u in plain:
        assert {"name", "servers"} <= set(u)
        for s in u["servers"]:
            assert set(s) == CONTRACT
    assert upstreams.from_plain(plain) == ups


def test_a_drain_record_without_down_is_not_a_drain():
    read = {"upstreams": [{"name": "u", "keepalive": None, "used_by": [], "servers": [
        {"spec": "10.0.0.1:80", "host": "10.0.0.1", "port": 80, "addresses": ["10.0.0.1"], "weight": 1,
         "max_fails": 1, "fail_timeout": 10, "backup": False, "down": False}]}]}
    rec = [{"upstream": "u", "server": "10.0.0.1:80", "reason": "r", "by": "b", "since": 1}]
    (u,) = upstreams.from_node(read, records=rec)
    assert u.servers[0].drain is None and u.servers[0].state == "up"


def test_an_unresolved_name_is_still_a_row():
    read = {"upstreams": [{"name": "u", "keepalive": None, "used_by": [], "servers": [
        {"spec": "gone:80", "host": "gone", "port": 80, "addresses": [], "weight": 1, "max_fails": 1,
         "fail_timeout": 10, "backup": False, "down": False}]}]}
    (u,) = upstreams.from_node(read)
    assert u.servers[0].key == "gone:80"


def test_states_and_listen_ports():
    assert UpstreamServer("10.0.0.1", 80, down=True).state == "down"
    assert UpstreamServer("10.0.0.1", 80, down=True, probe_ok=False).state == "down"  # never "failing"
    assert UpstreamServer("10.0.0.1", 80, failures=2, probe_ok=True).state == "up"  # the probe is fresher
    assert UpstreamServer("10.0.0.1", 80, failures=2).state == "failing"
    assert UpstreamServer("::1", 80, name="app1").label == "app1 ([::1]:80)"
    assert [upstreams.listen_port(x) for x in ("80", "10.0.0.1:8080", "[::]:443", "[::1]", "*:81", "unix:/x",
                                                "localhost")] == [80, 8080, 443, 80, 81, None, 80]
    assert Upstream("u").listen_ports() == set()


def test_probe_text_in_a_column_and_in_a_status_line():
    ok, slow, failed, unprobed = (UpstreamServer("10.0.0.31", 8080, probe_ok=True, probe_ms=1.25),
                                  UpstreamServer("10.0.0.31", 8080, probe_ok=True, probe_ms=12.4),
                                  UpstreamServer("10.0.0.31", 8080, probe_ok=False),
                                  UpstreamServer("10.0.0.31", 8080))
    assert [upstreams.probe_text(s) for s in (ok, slow, failed, unprobed)] == [
        "ok 1.2ms", "ok 12ms", "failed", "not probed"]
    assert [upstreams.probe_text(s, labelled=True) for s in (ok, slow, failed, unprobed)] == [
        "probe ok 1.25 ms", "probe ok 12.4 ms", "probe FAILED", "not probed"]
