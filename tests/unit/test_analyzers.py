"""Alerts raised from snapshots: unreachable/stale, split brain, drift, FAULT, drain reverted."""

from dataclasses import replace

from lbconsole.analyzers import analyze
from lbconsole.snapshot import (Address, ClusterSnapshot, Drain, NginxStatus, NodeSnapshot, RealServer, Service,
                                Snapshot, VrrpInstance)

VIP = "10.99.0.100"


def rs(ip, weight=100, drain=None):
    return RealServer(ip, 80, "route", weight, drain=drain)


def svc(*servers):
    return Service("TCP", VIP, 80, None, "wlc", real_servers=tuple(servers))


def director(name, state, vip_up, services=None, reachable=True, **kw):
    addrs = [Address("lo", "127.0.0.1", "inet"), Address("eth0", f"10.99.0.{11 if name == 'lb1' else 12}", "inet")]
    if vip_up:
        addrs.append(Address("eth0", VIP, "inet"))
    return NodeSnapshot(name=name, host=name, roles=("director",), reachable=reachable, updated_at=100.0,
                        ipvs=services if services is not None else (svc(rs("10.99.0.21"), rs("10.99.0.22")),),
                        vrrp=(VrrpInstance("VI_1", 51, state, 150, 150, "eth0", (VIP,)),),
                        addresses=tuple(addrs), keepalived_running=True, **kw)


def web(name, lo_vip=True):
    addrs = (Address("lo", VIP, "inet"),) if lo_vip else ()
    return NodeSnapshot(name=name, host=name, roles=("nginx",), reachable=True, updated_at=100.0,
                        nginx=NginxStatus(1, 1, 1, 1, 0, 1, 0), addresses=addrs)


def kinds(*nodes, interval=1.0):
    snap = Snapshot(100.0, (ClusterSnapshot("lab", tuple(nodes)),))
    return sorted(a.kind for a in analyze(snap, interval))


def test_healthy_cluster_has_no_alerts():
    # The VIP on lo of the DR real servers is intended and must not count as split brain.
    assert kinds(director("lb1", "MASTER", True), director("lb2", "BACKUP", False), web("web1"), web("web2")) == []


def test_two_masters_is_split_brain():
    alerts = analyze(Snapshot(1.0, (ClusterSnapshot("lab", (director("lb1", "MASTER", True),
                                                             director("lb2", "MASTER", True))),)))
    brain = [a for a in alerts if a.kind == "split_brain"]
    assert len(brain) == 2 and all(a.severity == "critical" for a in brain)
    assert "VRID 51" in brain[0].message + brain[1].message
    assert "lb1:eth0" in " ".join(a.message for a in brain)


def test_vip_on_two_interfaces_is_split_brain_even_without_vrrp_data():
    lb2 = replace(director("lb2", "BACKUP", True), vrrp=())
    assert "split_brain" in kinds(director("lb1", "MASTER", True), lb2)


def test_unreachable_and_stale_nodes():
    lb2 = replace(director("lb2", "BACKUP", False), reachable=False, error="cannot connect", age_s=30)
    stale = replace(web("web1"), age_s=12)
    assert kinds(director("lb1", "MASTER", True), lb2, stale, interval=1.0) == ["node_stale", "node_unreachable"]


def test_fault_and_no_master():
    assert kinds(director("lb1", "FAULT", False), director("lb2", "BACKUP", False)) == ["no_master", "vrrp_fault"]


def test_drift_in_weights_and_membership():
    lb2 = director("lb2", "BACKUP", False, services=(svc(rs("10.99.0.21", 50)),))
    alerts = analyze(Snapshot(1.0, (ClusterSnapshot("lab", (director("lb1", "MASTER", True), lb2)),)))
    (drift,) = [a for a in alerts if a.kind == "drift"]
    assert "10.99.0.21:80 weight 100 on lb1, 50 on lb2" in drift.message
    assert "10.99.0.22:80 only on lb1" in drift.message


def test_drain_reverted_when_weight_came_back():
    d = Drain("kernel upgrade", "ops@desk", 1.0, 100)
    both = (svc(rs("10.99.0.21", 100, d), rs("10.99.0.22")),)
    assert "drain_reverted" in kinds(director("lb1", "MASTER", True, both), director("lb2", "BACKUP", False, both))
    held = (svc(rs("10.99.0.21", 0, d), rs("10.99.0.22")),)
    assert kinds(director("lb1", "MASTER", True, held), director("lb2", "BACKUP", False, held)) == []


def test_daemon_down():
    dead_nginx = replace(web("web1"), nginx=None, error="nginx: curl: (7) Failed to connect")
    no_keepalived = replace(director("lb2", "BACKUP", False), vrrp=(), keepalived_running=False)
    assert kinds(director("lb1", "MASTER", True), no_keepalived, dead_nginx) == ["keepalived_down", "nginx_down"]
