"""`lbconsole status --json` against the real lab equals what the daemons say directly."""

from __future__ import annotations

import json

import pytest

from lbconsole.lab import api
from support import lbconsole_in_ops

pytestmark = pytest.mark.lab

STATES = {0: "INIT", 1: "BACKUP", 2: "MASTER", 3: "FAULT", 98: "STOP"}


def status(inventory) -> tuple[int, dict, str]:
    proc = lbconsole_in_ops("status", "--inventory", str(inventory), "--json")
    return proc.returncode, json.loads(proc.stdout), proc.stdout + proc.stderr


def nodes_of(snap: dict) -> dict[str, dict]:
    return {n["name"]: n for c in snap["clusters"] for n in c["nodes"]}


def keepalived_json(node: str) -> list:
    return json.loads(api.keepalived_dump(node, "json"))


def ipvsadm_save(node: str) -> set[tuple[str, str, int]]:
    """(service, real server, weight) from `ipvsadm -Sn`, a format our parser never reads."""
    rows = set()
    for line in api.run(node, "ipvsadm -Sn", check=True).stdout.splitlines():
        words = line.split()
        if words[:1] == ["-a"]:
            rows.add((words[2], words[4], int(words[words.index("-w") + 1])))
    return rows


def test_status_matches_ipvsadm_keepalived_and_stub_status(lab):
    for _web in ("web1", "web2", "web3"):
        api.run("client", "for i in 1 2 3 4 5 6; do curl -s -o /dev/null http://10.99.0.100/; done")
    before = {w: api.run(w, "curl -s http://127.0.0.1/nginx_status", check=True).stdout
              for w in ("web1", "web2", "web3")}
    code, snap, raw = status(lab)
    after = {w: api.run(w, "curl -s http://127.0.0.1/nginx_status", check=True).stdout
             for w in ("web1", "web2", "web3")}
    assert code == 0, raw
    assert api.VRRP_PASSWORD not in raw  # the VRRP password never leaves the node
    nodes = nodes_of(snap)
    assert all(n["reachable"] and n["error"] is None for n in nodes.values()), raw

    for director in ("lb1", "lb2"):
        node = nodes[director]
        ours = {(s["address"] + ":" + str(s["port"]), rs["address"] + ":" + str(rs["port"]), rs["weight"])
                for s in node["ipvs"] for rs in s["real_servers"]}
        assert ours == ipvsadm_save(director)
        assert {s["port"]: s["persistent"] for s in node["ipvs"]} == {80: False, 8080: True}
        assert all(rs["forward"] == "route" for s in node["ipvs"] for rs in s["real_servers"])
        direct = keepalived_json(director)
        assert [(v["data"]["iname"], v["data"]["vrid"], STATES[v["data"]["state"]],
                 v["data"]["effective_priority"]) for v in direct] == \
               [(i["instance"], i["vrid"], i["state"], i["effective_priority"]) for i in node["vrrp"]]
        assert node["nginx"] is None
    assert nodes["lb1"]["vrrp"][0]["state"] == "MASTER" and nodes["lb2"]["vrrp"][0]["state"] == "BACKUP"
    assert nodes["lb1"]["vrrp"][0]["vips"] == ["10.99.0.100"]

    lb1_svc = {s["port"]: s for s in nodes["lb1"]["ipvs"]}
    assert lb1_svc[80]["stats"]["conns"] >= 18  # the requests sent above were scheduled by lb1
    for web in ("web1", "web2", "web3"):
        ng = nodes[web]["nginx"]
        lo = [int(x) for x in before[web].splitlines()[2].split()]
        hi = [int(x) for x in after[web].splitlines()[2].split()]
        assert lo[2] < ng["requests"] < hi[2]  # each fetch counts itself
        assert lo[0] < ng["accepts"] < hi[0]
        assert nodes[web]["ipvs"] == [] and nodes[web]["vrrp"] == []
    assert snap["alerts"] == []


def test_status_text_and_exit_code(lab):
    proc = lbconsole_in_ops("status", "--inventory", str(lab))
    assert proc.returncode == 0, proc.stderr
    assert "lb1" in proc.stdout and "MASTER" in proc.stdout and "10.99.0.21:80" in proc.stdout


def test_status_does_not_import_textual(lab):
    code = ("import sys, io, contextlib; from lbconsole.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): rc = main(['status', '--json', '--inventory', "
            f"'{lab}'])\n"
            "assert 'textual' not in sys.modules, 'textual imported'; print('rc', rc)")
    import subprocess
    import sys

    proc = subprocess.run(["ip", "netns", "exec", "lbc-ops", sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "rc 0" in proc.stdout, proc.stderr
