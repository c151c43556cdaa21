"""Probes against real loopback servers: live, failing, refusing, silent, IPv6 and unix sockets."""

from __future__ import annotations

import socket
import time

import pytest

from lbconsole.node.upstream_probe import Prober, Target, probe_all
from support import free_port
from support.loopback_nginx import HttpServer, SilentServer


@pytest.fixture
def servers():
    ok, bad, silent = HttpServer(200), HttpServer(503), SilentServer()
    yield ok, bad, silent
    ok.close()
    bad.close()
    silent.close()


def test_http_and_tcp_probes_say_what_they_saw(servers):
    ok, bad, silent = servers
    closed = free_port()
    got = probe_all([Target(f"127.0.0.1:{ok.port}", "/health", "app1.example"),
                     Target(f"127.0.0.1:{bad.port}", "/health"),
                     Target(f"127.0.0.1:{closed}"),
                     Target(f"127.0.0.1:{silent.port}"),
                     Target(f"127.0.0.1:{silent.port}", "/health")], timeout=1.0)
    assert [(r["ok"], r["status"]) for r in got] == [(True, 200), (False, 503), (False, None), (True, None),
                                                     (False, None)]
    assert got[0]["ms"] is not None and got[0]["ms"] >= 0 and ok.paths == ["/health"]
    assert got[1]["error"] == "HTTP 503"
    assert "refused" in got[2]["error"].lower() and got[2]["ms"] is None
    assert got[3]["ms"] is not None  # a TCP probe needs only the connect
    assert got[4]["error"] == "timed out after 1 s"
    assert [r["peer"] for r in got][2] == f"127.0.0.1:{closed}"


def test_ipv6_and_unix_socket_peers(tmp_path):
    six = socket.socket(socket.AF_INET6)
    six.bind(("::1", 0))
    six.listen()
    path = str(tmp_path / "app.sock")
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(path)
    unix.listen()
    try:
        got = probe_all([Target(f"[::1]:{six.getsockname()[1]}"), Target(f"unix:{path}"),
                         Target(f"unix:{tmp_path}/missing.sock")], timeout=1.0)
    finally:
        six.close()
        unix.close()
    assert [r["ok"] for r in got] == [True, True, False]
    assert "No such file" in got[2]["error"]


def test_a_round_of_black_holes_takes_one_timeout_not_one_each(servers):
    _, _, silent = servers
    targets = [Target(f"127.0.0.1:{silent.port}", "/h") for _ in range(20)]
    start = time.monotonic()
    got = probe_all(targets, timeout=0.5)
    assert all(r["error"] == "timed out after 0.5 s" for r in got)
    assert time.monotonic() - start < 5  # 20 one after another would be 10 s


def test_more_targets_than_sockets_in_flight_all_answered(servers):
    _, _, listener = servers  # accepts at once, with a backlog larger than the sockets in flight
    got = probe_all([Target(f"127.0.0.1:{listener.port}")] * 50, timeout=2.0, max_in_flight=7)
    assert len(got) == 50 and all(r["ok"] for r in got)


def test_submit_returns_at_once_and_the_future_holds_the_round(servers):
    ok, _, silent = servers
    prober = Prober()
    future = prober.submit([Target(f"127.0.0.1:{silent.port}", "/h"), Target(f"127.0.0.1:{ok.port}", "/")],
                           timeout=1.0)
    assert not future.done()  # the caller goes on with other work
    got = future.result(timeout=10)
    assert [r["ok"] for r in got] == [False, True]


def test_a_bad_health_path_is_refused_up_front():
    with pytest.raises(ValueError, match="health path"):
        Target("127.0.0.1:80", "/x HTTP/1.1\r\nHost: evil")
    with pytest.raises(ValueError, match="health path"):
        Target("127.0.0.1:80", "health")
