"""The program under the oldest Python it promises (3.6, from pyenv on this machine kind): served
installed-style and bootstrapped, against real keepalived and nginx, with events and actions."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from lbconsole.node import program
from node.nodeenv import Session, keepalived_conf, start_keepalived, start_nginx


def oldest_python() -> str:
    found = sorted(Path.home().glob(".pyenv/versions/3.6.*/bin/python3"))
    if not found:
        pytest.fail("no Python 3.6 under ~/.pyenv/versions: the node agent's floor cannot be proven here",
                    pytrace=False)
    return str(found[0])


@pytest.fixture(scope="module")
def py36() -> str:
    path = oldest_python()
    out = subprocess.run([path, "--version"], check=True, capture_output=True, text=True).stdout
    assert out.startswith("Python 3.6."), out
    return path


def test_installed_and_bootstrap_under_python36(node, work, program_file, sessions, py36):
    start_keepalived(node, keepalived_conf(work))
    start_nginx(node)
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    installed = Session(node.popen([py36, str(program_file), "serve"], **pipes))
    boot = Session(node.popen(program.bootstrap_argv(python=py36), **pipes))
    boot.send_raw(program.bootstrap_payload())
    sessions += [installed, boot]
    for s, mode in ((installed, "installed"), (boot, "bootstrap")):
        hello = s.request("hello")["result"]
        assert hello["python"].startswith("3.6.") and hello["mode"] == mode
        assert hello["code_sha256"] == program.code_sha256()
        snap = s.request("snapshot", {"roles": ["director", "nginx"],
                                      "nginx_status_url": "http://127.0.0.1:8080/nginx_status"})["result"]
        assert snap["vrrp"][0]["state"] == "MASTER" and snap["nginx"]["active"] >= 1
        assert snap["errors"] == {"ipvs": "the ip_vs kernel module is not loaded"}
        assert s.request("watch")["ok"]
    node.run(["ip", "addr", "add", "10.98.0.7/32", "dev", "eth0"])
    for s in (installed, boot):
        ev = s.event(where=lambda e: e["event"] == "addr" and e["data"]["address"] == "10.98.0.7")
        assert ev["data"]["action"] == "add"
    r = installed.request("reload", {"op_id": str(uuid.uuid4()), "by": "ops@console"})["result"]
    assert r["verified"] is True, r["detail"]
    r = boot.request("failover", {"op_id": str(uuid.uuid4()), "by": "ops@console", "instance": "VI_1"})["result"]
    assert r["verified"] is True and r["mode"] == "stopped", r["detail"]
    r = boot.request("release", {"op_id": str(uuid.uuid4()), "by": "ops@console", "instance": "VI_1"})["result"]
    assert r["verified"] is True, r["detail"]
    assert installed.close() == 0 and boot.close() == 0
