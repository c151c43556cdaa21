"""The local transport: the real poll script run on this host, against a real nginx on loopback."""

from __future__ import annotations

import subprocess
import time
import urllib.request

import pytest

from lbconsole.collectors import node as collector
from lbconsole.inventory import NodeConfig
from lbconsole.transport.local import LocalTransport
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
    transport = LocalTransport(node)
    first = await collector.collect(node, transport)
    for _ in range(5):
        urllib.request.urlopen(nginx.replace("nginx_status", ""), timeout=2).read()
    second = await collector.collect(node, transport, first)
    assert first.reachable and first.error is None, first.error
    assert second.nginx.requests >= first.nginx.requests + 6  # 5 requests + its own status fetch
    assert second.nginx.requests_per_s > 0
    assert second.host_stats.cpus >= 1 and second.host_stats.mem_total > 0
    assert any(a.interface == "lo" and a.address == "127.0.0.1" for a in second.addresses)


async def test_local_director_without_ip_vs_says_so(nginx):
    # This kernel has no ip_vs: the node still answers, and its error says why IPVS is empty.
    node = NodeConfig("here", "local", ("director",), "local")
    snap = await collector.collect(node, LocalTransport(node))
    assert snap.reachable and snap.ipvs == ()
    assert "ipvs:" in snap.error and "ip_vs" in snap.error


async def test_dead_status_url_is_that_node_error(nginx):
    node = NodeConfig("here", "local", ("nginx",), "local", nginx_status_url=f"http://127.0.0.1:{free_port()}/x")
    snap = await collector.collect(node, LocalTransport(node))
    assert snap.reachable and snap.nginx is None and snap.error.startswith("nginx:")
