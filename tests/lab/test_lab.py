"""The lab itself, real and unmocked: seen from the ops namespace over SSH, as lbconsole sees it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from lbconsole.lab import api
from lbconsole.lab import topology as t

pytestmark = pytest.mark.lab
WEBS = [n.name for n in t.WEB_NODES]
BACKEND_HELLOS = {f"hello from {b.name}\n" for b in t.BACKENDS}
REPO = Path(__file__).resolve().parents[2]


def lab_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lbconsole", "lab", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO)


def ipvs_services(text: str) -> dict[str, list[tuple[str, str, int]]]:
    """`ipvsadm -Ln` -> {"TCP 10.99.0.100:80 wlc ...": [(real server, forward, weight)]}."""
    services: dict[str, list] = {}
    current = None
    for line in text.splitlines():
        words = line.split()
        if words[:1] in (["TCP"], ["UDP"], ["FWM"]):
            current = " ".join(words)
            services[current] = []
        elif words[:1] == ["->"] and current and words[1] != "RemoteAddress:Port":
            services[current].append((words[1], words[2], int(words[3])))
    return services


def test_ipvsadm_on_lb1_lists_both_services_with_the_nginx_nodes(lab):
    out = api.run("lb1", "ipvsadm -Ln", check=True).stdout
    services = ipvs_services(out)
    assert set(services) == {f"TCP {t.VIP}:80 wlc", f"TCP {t.VIP}:8080 wlc persistent 300"}, out
    for name, reals in services.items():
        port = name.split(":")[1].split()[0]
        assert sorted(reals) == [(f"{n.ip}:{port}", "Route", 100) for n in t.WEB_NODES], out


def _states() -> dict[str, int]:
    return {d.name: json.loads(api.keepalived_dump(d.name))[0]["data"]["state"] for d in t.DIRECTORS}


def test_lb1_is_master_with_the_vip_and_lb2_backup(lab):
    addrs = {d.name: json.loads(api.run(d.name, "ip -j addr show dev eth0", check=True).stdout)
             for d in t.DIRECTORS}
    local = {name: {a["local"] for a in js[0]["addr_info"]} for name, js in addrs.items()}
    assert t.VIP in local["lb1"] and t.VIP not in local["lb2"]
    assert _states() == {"lb1": 2, "lb2": 1}  # 2 MASTER, 1 BACKUP
    data = api.keepalived_dump("lb2", "data")
    assert re.search(r"VRRP Instance = VI_1\s+.*?State = BACKUP", data, re.S), data[:2000]


def _stub_requests(web: str) -> int:
    out = api.run(web, "curl -s http://127.0.0.1/nginx_status", check=True).stdout
    return int(out.splitlines()[2].split()[2])


def _backend_hits() -> dict[str, int]:
    """Requests each web node forwarded, summed over every backend's access log."""
    log = "".join(api.run(b.name, "cat /var/log/nginx/access.log", check=True).stdout for b in t.BACKENDS)
    return {n.name: sum(1 for line in log.splitlines() if line.startswith(n.ip + " ")) for n in t.WEB_NODES}


def _wlc_spread() -> int:
    """How many requests wlc would send elsewhere before the busiest real server of :80 gets one:
    earlier tests leave unequal (in)active connection counts for up to two minutes."""
    out = api.run("lb1", f"ipvsadm -Ln -t {t.VIP}:80", check=True).stdout
    rows = [line.split() for line in out.splitlines() if line.split()[:1] == ["->"] and ":80" in line]
    loads = [int(r[4]) * 256 + int(r[5]) for r in rows if r[3] == "100"]  # wlc's overhead per server
    return sum(max(loads) - x for x in loads) if len(loads) == len(WEBS) else 10**6


def test_thirty_requests_reach_every_nginx_node_and_the_backend(lab):
    from support import wait_for

    wait_for(lambda: _states() == {"lb1": 2, "lb2": 1}, 30, 1, "lb1 MASTER, lb2 BACKUP")
    wait_for(lambda: _wlc_spread() <= 20, 150, 2, "wlc to have no server more than 20 connections behind")
    before = {w: _stub_requests(w) for w in WEBS}
    hits_before = _backend_hits()
    out = api.run("client", f"for i in $(seq 30); do curl -s -m 10 --retry 2 -D - -o /dev/null http://{t.VIP}/ "
                            "|| echo \"curl failed: $?\"; done", check=True, timeout=200).stdout
    assert "curl failed" not in out, out
    served = re.findall(r"^X-Served-By: (\S+)", out, re.M | re.I)
    assert len(served) == 30 and out.count(" 200 ") == 30, out
    assert set(served) == set(WEBS)
    after = {w: _stub_requests(w) for w in WEBS}
    hits_after = _backend_hits()
    for w in WEBS:
        # stub_status counts each of its own fetches too, hence > rather than an exact sum.
        assert after[w] > before[w] + served.count(w) - 1, (w, before, after)
        assert hits_after[w] - hits_before[w] == served.count(w), (w, hits_before, hits_after)


