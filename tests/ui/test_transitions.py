"""Events from two consecutive snapshots."""

from __future__ import annotations

from dataclasses import replace

from lbconsole.analyzers.transitions import diff
from lbconsole.snapshot import Alert, Drain
from ui import synth

T = 1_700_000_000.0


def kinds(events):
    return sorted((e.kind, e.node) for e in events)


def test_nothing_changed_nothing_told():
    assert diff(synth.lab(T), synth.lab(T + 1)) == []
    assert diff(None, synth.lab(T)) == []


def test_failover_is_one_event_per_node_and_instance():
    before, after = synth.lab(T), synth.lab(T + 1, lb1="BACKUP", lb2="MASTER")
    events = diff(before, after)
    assert kinds(events) == [("vrrp_state", "lb1"), ("vrrp_state", "lb2")]
    by_node = {e.node: e for e in events}
    old = {n.name: n.vrrp[0].state for n in before.clusters[0].directors}
    new = {n.name: n.vrrp[0].state for n in after.clusters[0].directors}
    for name, e in by_node.items():
        assert (e.before, e.after) == (old[name], new[name])
        assert f"{old[name]} → {new[name]}" in e.message and "VI_1" in e.message
        assert e.at == after.taken_at


def test_fault_is_critical():
    events = diff(synth.lab(T), synth.lab(T + 1, lb2="FAULT"))
    assert [(e.node, e.severity) for e in events] == [("lb2", "critical")]


def test_node_lost_and_back_without_duplicating_its_alert():
    lost = synth.lose(synth.lab(T + 1), "web2")
    events = diff(synth.lab(T), lost)
    assert kinds(events) == [("node_lost", "web2")]  # the unreachable alert is the same news
    assert events[0].severity == "critical"
    back = diff(replace(lost, clusters=(replace(lost.clusters[0], nodes=tuple(
        replace(n, updated_at=T) if n.name == "web2" else n for n in lost.clusters[0].nodes)),)), synth.lab(T + 2))
    assert ("node_back", "web2") in kinds(back)
    assert ("alert_resolved", "web2") in kinds(back)


def test_unreachable_nodes_last_vrrp_data_is_not_news():
    a = synth.lab(T)
    b = synth.lab(T + 1, lb1="BACKUP")
    b = replace(b, clusters=(replace(b.clusters[0], nodes=tuple(
        replace(n, reachable=False) if n.name == "lb1" else n for n in b.clusters[0].nodes)),))
    assert ("vrrp_state", "lb1") not in kinds(diff(a, b))


def test_drain_set_and_cleared_once_per_cluster():
    drain = Drain("kernel upgrade", "ops@host", T, 100)
    plain, drained = synth.lab(T), synth.lab(T + 1, drain=drain, weights=(0, 100, 100))
    set_events = diff(plain, drained)
    assert [e.kind for e in set_events] == ["drain_set"]  # two directors, one event
    assert drain.reason in set_events[0].message and drain.by in set_events[0].message
    assert [e.kind for e in diff(drained, plain)] == ["drain_cleared"]


def test_nginx_restart_is_seen_from_counters():
    a = synth.lab(T)
    b = synth.lab(T + 1)
    nodes = tuple(replace(n, nginx=replace(n.nginx, accepts=1)) if n.name == "web3" else n
                  for n in b.clusters[0].nodes)
    b = replace(b, clusters=(replace(b.clusters[0], nodes=nodes),))
    assert kinds(diff(a, b)) == [("nginx_restart", "web3")]


def test_alerts_raised_and_resolved_ignoring_counting_seconds():
    def alerting(t, age):
        return synth.lab(t, alerts=(Alert("warning", "node_stale", f"web1 data is {age} s old", "lab", "web1"),))

    raised = diff(synth.lab(T), alerting(T + 1, 7))
    assert [(e.kind, e.severity) for e in raised] == [("alert", "warning")]
    assert diff(alerting(T + 1, 7), alerting(T + 2, 8)) == []  # same alert, older data
    assert [e.kind for e in diff(alerting(T + 2, 8), synth.lab(T + 3))] == ["alert_resolved"]
