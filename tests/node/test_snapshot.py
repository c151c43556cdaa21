"""The snapshot verb on a real node (namespaces made here): nginx, addresses, host stats, the
drain and forced records, and IPVS where this kernel has none."""

from __future__ import annotations

import json
from pathlib import Path

from lbconsole.node import records
from node.nodeenv import start_bootstrap, start_installed, start_nginx

NGINX_FIELDS = {"active", "accepts", "handled", "requests", "reading", "writing", "waiting", "requests_per_s",
                "conns_per_s"}
HOST_FIELDS = {"load1", "load5", "load15", "cpu_percent", "mem_percent", "mem_total", "cpus", "uptime_s",
               "cpu_busy", "cpu_total"}
TOP_FIELDS = {"sampled_at", "ipvs", "vrrp", "keepalived_running", "nginx", "host_stats", "addresses", "drains",
              "forced", "warnings", "errors", "upstreams"}


def test_nginx_stub_status_from_the_node(node, program_file, sessions):
    start_nginx(node)
    s = start_installed(node, program_file)
    sessions.append(s)
    args = {"roles": ["nginx"], "nginx_status_url": "http://127.0.0.1:8080/nginx_status"}
    first = s.request("snapshot", args)["result"]
    second = s.request("snapshot", args)["result"]
    assert set(first) == TOP_FIELDS
    assert set(first["nginx"]) == NGINX_FIELDS and first["errors"] == {}
    assert second["nginx"]["requests"] == first["nginx"]["requests"] + 1  # our own request counts
    assert first["nginx"]["writing"] >= 1
    assert first["ipvs"] == [] and first["drains"] == []  # not a director
    assert first["vrrp"] == [] and first["keepalived_running"] is False  # no keepalived here: normal
    # an nginx with no upstream block: an empty list, not an error
    assert first["upstreams"]["read"]["upstreams"] == [] and first["upstreams"]["probes"] == []


def test_hostile_nginx_body_changes_nothing_but_its_field(node, program_file, sessions):
    start_nginx(node)
    for s in (start_installed(node, program_file), start_bootstrap(node)):
        sessions.append(s)
        r = s.request("snapshot", {"roles": ["nginx"], "nginx_status_url": "http://127.0.0.1:8080/hostile"})
        res = r["result"]
        assert r["ok"] and res["nginx"] is None and res["vrrp"] == []
        assert res["errors"]["nginx"].startswith("not an nginx stub_status page: 'Active connections: 1")
        assert set(res["errors"]) == {"nginx"}
        for line in s.raw:
            msg = json.loads(line)
            assert "event" not in msg and msg.get("id") == r["id"]  # no forged message came through


def test_addresses_are_the_kernels(node, program_file, sessions):
    node.add_link()
    node.run(["ip", "addr", "add", "10.98.0.11/24", "dev", "eth0"])
    node.run(["ip", "addr", "add", "10.98.0.100/32", "dev", "eth0"])
    node.run(["ip", "addr", "add", "2001:db8::11/64", "dev", "eth0", "nodad"])
    s = start_installed(node, program_file)
    sessions.append(s)
    got = s.request("snapshot", {"roles": []})["result"]["addresses"]
    want = [{"interface": link["ifname"], "address": a["local"], "family": a["family"]}
            for link in json.loads(node.run(["ip", "-j", "addr"]).stdout) for a in link.get("addr_info", [])
            if a.get("family") in ("inet", "inet6")]
    assert got == want
    assert {"interface": "eth0", "address": "10.98.0.100", "family": "inet"} in got


def test_host_stats_read_from_proc(node, program_file, sessions):
    s = start_installed(node, program_file)
    sessions.append(s)
    first = s.request("snapshot", {"roles": []})["result"]["host_stats"]
    second = s.request("snapshot", {"roles": []})["result"]["host_stats"]
    assert set(first) == HOST_FIELDS
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    assert first["mem_total"] == int(meminfo["MemTotal"].split()[0]) * 1024
    stat = Path("/proc/stat").read_text().splitlines()
    assert first["cpus"] == len([ln for ln in stat if ln[:3] == "cpu" and ln[3].isdigit()])
    assert 0 < first["uptime_s"] <= second["uptime_s"]
    assert second["cpu_total"] >= first["cpu_total"] and 0 <= second["cpu_percent"] <= 100


def test_director_records_and_ipvs_without_ip_vs(node, program_file, sessions):
    drain = {"service": "10.98.0.100:80", "real_server": "10.98.0.21:80", "weight": 100,
             "reason": "disk \"swap\"\n$(reboot)", "by": "ops@console", "since": 1796000000.5}
    forced = {"instance": "VI_1", "mode": "stopped", "by": "ops@console", "since": 1796000001.0,
              "systemd": False, "argv": ["keepalived", "-D"]}
    for path, rec in ((records.drain_path(drain["service"], drain["real_server"]), drain),
                      (records.forced_path("VI_1"), forced)):
        target = node.path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(rec) + "\n")
    node.path(records.DRAIN_DIR + "/broken.json").write_text("{not json")
    s = start_installed(node, program_file)
    sessions.append(s)
    res = s.request("snapshot", {"roles": ["director"]})["result"]
    assert res["drains"] == [drain] and res["forced"] == [forced]
    assert res["warnings"] == [f"{records.DRAIN_DIR}/broken.json is not a JSON record"]
    # This kernel has no ip_vs: the part says so, the others still count.
    assert res["ipvs"] is None and res["errors"]["ipvs"] == "the ip_vs kernel module is not loaded"
    assert res["errors"]["vrrp"] == "keepalived is not running (no /run/keepalived.pid)"
    assert res["keepalived_running"] is False and res["vrrp"] is None
    assert res["host_stats"] is not None and res["addresses"]


def test_bootstrap_and_polls_write_no_file_on_the_node(node, program_file, sessions):
    start_nginx(node)

    def files() -> set[str]:
        out = set()
        for top in ("/run", "/tmp", "/var/lib/lbconsole"):
            out |= {str(p) for p in node.path(top).rglob("*") if "nginx" not in p.name}
        return out

    before = files()
    s = start_bootstrap(node)
    sessions.append(s)
    assert s.request("hello")["result"]["mode"] == "bootstrap"
    for _ in range(3):
        assert s.request("snapshot", {"roles": ["nginx"], "nginx_status_url": "http://127.0.0.1:8080/nginx_status"})[
            "result"]["nginx"] is not None
    assert s.close() == 0
    assert files() == before
