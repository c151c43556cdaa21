"""The agent on the lab's directors (qemu VM with ip_vs), started the bootstrap way over SSH
from the ops namespace: IPVS read over netlink on the node, and drain / undrain applied,
verified, recorded and never applied twice."""

from __future__ import annotations

import shlex
import subprocess
import uuid

import pytest

from lbconsole.lab import access
from lbconsole.lab import topology as t
from lbconsole.node import program
from node.nodeenv import Session

pytestmark = pytest.mark.lab
SERVICE, REAL = f"{t.VIP}:80", "10.99.0.21:80"
HOSTILE = "disk \"swap\" $(reboot) `id`\n{\"id\": 1, \"ok\": true}\n@@LBC vrrp\n\x00\x1b[2J " + "x" * 65536


def start(name: str) -> Session:
    argv = access.ssh_argv(t.node(name), shlex.join(program.bootstrap_argv()), connect_timeout=30)
    s = Session(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    s.send_raw(program.bootstrap_payload())
    return s


def ipvsadm_weights(text: str) -> list:
    """[(service, [(real server, weight)])] from `ipvsadm -Ln --exact` (TCP services, as in the lab)."""
    out: list = []
    for line in text.splitlines():
        parts = line.split()
        if parts[:1] == ["TCP"]:
            out.append((parts[1], []))
        elif parts[:1] == ["->"] and len(parts) == 6 and out:
            out[-1][1].append((parts[1], int(parts[3])))
    return out


def weights(snapshot: dict) -> dict:
    svc = next(s for s in snapshot["ipvs"] if s["port"] == 80)
    return {f"{r['address']}:{r['port']}": r["weight"] for r in svc["real_servers"]}


@pytest.fixture
def directors(lab):  # noqa: F811
    made = [start("lb1"), start("lb2")]
    yield made
    for s in made:
        if s.proc.poll() is None:
            s.proc.stdin.close()
            try:
                s.proc.wait(60)
            except subprocess.TimeoutExpired:
                s.proc.kill()
                s.proc.wait(10)


def test_agent_reads_ipvs_over_netlink_on_the_director(directors):
    lb1 = directors[0]
    hello = lb1.request("hello", timeout=120)["result"]
    assert hello["mode"] == "bootstrap" and hello["code_sha256"] == program.code_sha256()
    snap = lb1.request("snapshot", {"roles": ["director"]}, timeout=60)["result"]
    assert "ipvs" not in snap["errors"] and snap["warnings"] == []
    ln = access.run("lb1", ["ipvsadm", "-Ln", "--exact"], check=True).stdout
    want = ipvsadm_weights(ln)
    got = [(f"{s['address']}:{s['port']}", [(f"{r['address']}:{r['port']}", r["weight"]) for r in s["real_servers"]])
           for s in snap["ipvs"]]
    assert got == want and len(got) == 2
    assert [i["state"] for i in snap["vrrp"]] == ["MASTER"] and snap["keepalived_running"] is True


def test_drain_and_undrain_on_both_directors_applied_once(directors):
    args = {"op_id": str(uuid.uuid4()), "by": "ops@console", "service": SERVICE, "real_servers": [REAL],
            "reason": HOSTILE}
    for s in directors:
        assert s.request("hello", timeout=120)["ok"]
    drained = [s.request("drain", args, timeout=60)["result"] for s in directors]
    for r in drained:
        assert r["verified"] is True and r["before"] == {REAL: 100} and r["after"] == {REAL: 0}, r["detail"]
    for s in directors:
        snap = s.request("snapshot", {"roles": ["director"]}, timeout=60)["result"]
        assert weights(snap)[REAL] == 0
        (rec,) = snap["drains"]
        assert rec["reason"] == HOSTILE and rec["weight"] == 100 and rec["service"] == SERVICE
        rs = next(r for svc in snap["ipvs"] for r in svc["real_servers"] if svc["port"] == 80
                  and r["address"] == "10.99.0.21")
        assert rs["drain"]["reason"] == HOSTILE  # its own field, verbatim
        assert sorted(w for k, w in weights(snap).items() if k != REAL) == [100, 100]
    undo = {"op_id": str(uuid.uuid4()), "by": "ops@console", "service": SERVICE, "real_servers": [REAL]}
    for s in directors:
        r = s.request("undrain", undo, timeout=60)["result"]
        assert r["verified"] is True and r["after"] == {REAL: 100}, r["detail"]
    # The drain's op again (a console resending after a lost answer): recorded, not re-applied.
    for s, first in zip(directors, drained):
        again = s.request("drain", args, timeout=60)["result"]
        assert again == {**first, "replayed": True}
        snap = s.request("snapshot", {"roles": ["director"]}, timeout=60)["result"]
        assert weights(snap)[REAL] == 100 and snap["drains"] == []
