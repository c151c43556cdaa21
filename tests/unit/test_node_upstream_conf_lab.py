"""Upstreams from a real `nginx -T` of a lab web node (tests/fixtures/nginx_upstreams/lab_web1.T.txt, made by
capture_lab.py there): what the agent reads on web1, and what the console makes of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbconsole import inventory, upstreams
from lbconsole.lab import configs
from lbconsole.lab import topology as t
from lbconsole.node import nginx_conf, upstream_conf
from lbconsole.node.nginx_conf import Config

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nginx_upstreams"
SITE = "/etc/nginx/conf.d/lab.conf"


def no_lookup(host: str, port: int) -> list[str]:
    raise AssertionError(f"an address was looked up: {host}")  # the lab's servers are IP literals


@pytest.fixture(scope="module")
def dump() -> str:
    return (FIX / "lab_web1.T.txt").read_text()


@pytest.fixture(scope="module")
def result(dump: str) -> dict:
    return upstream_conf.read(Config.from_dump(dump), no_lookup)


def test_the_capture_is_the_lab_config_of_this_checkout(dump: str):
    """A stale capture would test a config the lab no longer has: re-run capture_lab.py when this fails."""
    files = dict(nginx_conf.split_dump(dump))
    web1 = t.node("web1")
    assert files["/etc/nginx/nginx.conf"] == configs.nginx_conf(web1)
    assert files[SITE] == configs.nginx_site(web1)
    assert "/etc/nginx/mime.types" in files  # the whole dump, includes and all, as nginx printed it


def test_the_backend_upstream_its_servers_and_keepalive(result: dict):
    (backend,) = result["upstreams"]
    assert (backend["name"], backend["context"], backend["file"], backend["line"]) == ("backend", "http", SITE, 2)
    assert backend["keepalive"] == 32
    rows = [(s["spec"], s["peers"], s["weight"], s["max_fails"], s["fail_timeout"], s["backup"], s["down"],
             s["line"]) for s in backend["servers"]]
    assert rows == [(f"{b.ip}:{t.BACKEND_PORT}", [f"{b.ip}:{t.BACKEND_PORT}"], 1, 2, 10, False, False, line)
                    for b, line in zip(t.BACKENDS, (3, 4))]
    assert all(s["file"] == SITE and s["error"] is None for s in backend["servers"])
    assert result["warnings"] == [] and result["dynamic_passes"] == []
    assert result["error_logs"] == ["/var/log/nginx/error.log"] and result["pid_file"] == "/run/nginx.pid"


def test_who_proxies_to_it(result: dict):
    (use,) = result["upstreams"][0]["used_by"]
    assert (use["server_name"], use["listen"], use["location"], use["directive"], use["value"]) == (
        ["web1"], ["80", "8080"], "/", "proxy_pass", "http://backend")
    assert (use["file"], use["line"]) == (SITE, 15)


def test_each_server_directive_ends_where_a_drain_puts_down(dump: str):
    """The drain inserts ` down` right before the directive's `;`: the offsets must land on it."""
    text = dict(nginx_conf.split_dump(dump))[SITE]
    servers = [d for d, parents in nginx_conf.walk(nginx_conf.parse(text, SITE))
               if d.name == "server" and parents and parents[-1].name == "upstream"]
    assert len(servers) == len(t.BACKENDS)
    for d in servers:
        assert text[d.end] == ";"
        assert text[d.start:d.end].startswith("server ") and text[d.start:d.end].endswith("fail_timeout=10s")


def test_the_console_names_the_servers_from_the_lab_inventory(result: dict):
    (cluster,) = inventory.parse(configs.inventory_toml()).clusters
    names = upstreams.inventory_names(cluster.nodes)
    probes = [{"peer": "10.99.0.31:8080", "ok": True, "ms": 0.4}, {"peer": "10.99.0.32:8080", "ok": False, "ms": None}]
    (up,) = upstreams.from_node(result, {"servers": {"10.99.0.32:8080": {"connect": 3}}}, probes, (), names)
    assert [(s.label, s.state, s.failures) for s in up.servers] == [
        ("app1 (10.99.0.31:8080)", "up", 0), ("app2 (10.99.0.32:8080)", "failing", 3)]
    # Every IPVS service port of the lab reaches this upstream: the no-live-server rule looks at both.
    assert up.listen_ports() == {port for port, _ in t.SERVICES}


def test_the_drained_capture_differs_by_one_down_and_reads_as_down(dump: str):
    """lab_web1_drained.T.txt: web1 while `lbconsole upstream drain backend app1` held, in the real lab."""
    drained = (FIX / "lab_web1_drained.T.txt").read_text()
    app1 = f"server {t.BACKENDS[0].ip}:{t.BACKEND_PORT} max_fails=2 fail_timeout=10s"
    assert drained == dump.replace(f"{app1};", f"{app1} down;")  # the smallest edit, nothing else
    (backend,) = upstream_conf.read(Config.from_dump(drained), no_lookup)["upstreams"]
    assert [(s["spec"], s["down"]) for s in backend["servers"]] == [
        (f"{b.ip}:{t.BACKEND_PORT}", b is t.BACKENDS[0]) for b in t.BACKENDS]
    record = {"upstream": "backend", "server": backend["servers"][0]["spec"], "reason": "r", "by": "u", "since": 1.0}
    (up,) = upstreams.from_node({"upstreams": [backend]}, None, (), [record])
    assert [s.state for s in up.servers] == ["drained", "up"] and up.has_live_server
