"""A real nginx on loopback writes upstream failures; the follower counts each once, across rotation."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from lbconsole.node import nginx_conf, upstream_conf
from lbconsole.node.upstream_log import ErrorLogs
from support import free_port
from support.loopback_nginx import LoopbackNginx, SilentServer, get

SITE = """\
upstream dead {{ server 127.0.0.1:{a} max_fails=1 fail_timeout=30s; server 127.0.0.1:{b} max_fails=1; }}
upstream slow {{ server 127.0.0.1:{slow}; }}
server {{
    listen 127.0.0.1:{port};
    proxy_connect_timeout 2s;
    proxy_read_timeout 1s;
    location /dead {{ proxy_pass http://dead; }}
    location /slow {{ proxy_pass http://slow; }}
}}
"""


@pytest.fixture
def setup(tmp_path):
    silent = SilentServer()
    port, a, b = free_port(), free_port(), free_port()  # a and b: nothing listens there
    ngx = LoopbackNginx(tmp_path / "ngx", {"site.conf": SITE.format(a=a, b=b, slow=silent.port, port=port)})
    ngx.start(port)
    dump = subprocess.run(ngx.argv + ["-T"], capture_output=True, text=True, timeout=30, check=True).stdout
    read = upstream_conf.read(nginx_conf.Config.from_dump(dump))
    peers = [p for u in read["upstreams"] for s in u["servers"] for p in s["peers"]]
    logs = ErrorLogs(read["error_logs"])
    assert read["error_logs"] == [str(ngx.error_log)]
    try:
        yield ngx, port, logs, peers, (f"127.0.0.1:{a}", f"127.0.0.1:{b}", f"127.0.0.1:{silent.port}")
    finally:
        ngx.stop()
        silent.close()
        logs.close()


def settle_poll(logs: ErrorLogs, peers: list[str], want_lines: int) -> dict:
    """nginx writes its log from the worker right after the response: wait until it is there."""
    deadline, total = time.monotonic() + 5, None
    merged: dict = {"servers": {}, "upstreams": {}, "lines": 0}
    while time.monotonic() < deadline:
        got = logs.poll(peers)
        merged["lines"] += got["lines"]
        for peer, kinds in got["servers"].items():
            for k, n in kinds.items():
                merged["servers"].setdefault(peer, {})[k] = merged["servers"].get(peer, {}).get(k, 0) + n
        for name, n in got["upstreams"].items():
            merged["upstreams"][name] = merged["upstreams"].get(name, 0) + n
        total = merged["lines"]
        if total >= want_lines:
            break
        time.sleep(0.05)
    return merged


def test_refused_disabled_no_live_and_timed_out_each_counted_once(setup):
    _, port, logs, peers, (a, b, slow) = setup
    assert logs.poll(peers)["lines"] == 0  # starts at the end of the log
    assert get(port, "/dead") == 502  # both servers refused, both disabled (max_fails=1)
    assert get(port, "/dead") == 502  # no live upstreams
    assert get(port, "/slow") == 504  # accepted, never answered: timed out
    got = settle_poll(logs, peers, 6)
    assert got["servers"] == {a: {"connect": 1, "disabled": 1}, b: {"connect": 1, "disabled": 1},
                              slow: {"timeout": 1}}
    assert got["upstreams"] == {"dead": 1}
    assert logs.poll(peers)["lines"] == 0  # nothing twice


def test_rotation_by_rename_and_usr1_loses_and_doubles_nothing(setup):
    ngx, port, logs, peers, (_, _, slow) = setup
    logs.poll(peers)
    os.rename(ngx.error_log, str(ngx.error_log) + ".1")  # logrotate's rename
    assert get(port, "/slow") == 504  # written to the renamed file: nginx has not reopened yet
    first = settle_poll(logs, peers, 1)
    assert first["servers"] == {slow: {"timeout": 1}}
    subprocess.run(ngx.argv + ["-s", "reopen"], check=True, timeout=10)  # USR1
    deadline = time.monotonic() + 5
    while not ngx.error_log.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert get(port, "/slow") == 504  # now in the new file
    second = settle_poll(logs, peers, 1)
    assert second["servers"] == {slow: {"timeout": 1}}
    assert logs.poll(peers)["lines"] == 0


def test_truncation_in_place_counts_what_follows(setup):
    ngx, port, logs, peers, (_, _, slow) = setup
    logs.poll(peers)
    assert get(port, "/slow") == 504
    assert settle_poll(logs, peers, 1)["servers"] == {slow: {"timeout": 1}}
    os.truncate(ngx.error_log, 0)  # copytruncate: nginx keeps writing at its O_APPEND end
    assert get(port, "/slow") == 504
    assert settle_poll(logs, peers, 1)["servers"] == {slow: {"timeout": 1}}
