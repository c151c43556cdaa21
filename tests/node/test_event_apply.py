"""Pushed events applied to the console's snapshot at once (lbconsole/source/events.py), with a real
keepalived MASTER in a namespace: stopping it removes the VIP (`addr` del) and ends keepalived
(`keepalived` running false); the console's copy of the node follows both before any re-read."""

from __future__ import annotations

from lbconsole.collectors import node as collector
from lbconsole.inventory import NodeConfig
from lbconsole.source import events
from node.nodeenv import keepalived_conf, start_installed, start_keepalived, stop_keepalived

NODE = NodeConfig("n1", "10.98.0.11", ("director",), "test")
VIP = "10.98.0.100"


def _is(kind: str, **data):
    return lambda e: e["event"] == kind and all(e["data"].get(k) == v for k, v in data.items())


def test_vip_gone_and_keepalived_stopped_show_at_once(node, work, program_file, sessions):
    start_keepalived(node, keepalived_conf(work))
    s = start_installed(node, program_file)
    sessions.append(s)
    s.request("watch")
    result = s.request("snapshot", {"roles": ["director"], "dump_max_age": 0})["result"]
    snap = collector.from_result(NODE, result, result["sampled_at"])
    assert [(i.instance, i.state, i.source) for i in snap.vrrp] == [("VI_1", "MASTER", "json")]
    stop_keepalived(node)
    gone = s.event(where=_is("addr", action="del", address=VIP))
    after_del = events.apply(snap, gone)
    assert after_del is not None and after_del.sampled_at == gone["at"]
    assert VIP not in {a.address for a in after_del.addresses}
    assert [(i.state, i.source) for i in after_del.vrrp] == [("BACKUP", "addr")]  # the infer_vrrp rule
    assert events.apply(after_del, gone) is None  # already in: a repeat changes nothing
    stopped = s.event(where=_is("keepalived", running=False))
    after_stop = events.apply(after_del, stopped)
    assert after_stop is not None and after_stop.keepalived_running is False
    assert [(i.state, i.source) for i in after_stop.vrrp] == [("STOP", "addr")]
    # A sample read after the events is not overridden by them.
    fresh = s.request("snapshot", {"roles": ["director"], "dump_max_age": 0})["result"]
    later = collector.from_result(NODE, fresh, fresh["sampled_at"])
    assert events.apply(later, gone) is None and events.apply(later, stopped) is None


def test_vip_added_makes_the_instance_master_by_address(node, work, program_file, sessions):
    start_keepalived(node, keepalived_conf(work))
    s = start_installed(node, program_file)
    sessions.append(s)
    s.request("watch")
    node.run(["ip", "addr", "del", f"{VIP}/32", "dev", "eth0"])  # keepalived puts it back (it is MASTER)
    gone = s.event(where=_is("addr", action="del", address=VIP))
    back = s.event(where=_is("addr", action="add", address=VIP))
    result = s.request("snapshot", {"roles": ["director"], "dump_max_age": 0})["result"]
    # Replayed onto a copy taken before them: BACKUP without the VIP, then MASTER with it (by address).
    before = collector.from_result(NODE, {**result, "sampled_at": gone["at"] - 1}, gone["at"] - 1)
    step = events.apply(before, gone)
    assert step is not None and [i.state for i in step.vrrp] == ["BACKUP"]
    step = events.apply(step, back)
    assert step is not None and [(i.state, i.source) for i in step.vrrp] == [("MASTER", "addr")]
    assert any(a.address == VIP and a.interface == "eth0" for a in step.addresses)


def test_malformed_or_hostile_events_are_ignored(node, work, program_file, sessions):
    s = start_installed(node, program_file)
    sessions.append(s)
    result = s.request("snapshot", {"roles": ["director"]})["result"]
    snap = collector.from_result(NODE, result, result["sampled_at"])
    at = result["sampled_at"] + 1
    for bad in ({"event": "addr", "at": at, "data": {"action": "add", "interface": 1, "address": VIP,
                                                      "family": "inet"}},
                {"event": "addr", "at": at, "data": {"action": "zap", "interface": "eth0", "address": VIP,
                                                      "family": "inet"}},
                {"event": "addr", "at": "soon", "data": {}},
                {"event": "addr", "at": at, "data": "\x1b[31m"},
                {"event": "vrrp", "at": at, "data": {"instance": "VI_1", "state": "MASTER"}}):
        assert events.apply(snap, bad) is None
    odd = {"event": "addr", "at": at, "data": {"action": "add", "interface": "[red]eth0\x1b", "address": "x[b]",
                                                "family": "inet"}}
    shown = events.apply(snap, odd)
    assert shown is not None and shown.addresses[-1].interface == "[red]eth0\x1b"  # data, kept as text
