"""Failover preflight and the release check, from director states (no nodes needed: how a master steps down
is decided and tested on the node, tests/node/test_actions.py and the lab)."""

from __future__ import annotations

import pytest

from lbconsole.actions import release
from lbconsole.actions.failover_plan import Director, plan
from lbconsole.actions.targets import InstanceTarget
from lbconsole.inventory import NodeConfig
from lbconsole.snapshot import Address, NodeSnapshot, VrrpInstance


def director(name, state="BACKUP", prio=100, forced=None, error=None, vip=False, source="json",
             instance="VI_1"):
    node = NodeConfig(name=name, host="h", roles=("director",), cluster="c")
    vrrp = (VrrpInstance(instance, 51, state, prio, prio, "eth0", ("10.0.0.100",), source=source),) if state else ()
    addrs = (Address("eth0", "10.0.0.100", "inet"),) if vip else ()
    snap = NodeSnapshot(name, "h", ("director",), reachable=error is None, vrrp=vrrp, addresses=addrs,
                        keepalived_running=bool(state))
    return Director(node, snap, forced or {}, error=error)


def go(*ds, node=None):
    return plan(InstanceTarget("c", "VI_1", node), list(ds))


def test_the_plan_names_the_master_its_vips_and_what_stepping_down_may_mean():
    p = go(director("lb1", "MASTER", 150, vip=True), director("lb2"))
    assert p.refusal is None and p.master.node.name == "lb1" and [d.node.name for d in p.peers] == ["lb2"]
    assert "STOPPED" in p.warning and "IPVS table is flushed" in p.warning and "track file" in p.warning
    assert p.vips == ("10.0.0.100",)


@pytest.mark.parametrize("ds, words", [
    ((director("lb1"), director("lb2")), "no director is MASTER"),
    ((director("lb1", "MASTER", 150), director("lb2", "MASTER")), "split brain"),
    ((director("lb1", "MASTER", 150), director("lb2", error="cannot connect")), "unreachable"),
    ((director("lb1", "MASTER", 150), director("lb2", "FAULT")), "FAULT, not BACKUP"),
    ((director("lb1", "MASTER", 150), director("lb2", source="data")), "JSON dump does not work"),
    ((director("lb1", "MASTER", 150), director("lb2", forced={"VI_1": {"mode": "stopped"}})), "itself forced"),
    ((director("lb1", "MASTER", 150, forced={"VI_1": {"mode": "track_file"}}), director("lb2")), "--release first"),
    ((director("lb1", "MASTER", 150),), "no peer"),
])
def test_preflight_refusals(ds, words):
    p = go(*ds)
    assert p.refusal and words in p.refusal


def test_a_stale_view_of_the_master_is_refused():
    p = go(director("lb1"), director("lb2", "MASTER", 150), node="lb1")
    assert p.refusal and "now lb2, not lb1" in p.refusal


def test_settled_needs_one_master_holding_the_vip():
    lb1, lb2 = director("lb1", "MASTER", 150, vip=True), director("lb2")
    assert release._settled([lb1, lb2], "VI_1", ["lb1"])
    assert release._settled([director("lb1", "BACKUP", 150), director("lb2", "MASTER", vip=True)], "VI_1", ["lb1"])
    assert not release._settled([director("lb1", None), director("lb2", "MASTER", vip=True)], "VI_1", ["lb1"])
    assert not release._settled([director("lb1", "MASTER", vip=True), director("lb2", "MASTER", vip=True)],
                                "VI_1", ["lb1"])


def test_release_waits_for_a_higher_priority_director_to_take_the_vip_back():
    lb1_back, lb2 = director("lb1", "BACKUP", 150), director("lb2", "MASTER", 100, vip=True)
    assert release._settled([lb1_back, lb2], "VI_1", ["lb1"])  # settled enough (nopreempt)...
    assert not release._settled([lb1_back, lb2], "VI_1", ["lb1"], strict=True)  # ...but preempt comes next
    lb1_master = director("lb1", "MASTER", 150, vip=True)
    assert release._settled([lb1_master, director("lb2", "BACKUP", 100)], "VI_1", ["lb1"], strict=True)
