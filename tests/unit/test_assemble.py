"""Assembling node results: ages, last data kept for unreachable nodes, VRRP inferred from peers."""

from dataclasses import replace

from lbconsole.collectors.node import unreachable
from lbconsole.inventory import parse
from lbconsole.snapshot import Address, NodeSnapshot, Snapshot, VrrpInstance
from lbconsole.source.assemble import assemble
from support.inventory import cluster_table, defaults_table, node_table

INV = parse(defaults_table(poll_interval=1) + cluster_table(
    "lab", node_table("lb1", "10.99.0.11", "director"), node_table("lb2", "10.99.0.12", "director"),
    node_table("web1", "10.99.0.21", "nginx")))

VI = VrrpInstance("VI_1", 51, "BACKUP", 100, 100, "eth0", ("10.99.0.100",))


def test_ages_pending_nodes_and_round_trip():
    lb1 = NodeSnapshot("lb1", "10.99.0.11", ("director",), reachable=True, updated_at=90.0, vrrp=(VI,))
    snap = assemble(INV, {"lb1": lb1}, now=100.0)
    nodes = {n.name: n for n in snap.clusters[0].nodes}
    assert nodes["lb1"].age_s == 10.0
    assert nodes["web1"].error == "not polled yet" and not nodes["web1"].reachable
    assert Snapshot.from_dict(snap.to_dict()) == snap
    assert [a.kind for a in snap.alerts if a.node == "web1"] == ["node_waiting"]  # pending: not down, not fine


def test_unreachable_node_keeps_last_data():
    cfg = INV.find_node("lb1")
    good = NodeSnapshot("lb1", "10.99.0.11", ("director",), reachable=True, updated_at=50.0, vrrp=(VI,))
    lost = unreachable(cfg, good, "cannot connect: refused", now=62.0)
    assert not lost.reachable and lost.vrrp == (VI,) and lost.age_s == 12.0 and "refused" in lost.error


def test_stopped_keepalived_is_shown_as_stop_and_vip_holder_as_master():
    master = VrrpInstance("VI_1", 51, "MASTER", 150, 150, "eth0", ("10.99.0.100",))
    lb1 = NodeSnapshot("lb1", "h", ("director",), reachable=True, updated_at=1.0, keepalived_running=False)
    lb2 = NodeSnapshot("lb2", "h", ("director",), reachable=True, updated_at=1.0, vrrp=(master,))
    nodes = {n.name: n for n in assemble(INV, {"lb1": lb1, "lb2": lb2}, 1.0).clusters[0].nodes}
    assert [(i.instance, i.state, i.source) for i in nodes["lb1"].vrrp] == [("VI_1", "STOP", "addr")]
    # keepalived running but no dump: the VIP on a real interface says MASTER.
    lb1 = replace(lb1, keepalived_running=None, addresses=(Address("eth0", "10.99.0.100", "inet"),))
    nodes = {n.name: n for n in assemble(INV, {"lb1": lb1, "lb2": lb2}, 1.0).clusters[0].nodes}
    assert nodes["lb1"].vrrp[0].state == "MASTER"