def test_ops_netns_reaches_nodes_in_process(lab):
    import os
    import socket

    here = os.stat("/proc/thread-self/ns/net").st_ino
    with api.in_ops_netns():
        assert os.stat("/proc/thread-self/ns/net").st_ino == os.stat(f"/run/netns/{t.OPS_NS}").st_ino
        sock = socket.create_connection((t.node("web1").ip, 80), timeout=5)
    # Back in the original namespace (never probe lab addresses from it: they route elsewhere).
    assert os.stat("/proc/thread-self/ns/net").st_ino == here
    with sock:  # the socket stays in lbc-ops
        sock.sendall(b"GET /health HTTP/1.0\r\n\r\n")
        assert sock.recv(200).startswith(b"HTTP/1.1 200")


def test_inventory_is_the_contract(lab):
    data = tomllib.loads(Path(lab).read_text())
    assert data["defaults"] == {"user": "root", "port": 22, "identity": str(t.IDENTITY),
                                "known_hosts": str(t.KNOWN_HOSTS), "sudo": False, "poll_interval": 1.0,
                                "connect_timeout": 60}
    (cluster,) = data["cluster"]
    assert cluster["name"] == "lab"
    assert {n["name"]: (n["host"], n["roles"]) for n in cluster["node"]} == {
        "lb1": ("10.99.0.11", ["director"]), "lb2": ("10.99.0.12", ["director"]),
        "web1": ("10.99.0.21", ["nginx"]), "web2": ("10.99.0.22", ["nginx"]),
        "web3": ("10.99.0.23", ["nginx"]), "app1": ("10.99.0.31", ["backend"]),
        "app2": ("10.99.0.32", ["backend"])}
    assert cluster["upstream"] == [{"name": "backend", "health_path": "/health"}]
    # lb2 is reached by a non-root account with only the sudoers drop-in; the others as root.
    assert {n["name"]: (n.get("user"), n.get("sudo")) for n in cluster["node"] if "user" in n} == {
        "lb2": (t.SUDO_USER, True)}
    known = t.KNOWN_HOSTS.read_text()
    assert all(f"{n.ip} ssh-ed25519 " in known for n in t.NODES)


def test_lab_status_and_inventory_commands(lab):
    status = lab_cli("status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "lab is up" in status.stdout and f"VIP {t.VIP} held by: lb1\n" in status.stdout
    inventory = lab_cli("inventory")
    assert inventory.returncode == 0
    assert inventory.stdout.splitlines()[-1] == str(lab)
    again = lab_cli("up")
    assert again.returncode == 0 and "already up" in again.stdout


def test_exec_passes_output_and_exit_code_through(lab):
    res = lab_cli("exec", "lb2", "hostname; echo oops >&2; exit 3")
    assert (res.returncode, res.stdout, res.stderr) == (3, "lb2\n", "oops\n")
    res = lab_cli("exec", "client", "ip -o -4 addr show dev eth0")
    assert res.returncode == 0 and "10.99.0.50/24" in res.stdout


def test_daemons_stop_and_start_out_of_band(lab):
    api.stop_daemon("lb2", "sshd")  # in the VM: only the control queue can start it again
    try:
        assert api.run("lb2", "true", ssh=True).returncode == 255
    finally:
        api.start_daemon("lb2", "sshd")
    assert api.run("lb2", "hostname", check=True, ssh=True).stdout == "lb2\n"
    api.stop_daemon("web3", "nginx")
    try:
        assert not api.daemon_running("web3", "nginx")
    finally:
        api.start_daemon("web3", "nginx")
    assert api.daemon_running("web3", "nginx")


def test_blocking_vrrp_makes_both_directors_master(lab):
    from support import wait_for

    api.block_vrrp(True)
    try:
        assert api.vrrp_blocked()
        wait_for(lambda: _states() == {"lb1": 2, "lb2": 2}, 20, 0.5, "both MASTER")
        assert api.run("client", f"curl -s -m 5 http://{t.VIP}/", check=True).stdout in BACKEND_HELLOS
    finally:
        api.block_vrrp(False)
    wait_for(lambda: _states() == {"lb1": 2, "lb2": 1}, 30, 0.5, "lb1 MASTER, lb2 BACKUP again")
