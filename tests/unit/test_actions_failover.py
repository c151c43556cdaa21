"""Failover preflight and release commands, from synthetic director states (no nodes needed)."""

from __future__ import annotations

import pytest

from lbconsole.actions import failover, failover_script, kconf, prepare_conf
from lbconsole.actions.failover_plan import Director, plan
from lbconsole.actions.targets import InstanceTarget
from lbconsole.inventory import NodeConfig
from lbconsole.snapshot import Address, NodeSnapshot, VrrpInstance

CONF = """vrrp_instance VI_1 {
    priority %d
    virtual_ipaddress {
        10.0.0.100/24
    }
}
"""


def director(name, state="BACKUP", prio=100, conf=None, forced=None, error=None, vip=False, source="json",
             instance="VI_1"):
    node = NodeConfig(name=name, host="h", roles=("director",), cluster="c")
    vrrp = (VrrpInstance(instance, 51, state, prio, prio, "eth0", ("10.0.0.100",), source=source),) if state else ()
    addrs = (Address("eth0", "10.0.0.100", "inet"),) if vip else ()
    snap = NodeSnapshot(name, "h", ("director",), reachable=error is None, vrrp=vrrp, addresses=addrs,
                        keepalived_running=bool(state))
    return Director(node, snap, kconf.parse(conf or CONF % prio), forced or {}, error=error)


def go(*ds, node=None):
    return plan(InstanceTarget("c", "VI_1", node), list(ds))


def test_unprepared_cluster_stops_keepalived_with_an_explicit_warning():
    p = go(director("lb1", "MASTER", 150, vip=True), director("lb2"))
    assert p.refusal is None and p.mode == "stop" and p.master.node.name == "lb1"
    assert "STOPPED on lb1" in p.warning and "IPVS table is flushed" in p.warning and "checkers stop" in p.warning
    assert p.vips == ("10.0.0.100",)


def test_prepared_cluster_uses_the_track_file():
    conf = prepare_conf.prepare(CONF % 150, failover_file="/run/x/failover")
    p = go(director("lb1", "MASTER", 150, conf=conf), director("lb2"))
    assert p.refusal is None and p.mode == "track_file" and p.track.path == "/run/x/failover"
    assert "priority to 50" in p.warning


def test_a_track_weight_too_small_is_refused():
    conf = prepare_conf.prepare(CONF % 250, failover_weight=-100)
    p = go(director("lb1", "MASTER", 250, conf=conf), director("lb2", prio=120))
    assert p.refusal and "at priority 150, not below its peer's 120" in p.refusal


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


def test_release_starts_keepalived_the_way_it_ran():
    assert failover_script.start_command({"systemd": True}) == "systemctl start keepalived"
    lab = failover_script.start_command({"argv": ["/usr/sbin/keepalived", "-n", "-l", "-D"]})
    assert lab.startswith("setsid /usr/sbin/keepalived -n -l -D </dev/null >>/var/log/keepalived.log")
    assert failover_script.start_command({"argv": ["/usr/sbin/keepalived", "-D"]}) == "/usr/sbin/keepalived -D"
    assert "DAEMON_ARGS" in failover_script.start_command({})
    script = failover_script.release("VI_1", {"mode": "track_file", "track": "/run/x/failover"})
    assert "echo 0 >" in script and "/run/x/failover" in script
    assert "rm -f '/var/lib/lbconsole/forced/VI_1.json'" in script


def test_preempt_warning_names_the_node_taking_the_vip_back():
    forced = director("lb1", None, 150, forced={"VI_1": {"mode": "stopped"}})
    current = director("lb2", "MASTER", 100, vip=True)
    note, expect = failover._preempt_note([forced], [forced, current], "VI_1")
    assert expect == "lb1" and "second flap" in note and "nopreempt" in note
    nopreempt = director("lb1", None, 150, conf="vrrp_instance VI_1 {\n nopreempt\n priority 150\n}\n",
                         forced={"VI_1": {}})
    assert failover._preempt_note([nopreempt], [nopreempt, current], "VI_1") == ("", None)


def test_settled_needs_one_master_holding_the_vip():
    lb1, lb2 = director("lb1", "MASTER", 150, vip=True), director("lb2")
    assert failover._settled([lb1, lb2], "VI_1", ["lb1"], "lb1")
    assert not failover._settled([director("lb1", "BACKUP", 150), director("lb2", "MASTER", vip=True)],
                                 "VI_1", ["lb1"], "lb1")
    assert not failover._settled([director("lb1", None), director("lb2", "MASTER", vip=True)], "VI_1", ["lb1"], None)
