"""The agent's `upstreams` snapshot part on a real loopback nginx, mapped to the console's rows."""

from __future__ import annotations

import pytest

from lbconsole import upstreams
from lbconsole.node import upstream_edit
from lbconsole.node.nginx_reload import Nginx
from lbconsole.node.upstream_snapshot import UpstreamWatcher
from support import free_port
from support.loopback_nginx import HttpServer, LoopbackNginx, get

CONF = """\
upstream backend {{ server 127.0.0.1:{a} max_fails=1; server 127.0.0.1:{b} max_fails=1; keepalive 4; }}
server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://backend; }} }}
"""


@pytest.fixture
def site(tmp_path):
    app1, app2 = HttpServer(200, b"app1"), HttpServer(200, b"app2")
    port = free_port()
    ngx = LoopbackNginx(tmp_path / "ngx", {"site.conf": CONF.format(a=app1.port, b=app2.port, port=port)})
    ngx.start(port)
    watcher = UpstreamWatcher(Nginx(ngx.argv), record_dir=str(tmp_path / "rec"),
                              state_file=str(tmp_path / "log-state.json"), probe_timeout=1.0)
    names = {"127.0.0.1": "loopback"}
    try:
        yield ngx, port, app1, app2, watcher, names
    finally:
        watcher.close()
        ngx.stop()
        app1.close()
        app2.close()


def rows(part: dict, names: dict) -> dict[str, upstreams.UpstreamServer]:
    (backend,) = upstreams.from_node({"upstreams": part["upstreams"]}, part["failures"], part["probes"],
                                     part["drains"], names)
    return {s.key: s for s in backend.servers}


def test_probes_failures_and_drains_reach_the_rows(site):
    ngx, port, app1, app2, watcher, names = site
    k1, k2 = f"127.0.0.1:{app1.port}", f"127.0.0.1:{app2.port}"
    part = watcher.snapshot({"backend": "/health"})
    assert part["error"] is None and not part["probes_stale"]
    r = rows(part, names)
    assert [(r[k].state, r[k].probe_ok, r[k].name) for k in (k1, k2)] == [("up", True, "loopback")] * 2
    assert app1.paths == ["/health"] and app2.paths == ["/health"]

    app2.close()  # app2's server stops: failing within one poll
    r = rows(watcher.snapshot({"backend": "/health"}), names)
    assert (r[k1].state, r[k2].state) == ("up", "failing")
    assert "refused" in str(next(p for p in watcher.finish(0)["probes"] if p["peer"] == k2)["error"]).lower()

    for _ in range(4):
        get(port, "/")  # traffic: nginx logs its failures with app2
    for _ in range(50):
        part = watcher.snapshot()
        if part["failures"]["servers"]:
            break
    assert part["failures"]["servers"][k2]["connect"] >= 1

    upstream_edit.drain(Nginx(ngx.argv), "backend", k1, "kernel", "ops", force=True, record_dir=watcher.record_dir)
    r = rows(watcher.snapshot(), names)
    assert r[k1].state == "drained" and r[k1].drain is not None and r[k1].drain.reason == "kernel"
    assert r[k1].probe_ok is None  # a drained server is not probed


def test_a_config_nginx_cannot_read_is_an_error_not_a_crash(site):
    ngx, _, _, _, watcher, _ = site
    (ngx.dir / "conf.d" / "zz.conf").write_text("upstream {\n")
    part = watcher.snapshot()
    assert part["upstreams"] is None and "nginx -T failed" in part["error"] and part["drains"] == []
