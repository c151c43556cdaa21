"""host = "local": the node agent in-process behind the same session, on this host and a real nginx on loopback."""

from __future__ import annotations

import asyncio
import subprocess
import time
import urllib.request

import pytest

from lbconsole.collectors import node as collector
from lbconsole.inventory import NodeConfig
from lbconsole.transport import AgentError, session_for
from support import free_port


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    d = tmp_path_factory.mktemp("nginx")
    port = free_port()
    temps = " ".join(f"{k}_temp_path {d}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (d / "nginx.conf").write_text(
        f"worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log; daemon off;\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{ access_log off; {temps}\n"
        f"  server {{ listen 127.0.0.1:{port}; location = /nginx_status {{ stub_status; }}\n"
        f"           location / {{ return 200 \"ok\\n\"; }} }} }}\n")
    proc = subprocess.Popen(["nginx", "-c", str(d / "nginx.conf"), "-p", str(d)], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/nginx_status"
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=0.2).read()
            break
        except OSError:
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(5)


async def test_local_node_reads_real_nginx_and_host(nginx):
    node = NodeConfig("here", "local", ("nginx",), "local", nginx_status_url=nginx)
    session = session_for(node)
    try:
        first = await collector.collect(node, session)
        for _ in range(5):
            urllib.request.urlopen(nginx.replace("nginx_status", ""), timeout=2).read()
        second = await collector.collect(node, session, first)
        hello = await session.request("hello")
        for _ in range(100):  # the session's own hello may answer after the snapshots (it hashes the program)
            if session.hello is not None:
                break
            await asyncio.sleep(0.1)
    finally:
        await session.close()
    assert session.mode == "in-process" and hello["mode"] == "local" and session.sessions_opened == 1
    assert first.reachable and first.error is None, first.error
    assert second.nginx.requests >= first.nginx.requests + 6  # 5 requests + its own status fetch
    assert second.nginx.requests_per_s > 0
    assert second.host_stats.cpus >= 1 and second.host_stats.mem_total > 0
    assert any(a.interface == "lo" and a.address == "127.0.0.1" for a in second.addresses)


async def test_local_director_without_ip_vs_says_so(nginx):
    # This kernel has no ip_vs: the node still answers, and its error says why IPVS is empty.
    node = NodeConfig("here", "local", ("director",), "local")
    session = session_for(node)
    snap = await collector.collect(node, session)
    await session.close()
    assert snap.reachable and snap.ipvs == ()
    assert "ipvs:" in snap.error and "ip_vs" in snap.error


async def test_dead_status_url_is_that_node_error(nginx):
    node = NodeConfig("here", "local", ("nginx",), "local", nginx_status_url=f"http://127.0.0.1:{free_port()}/x")
    session = session_for(node)
    snap = await collector.collect(node, session)
    await session.close()
    assert snap.reachable and snap.nginx is None and snap.error.startswith("nginx:")


async def test_local_read_only_agent_refuses_mutating_verbs():
    node = NodeConfig("here", "local", ("director",), "local")
    session = session_for(node, read_only=True)
    try:
        hello_first = await session.request("hello")
        with pytest.raises(AgentError) as err:
            await session.request("drain", {"service": "10.0.0.1:80", "real_servers": ["10.0.0.2:80"],
                                            "reason": "x", "by": "t"}, mutating=True)
    finally:
        await session.close()
    assert hello_first["read_only"] is True and err.value.code == "read_only"
