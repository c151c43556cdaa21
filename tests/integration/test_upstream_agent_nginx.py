"""The upstreams part end to end: the real in-process agent (the `host = "local"` channel and session)
on a real loopback nginx with one live and one dead upstream server, through the collector to the
snapshot, `status --json` and `status`'s text."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest

from lbconsole.collectors import node as collector
from lbconsole.commands import status
from lbconsole.inventory import NodeConfig
from lbconsole.node.agent import Agent
from lbconsole.node.nginx_reload import Nginx
from lbconsole.node.upstream_snapshot import UpstreamWatcher
from lbconsole.snapshot import ClusterSnapshot, NodeSnapshot, Snapshot
from lbconsole.transport import expected_identity
from lbconsole.transport.local import LocalChannel
from lbconsole.transport.session import AgentSession
from support import free_port
from support.loopback_nginx import HttpServer, LoopbackNginx, SilentServer, get

CONF = """\
upstream backend {{
    server 127.0.0.1:{live} max_fails=2 fail_timeout=10s;
    server 127.0.0.1:{dead} max_fails=2 fail_timeout=10s;
    keepalive 4;
}}
server {{
    listen 127.0.0.1:{port};
    location = /nginx_status {{ stub_status; }}
    location / {{ proxy_pass http://backend; }}
}}
"""
SERVER_FIELDS = {"address", "port", "name", "weight", "max_fails", "fail_timeout", "backup", "down", "drain",
                 "failures", "probe_ok", "probe_ms"}


class AgentOpener:
    """What LocalOpener does, with an agent whose upstream watcher reads the loopback nginx."""

    mode = "in-process"

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    async def __call__(self) -> Any:
        return LocalChannel(self.agent)


@pytest.fixture
def site(tmp_path):
    live = HttpServer(200, b"app")
    dead = free_port()  # nothing listens there
    port = free_port()
    ngx = LoopbackNginx(tmp_path / "ngx", {"site.conf": CONF.format(live=live.port, dead=dead, port=port)})
    ngx.start(port)
    node = NodeConfig("web1", "local", ("nginx",), "c", nginx_status_url=f"http://127.0.0.1:{port}/nginx_status",
                      upstream_health=(("backend", "/health"),), peer_names=(("127.0.0.1", "app"),))
    watcher = UpstreamWatcher(Nginx(ngx.argv), record_dir=str(tmp_path / "records"), probe_timeout=1.0)
    agent = Agent(read_only=True, mode="local", upstreams=watcher)
    try:
        yield ngx, port, live, dead, node, agent
    finally:
        agent.close()
        ngx.stop()
        live.close()


def session(node: NodeConfig, agent: Agent) -> AgentSession:
    return AgentSession(node.name, AgentOpener(agent), connect_timeout=10, command_timeout=20,  # type: ignore[arg-type]
                        describe="local", expected=expected_identity(), read_only=True)


async def test_live_and_dead_servers_probes_and_logged_failures_reach_status(site):
    ngx, port, live, dead, node, agent = site
    s = session(node, agent)
    try:
        first = await collector.collect(node, s)
        assert first.reachable and first.error is None, first.error
        (backend,) = first.upstreams
        rows = {srv.port: srv for srv in backend.servers}
        assert backend.name == "backend" and backend.keepalive == 4 and set(rows) == {live.port, dead}
        assert (rows[live.port].state, rows[live.port].probe_ok, rows[live.port].name) == ("up", True, "app")
        assert rows[live.port].probe_ms is not None and rows[live.port].probe_ms >= 0
        assert (rows[dead].state, rows[dead].probe_ok) == ("failing", False)  # the probe found it dead
        assert (rows[dead].max_fails, rows[dead].fail_timeout, rows[dead].down) == (2, 10, False)
        assert "/health" in live.paths  # an HTTP GET of the inventory's health path, from the node
        assert [u.listen for u in backend.used_by] == [(f"127.0.0.1:{port}",)]

        for _ in range(6):
            assert get(port, "/") == 200  # nginx tries the dead server, logs it, and serves from the live one
        failures = {live.port: 0, dead: 0}
        snap = first
        for _ in range(20):  # each poll counts the failures logged since the last one
            snap = await collector.collect(node, s, snap)
            for srv in snap.upstreams[0].servers:
                failures[srv.port] += srv.failures
            if failures[dead]:
                break
            await asyncio.sleep(0.1)
        assert failures[dead] >= 1 and failures[live.port] == 0
    finally:
        await s.close()

    out = json.loads(json.dumps(Snapshot(time.time(), (ClusterSnapshot("c", (snap,)),)).to_dict()))
    [web1] = out["clusters"][0]["nodes"]
    [up] = web1["upstreams"]
    assert up["name"] == "backend" and {"keepalive", "no_live", "used_by"} <= set(up)
    assert all(set(srv) == SERVER_FIELDS for srv in up["servers"])
    dead_row = next(srv for srv in up["servers"] if srv["port"] == dead)
    assert dead_row["probe_ok"] is False and dead_row["drain"] is None and dead_row["name"] == "app"
    assert Snapshot.from_dict(out).clusters[0].nodes[0].upstreams == snap.upstreams  # a recording replays

    text = status.render_text(Snapshot(time.time(), (ClusterSnapshot("c", (snap,)),)))
    assert "    upstream backend keepalive 4" in text
    [dead_line] = [ln for ln in text.splitlines() if f"127.0.0.1:{dead})" in ln]
    assert "FAILING" in dead_line and "probe FAILED" in dead_line
    [live_line] = [ln for ln in text.splitlines() if f"127.0.0.1:{live.port})" in ln]
    assert " up " in live_line and "probe ok" in live_line


async def test_a_config_nginx_cannot_read_is_that_part_error_and_the_rest_counts(site):
    ngx, port, _, _, node, agent = site
    (ngx.dir / "conf.d" / "zz.conf").write_text("upstream {\n")
    s = session(node, agent)
    try:
        snap = await collector.collect(node, s)
    finally:
        await s.close()
    assert snap.reachable and snap.upstreams is None and snap.nginx is not None  # never an all-clear
    assert snap.error.startswith("upstreams: nginx -T failed")


def test_upstream_health_of_the_wrong_shape_is_a_bad_request(site):
    *_, agent = site
    for bad in (["backend"], {"backend": 3}, {"backend": "health"}, {"backend": "/a b"}):
        r = agent.handle({"id": 1, "verb": "snapshot", "args": {"roles": ["nginx"], "upstream_health": bad}})
        assert r["error"]["code"] == "bad_request" and "upstream_health" in r["error"]["message"], r


def test_a_node_without_upstreams_gives_an_empty_list(tmp_path):
    port = free_port()
    ngx = LoopbackNginx(tmp_path / "ngx", {"site.conf": f"server {{ listen 127.0.0.1:{port}; }}\n"})
    ngx.start(port)
    agent = Agent(upstreams=UpstreamWatcher(Nginx(ngx.argv), record_dir=str(tmp_path / "rec")))
    try:
        r = agent.handle({"id": 1, "verb": "snapshot", "args": {"roles": ["nginx"]}})["result"]
        node = NodeSnapshot("web1", "local", ("nginx",))
        assert "upstreams" not in r["errors"] and r["upstreams"]["read"]["upstreams"] == []
        assert collector.from_result(NodeConfig("web1", "local", ("nginx",), "c"), r, time.time()).upstreams == ()
        assert node.upstreams is None  # not read is None; read and empty is ()
        # not an nginx node: no part at all
        r = agent.handle({"id": 2, "verb": "snapshot", "args": {"roles": ["backend"]}})["result"]
        assert r["upstreams"] is None and "upstreams" not in r["errors"]
    finally:
        agent.close()
        ngx.stop()


def test_steady_polls_start_no_process_nor_thread_and_a_config_change_is_read(tmp_path):
    live = SilentServer()  # the TCP probe connects; one accepting thread, none per connection
    port = free_port()
    site = f"upstream backend {{ server 127.0.0.1:{live.port}; }}\nserver {{ listen 127.0.0.1:{port}; }}\n"
    ngx = LoopbackNginx(tmp_path / "ngx", {"site.conf": site})
    ngx.start(port)
    watcher = UpstreamWatcher(Nginx(ngx.argv), record_dir=str(tmp_path / "rec"), probe_timeout=1.0)
    agent = Agent(upstreams=watcher)

    def names() -> list[str]:
        r = agent.handle({"id": 1, "verb": "snapshot", "args": {"roles": ["nginx"]}})["result"]
        assert "upstreams" not in r["errors"], r["errors"]
        return [u["name"] for u in r["upstreams"]["read"]["upstreams"]]

    try:
        assert names() == ["backend"] and names() == ["backend"]  # the second read proves the files stood still
        dumps, threads = watcher.dumps, {t.ident for t in threading.enumerate()}
        for _ in range(5):
            assert names() == ["backend"]
        assert watcher.dumps == dumps  # no `nginx -T`
        assert {t.ident for t in threading.enumerate()} == threads  # the probe worker is kept, none started

        (ngx.dir / "conf.d" / "more.conf").write_text(f"upstream other {{ server 127.0.0.1:{live.port}; }}\n")
        assert sorted(names()) == ["backend", "other"]  # a new file where a wildcard include looks
        site_conf = ngx.dir / "conf.d" / "site.conf"
        site_conf.write_text(site.replace("upstream backend", "upstream renamed"))
        assert sorted(names()) == ["other", "renamed"]  # a file of the dump edited in place
        site_conf.write_text(site + "upstream {\n")
        r = agent.handle({"id": 1, "verb": "snapshot", "args": {"roles": ["nginx"]}})["result"]
        assert r["upstreams"] is None and r["errors"]["upstreams"].startswith("nginx -T failed")
    finally:
        agent.close()
        ngx.stop()
        live.close()


def test_a_probe_round_slower_than_the_wait_is_said_and_the_snapshot_not_held(tmp_path, monkeypatch):
    from lbconsole.node import snapshot as node_snapshot

    monkeypatch.setattr(node_snapshot, "UPSTREAM_MAX_WAIT_S", 0.2)
    hung = SilentServer()  # accepts, never answers the health GET
    port = free_port()
    ngx = LoopbackNginx(tmp_path / "ngx", {"site.conf": f"upstream backend {{ server 127.0.0.1:{hung.port}; }}\n"
                                                        f"server {{ listen 127.0.0.1:{port}; }}\n"})
    ngx.start(port)
    agent = Agent(upstreams=UpstreamWatcher(Nginx(ngx.argv), record_dir=str(tmp_path / "rec"), probe_timeout=1.5))
    args = {"roles": ["nginx"], "upstream_health": {"backend": "/health"}}
    try:
        started = time.monotonic()
        r = agent.handle({"id": 1, "verb": "snapshot", "args": args})["result"]
        assert time.monotonic() - started < 1.4  # not held up by the round
        assert r["upstreams"]["probes_stale"] is True and r["upstreams"]["probes"] == []
        assert any("did not finish within 0.2 s" in w and "(none yet)" in w for w in r["warnings"]), r["warnings"]
        time.sleep(1.6)  # the round ends: timed out
        r = agent.handle({"id": 2, "verb": "snapshot", "args": args})["result"]
        [probe] = r["upstreams"]["probes"]
        assert probe["ok"] is False and probe["peer"] == f"127.0.0.1:{hung.port}"
    finally:
        agent.close()
        ngx.stop()
        hung.close()
