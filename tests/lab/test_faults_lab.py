"""Faults in the real lab: each gives its documented result within a bounded time, never a crash."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from lbconsole.lab import api
from support import lbconsole_in_ops, wait_for

pytestmark = pytest.mark.lab

# One session set-up (a root session to the VM runs pyenv init: 10-20 s) plus one round trip, with margin;
# a node nobody answers is bounded by its own connect_timeout (10 s below).
BOUND_S = 45


def status(inventory) -> tuple[int, dict, float]:
    started = time.monotonic()
    proc = lbconsole_in_ops("status", "--inventory", str(inventory), "--json")
    elapsed = time.monotonic() - started
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout), elapsed


def nodes_of(snap):
    return {n["name"]: n for c in snap["clusters"] for n in c["nodes"]}


def kinds(snap):
    return {a["kind"] for a in snap["alerts"]}


def test_sshd_stopped(lab):
    api.stop_daemon("web2", "sshd")
    try:
        code, snap, elapsed = status(lab)
    finally:
        api.start_daemon("web2", "sshd")
    nodes = nodes_of(snap)
    assert code == 1 and elapsed < BOUND_S
    assert not nodes["web2"]["reachable"] and "cannot connect" in nodes["web2"]["error"]
    assert all(n["reachable"] for name, n in nodes.items() if name != "web2")
    assert "node_unreachable" in kinds(snap)


def _inventory_with(lab: Path, tmp_path: Path, text: str) -> Path:
    inv = tmp_path / "inventory.toml"
    inv.write_text(lab.read_text() + text)
    return inv


def test_address_nobody_answers(lab, tmp_path):
    # 10.99.0.99 is in the lab's own subnet and assigned to nobody: ARP goes unanswered.
    inv = _inventory_with(Path(lab), tmp_path, '\n[[cluster.node]]\nname = "ghost"\nhost = "10.99.0.99"\n'
                                               'roles = ["nginx"]\nconnect_timeout = 10\n')
    code, snap, elapsed = status(inv)
    nodes = nodes_of(snap)
    assert code == 1 and elapsed < BOUND_S
    assert not nodes["ghost"]["reachable"]
    assert re.search(r"timed out|unreachable|no route", nodes["ghost"]["error"], re.I)
    assert all(n["reachable"] for name, n in nodes.items() if name != "ghost")


def test_host_key_missing(lab, tmp_path):
    known = Path(api.LAB_DIR / "ops" / "known_hosts").read_text().splitlines()
    partial = tmp_path / "known_hosts"
    partial.write_text("\n".join(line for line in known if "10.99.0.12" not in line) + "\n")
    text = Path(lab).read_text().replace(str(api.LAB_DIR / "ops" / "known_hosts"), str(partial))
    inv = tmp_path / "inventory.toml"
    inv.write_text(text)
    code, snap, _ = status(inv)
    nodes = nodes_of(snap)
    assert code == 1
    assert not nodes["lb2"]["reachable"] and "host key" in nodes["lb2"]["error"]
    assert nodes["lb1"]["reachable"] and "10.99.0.12" not in partial.read_text()  # never accepted


def test_nginx_stopped(lab):
    api.stop_daemon("web3", "nginx")
    try:
        code, snap, elapsed = status(lab)
    finally:
        api.start_daemon("web3", "nginx")
    web3 = nodes_of(snap)["web3"]
    assert code == 0 and elapsed < BOUND_S  # the node answered; its nginx did not
    assert web3["reachable"] and web3["nginx"] is None and "nginx" in web3["error"]
    assert "nginx_down" in kinds(snap)


def _vrrp_states(inv) -> dict[str, str]:
    _, snap, _ = status(inv)
    return {name: (n["vrrp"][0]["state"] if n["vrrp"] else "-") for name, n in nodes_of(snap).items()
            if name in ("lb1", "lb2")}


def test_keepalived_stopped_on_master(lab):
    api.stop_daemon("lb1", "keepalived")
    try:
        states = wait_for(lambda: (s := _vrrp_states(lab)) == {"lb1": "STOP", "lb2": "MASTER"} and s,
                          20, 1, "lb2 MASTER and lb1 STOP")
        code, snap, _ = status(lab)
        assert code == 0 and "keepalived_down" in kinds(snap)
        assert states == {"lb1": "STOP", "lb2": "MASTER"}
    finally:
        api.start_daemon("lb1", "keepalived")
        wait_for(lambda: _vrrp_states(lab) == {"lb1": "MASTER", "lb2": "BACKUP"}, 30, 1, "lb1 MASTER again")


def test_vrrp_blocked_is_split_brain(lab):
    api.block_vrrp(True)
    try:
        snap = wait_for(lambda: (s := status(lab)[1]) and "split_brain" in kinds(s) and s, 20, 1, "split brain")
        states = {n["name"]: n["vrrp"][0]["state"] for n in nodes_of(snap).values() if n["vrrp"]}
        assert states == {"lb1": "MASTER", "lb2": "MASTER"}
        messages = " ".join(a["message"] for a in snap["alerts"] if a["kind"] == "split_brain")
        assert "VRID 51" in messages and "10.99.0.100" in messages
    finally:
        api.block_vrrp(False)
        wait_for(lambda: _vrrp_states(lab) == {"lb1": "MASTER", "lb2": "BACKUP"}, 30, 1, "one MASTER again")
