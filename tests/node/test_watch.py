"""Pushed events from a real node: VIPs added and removed with `ip addr`, keepalived started
and stopped, VRRP states from keepalived's notify FIFO, and the in-process subscription."""

from __future__ import annotations

import queue
import time
from pathlib import Path

from lbconsole.node.agent import Agent
from node.nodeenv import (
    KEEPALIVED_CONF,
    VRRP_PASSWORD,
    keepalived_conf,
    start_bootstrap,
    start_installed,
    start_keepalived,
    stop_keepalived,
)


def _is_addr(address: str, action: str):
    return lambda e: e["event"] == "addr" and e["data"]["address"] == address and e["data"]["action"] == action


def test_vip_add_and_del_events_with_node_time(node, program_file, sessions):
    node.add_link()
    for s in (start_installed(node, program_file), start_bootstrap(node)):
        sessions.append(s)
        assert s.request("watch")["result"]["watching"] == ["addr", "keepalived"]
        assert s.request("watch")["ok"]  # a second watch changes nothing
    before = time.time()
    node.run(["ip", "addr", "add", "10.98.0.100/32", "dev", "eth0"])
    after_add = time.time()
    node.run(["ip", "addr", "del", "10.98.0.100/32", "dev", "eth0"])
    node.run(["ip", "addr", "add", "2001:db8::100/128", "dev", "eth0", "nodad"])
    for s in sessions:
        add = s.event(where=_is_addr("10.98.0.100", "add"))
        assert add["data"] == {"interface": "eth0", "address": "10.98.0.100", "family": "inet", "action": "add"}
        assert before <= add["at"] <= after_add + 2  # read when the kernel sent it (slack for a loaded machine)
        deleted = s.event(where=_is_addr("10.98.0.100", "del"))
        assert deleted["at"] >= add["at"]
        v6 = s.event(where=_is_addr("2001:db8::100", "add"))
        assert v6["data"]["family"] == "inet6" and v6["data"]["interface"] == "eth0"


def test_keepalived_start_and_stop_events(node, work, program_file, sessions):
    s = start_installed(node, program_file)
    sessions.append(s)
    s.request("watch")
    pid = start_keepalived(node, keepalived_conf(work), wait_master=False)
    up = s.event(where=lambda e: e["event"] == "keepalived")
    assert up["data"] == {"running": True, "pid": pid}
    vip = s.event(where=_is_addr("10.98.0.100", "add"))  # keepalived became MASTER
    assert vip["data"]["interface"] == "eth0"
    stop_keepalived(node)
    s.event(where=_is_addr("10.98.0.100", "del"))  # keepalived removes the VIP, then exits
    gone = s.event(where=lambda e: e["event"] == "keepalived")
    assert gone["data"] == {"running": False, "pid": None}


def test_vrrp_states_from_the_notify_fifo(node, work, program_file, sessions):
    conf = work / "keepalived.conf"
    text = KEEPALIVED_CONF.format(instance="VI_1", router_id="n1", password=VRRP_PASSWORD)
    conf.write_text(text.replace("global_defs {", "global_defs {\n    vrrp_notify_fifo /run/keepalived.fifo"))
    node.run(["mkfifo", "-m", "600", "/run/keepalived.fifo"])
    s = start_installed(node, program_file)
    sessions.append(s)
    assert s.request("watch", {"notify_fifo": "/run/keepalived.fifo"})["result"]["watching"] == \
        ["addr", "keepalived", "vrrp"]
    start_keepalived(node, conf, wait_master=False)
    master = s.event(timeout=20, where=lambda e: e["event"] == "vrrp" and e["data"]["state"] == "MASTER")
    assert master["data"] == {"instance": "VI_1", "state": "MASTER", "priority": 150}


def test_in_process_subscription_delivers_events():
    # The in-process agent watches this machine's own namespace, whose addresses a test must not
    # change: the sources are proven above through the program; here, the subscription itself.
    got: queue.Queue = queue.Queue()
    agent = Agent()
    unsubscribe = agent.subscribe(got.put)
    try:
        assert agent.handle({"id": 1, "verb": "watch"})["ok"]
        agent.emit("addr", {"action": "add", "interface": "x", "address": "192.0.2.9", "family": "inet"})
        ev = got.get(timeout=5)
        assert ev["event"] == "addr" and ev["data"]["address"] == "192.0.2.9" and ev["at"] > 0
        unsubscribe()
        agent.emit("addr", {"action": "del"})
        time.sleep(0.2)
        assert got.empty()
    finally:
        agent.close()


def _agent_pid(s) -> int:
    """The agent's host PID: the session's process, or its child when nsenter forked into a PID namespace."""
    pid = s.proc.pid
    for _ in range(3):
        if "serve" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
            return pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pid = int(children[0])
    raise AssertionError("no agent process under the session")


def _wakeups(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


def test_an_idle_watch_never_wakes_up(node, work, program_file, sessions):
    """Nothing happening: no thread of the agent wakes (the watch sources wait on their fds, keepalived's exit
    on a pidfd, not on timers); the emulated directors paid a poll's CPU for those wake-ups."""
    start_keepalived(node, keepalived_conf(work), wait_master=True)
    s = start_installed(node, program_file)
    sessions.append(s)
    s.request("watch")
    pid = _agent_pid(s)
    time.sleep(1.0)  # the threads started and settled
    before = _wakeups(pid)
    time.sleep(3.0)
    woke = _wakeups(pid) - before
    assert woke <= 3, f"the idle agent's threads woke {woke} times in 3 s"
    stop_keepalived(node)  # and the pidfd still sees keepalived go
    gone = s.event(where=lambda e: e["event"] == "keepalived" and not e["data"]["running"])
    assert gone["data"] == {"running": False, "pid": None}
