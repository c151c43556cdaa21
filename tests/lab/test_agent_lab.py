"""The node agents in the real lab: one session per node, installed by `lbconsole node install`, reached as
real hosts are (PAM, root's start-up files, one slow node, one director through a non-root sudoers account),
and what happens when a session dies."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time

import pytest

from lbconsole import inventory as inventory_mod
from lbconsole.lab import api
from lbconsole.lab import topology as t
from lbconsole.source.poller import LivePoller, Poller
from lbconsole.transport import AgentError, expected_identity, session_for
from support import lbconsole_in_ops, wait_for

pytestmark = pytest.mark.lab
AGENT = "/usr/local/lib/lbconsole/lbconsole-node"


def in_ops(fn):
    """Run the coroutine function fn() with its sockets in lbc-ops, as the console runs in the lab."""
    out: dict = {}

    def body():
        try:
            with api.in_ops_netns():
                out["value"] = asyncio.run(fn())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(300)
    if "error" in out:
        raise out["error"]
    return out.get("value")


def load(lab, **timeouts) -> inventory_mod.Inventory:
    inv = inventory_mod.load(str(lab))
    if not timeouts:
        return inv
    clusters = tuple(dataclasses.replace(c, nodes=tuple(dataclasses.replace(n, **timeouts) for n in c.nodes))
                     for c in inv.clusters)
    return dataclasses.replace(inv, clusters=clusters)


def test_status_over_the_agents_every_node_as_a_real_host(lab):
    proc = lbconsole_in_ops("status", "--inventory", str(lab), "--json", timeout=180)
    snap = json.loads(proc.stdout)
    nodes = {n["name"]: n for c in snap["clusters"] for n in c["nodes"]}
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert all(n["reachable"] and n["error"] is None for n in nodes.values()), proc.stdout
    assert not snap["alerts"], snap["alerts"]  # a one-shot look is not an incident
    assert {s["port"] for s in nodes["lb2"]["ipvs"]} == {80, 8080}  # lb2: the sudoers account
    assert api.VRRP_PASSWORD not in proc.stdout


def test_installed_agents_match_the_console_and_lb2_runs_through_sudo(lab):
    inv = load(lab)

    async def hellos():
        sessions = {n.name: session_for(n) for n in inv.nodes}
        try:
            return {name: await s.request("hello") for name, s in sessions.items()}, \
                {name: s.mode for name, s in sessions.items()}
        finally:
            await asyncio.gather(*(s.close() for s in sessions.values()))

    hello, modes = in_ops(hellos)
    version, sha = expected_identity()
    assert set(modes.values()) == {"installed"}
    assert {h["mode"] for h in hello.values()} == {"installed"}
    assert {(h["version"], h["code_sha256"]) for h in hello.values()} == {(version, sha)}
    assert all(h["euid"] == 0 for h in hello.values())  # lb2: lbcops through its sudoers line
    assert inv.find_node("lb2").user == t.SUDO_USER and inv.find_node("lb2").sudo
    drop_in = api.run("lb2", "cat /etc/sudoers.d/lbconsole", check=True).stdout
    assert f"{t.SUDO_USER} ALL=(root) NOPASSWD: {AGENT} serve, {AGENT} serve --read-only" in drop_in
    assert "*" not in drop_in and "/sh" not in drop_in


def test_the_sudoers_account_cannot_run_anything_else_as_root(lab):
    for cmd in ("sudo -n id -u", "sudo -n sh -c id", f"sudo -n {AGENT} version", f"sudo -n {AGENT} serve --x",
                "sudo -n /usr/sbin/ipvsadm -Ln", "sudo -n -s id"):
        res = api.run("lb2", f"su -s /bin/sh {t.SUDO_USER} -c {cmd!r} </dev/null; echo rc=$?")
        assert "rc=0" not in res.stdout and "rc=1" in res.stdout, (cmd, res.stdout)
        assert "password is required" in res.stdout or "not allowed" in res.stdout, (cmd, res.stdout)


def test_a_read_only_agent_refuses_every_mutating_verb_whatever_the_console_sends(lab):
    inv = load(lab)
    lb2 = inv.find_node("lb2")

    async def attempt():
        session = session_for(lb2, read_only=True)
        codes = {}
        try:
            hello = await session.request("hello")
            for verb in ("drain", "undrain", "failover", "release", "reload"):
                try:
                    await session.request(verb, {"service": "10.99.0.100:80", "real_servers": ["10.99.0.21:80"],
                                                 "instance": "VI_1", "reason": "x", "by": "test"}, mutating=True)
                    codes[verb] = "ok"
                except AgentError as exc:
                    codes[verb] = exc.code
        finally:
            await session.close()
        return hello, codes

    before = api.run("lb2", "ipvsadm -Sn", check=True).stdout
    hello, codes = in_ops(attempt)
    assert hello["read_only"] is True
    assert codes == dict.fromkeys(("drain", "undrain", "failover", "release", "reload"), "read_only")
    assert api.run("lb2", "ipvsadm -Sn", check=True).stdout == before


def test_steady_state_polls_reuse_one_session_and_one_agent(lab):
    inv = load(lab)

    async def polls():
        poller = Poller(inv)
        try:
            await poller.poll_once()
            first = {name: (await s.request("hello"))["pid"] for name, s in poller.sessions.items()}
            conns = {n: _ssh_connections(n) for n in ("lb1", "web2")}
            for _ in range(20):
                snap = await poller.poll_once()
                assert all(n.reachable for c in snap.clusters for n in c.nodes)
            last = {name: (await s.request("hello"))["pid"] for name, s in poller.sessions.items()}
            return first, last, conns, {name: s.sessions_opened for name, s in poller.sessions.items()}
        finally:
            await poller.close()

    first, last, conns, opened = in_ops(polls)
    assert first == last  # the same agent process answered every poll
    assert set(opened.values()) == {1}
    assert conns == {"lb1": 1, "web2": 1}  # one SSH connection each, whatever the number of polls


def _ssh_connections(node: str) -> int:
    out = api.run(node, "ss -Htn state established '( sport = :22 )'", check=True).stdout
    return len([line for line in out.splitlines() if line.strip()])


class Watching:
    """A LivePoller run in lbc-ops in its own thread; `snap(name)` is that node's latest NodeSnapshot."""

    def __init__(self, inv):
        self.inv, self.latest, self.stop = inv, {}, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        async def main():
            source = self.source = LivePoller(self.inv, interval=1.0)
            try:
                while not self.stop.is_set():
                    snap = await asyncio.wait_for(source.next(), 60)
                    self.latest = {n.name: n for c in snap.clusters for n in c.nodes}
            finally:
                await source.close()

        with api.in_ops_netns():
            asyncio.run(main())

    def snap(self, name):
        return self.latest.get(name)

    def agent_pid(self, name) -> int:
        """The PID (on the node) of the agent this console's session to `name` talks to."""
        return int(self.source.poller.sessions[name].hello["pid"])

    def close(self):
        self.stop.set()
        self.thread.join(90)


@pytest.fixture
def watching(lab):
    w = Watching(load(lab, command_timeout=4.0, connect_timeout=60.0))
    wait_for(lambda: all(n.reachable for n in w.latest.values()) and len(w.latest) == len(t.NODES), 120, 0.5,
             "every node reachable through its agent")
    yield w
    w.close()


def test_agent_killed_the_console_says_so_and_reconnects(watching):
    old = watching.agent_pid("web1")
    api.run("web1", f"kill -9 {old}", check=True)
    lost = wait_for(lambda: (s := watching.snap("web1")) and not s.reachable and s, 15, 0.1, "web1 unreachable")
    assert "session lost" in lost.error and lost.nginx is not None  # says so, keeps the last data
    wait_for(lambda: watching.snap("web1").reachable, 60, 0.3, "web1 back")
    assert watching.agent_pid("web1") != old


def test_sshd_killed_then_back(watching):
    agent = watching.agent_pid("web3")
    # The listener and the connection's own sshd: the session's link is gone, no new one possible.
    api.stop_daemon("web3", "sshd")
    api.run("web3", f"p={agent}; while [ $p -gt 1 ]; do read -r c < /proc/$p/comm; "
                    "[ \"$c\" = sshd ] && kill -9 $p; set -- $(cat /proc/$p/stat); p=$4; done", check=True)
    wait_for(lambda: not watching.snap("web3").reachable, 20, 0.1, "web3 unreachable")
    time.sleep(3)  # backing off: still unreachable, with the reason, and the others unaffected
    snap = watching.snap("web3")
    assert not snap.reachable and snap.error
    assert all(watching.snap(n).reachable for n in ("web1", "web2", "lb1"))
    api.start_daemon("web3", "sshd")
    wait_for(lambda: watching.snap("web3").reachable, 60, 0.3, "web3 back after sshd")


def test_link_dropped_then_back(watching):
    import subprocess

    # The cable pulled: web1's port on the lab switch goes down (web1 itself is untouched).
    port = ["ip", "-n", t.SWITCH_NS, "link", "set", "v-web1"]
    subprocess.run(port + ["down"], check=True)
    try:
        down = wait_for(lambda: (s := watching.snap("web1")) and not s.reachable and s, 30, 0.2,
                        "web1 unreachable after its link dropped")
        assert down.error and all(watching.snap(n).reachable for n in ("web2", "lb1"))
    finally:
        subprocess.run(port + ["up"], check=True)
    wait_for(lambda: watching.snap("web1").reachable, 120, 0.5, "web1 back after its link")


HOSTILE = ("it's \"quoted\" $(touch /tmp/lbc-pwned) `touch /tmp/lbc-pwned2` \n@@LBC vrrp\n"
           "{\"id\": 1, \"ok\": true}\x00 \x1b[31mred\x1b]0;title\x07 \\x00 ;rm -rf / #") + "Z" * 65536


def test_hostile_strings_through_every_verb_change_only_their_own_field(lab, tmp_path):
    from lbconsole.actions.audit import AuditLog
    from lbconsole.actions.context import ActionContext
    from lbconsole.actions.execute import execute

    inv = load(lab)
    target = {"cluster": "lab", "service": "10.99.0.100:80", "real_server": "10.99.0.23:80"}

    async def act():
        ctx = ActionContext(inventory=inv, cluster="lab", audit=AuditLog(tmp_path / "audit.jsonl"), wait_s=0)
        try:
            drained = await execute(ctx, "drain", target, {"reason": HOSTILE})
            poller = Poller(inv, read_only=True)
            try:
                snap = await poller.poll_once()
            finally:
                await poller.close()
            failover = await execute(ctx, "failover", {"cluster": "lab", "instance": HOSTILE[:300]})
            undrained = await execute(ctx, "undrain", target)
            audit = await ctx.session(inv.find_node("lb1")).request("audit", {"line": HOSTILE})
        finally:
            await ctx.close()
        return drained, snap, failover, undrained, audit

    drained, snap, failover, undrained, audit = in_ops(act)
    assert drained.ok, drained.message
    lb2 = next(n for c in snap.clusters for n in c.nodes if n.name == "lb2")
    rs = lb2.service("10.99.0.100:80").real_server("10.99.0.23:80")
    assert rs.weight == 0 and rs.drain.reason == HOSTILE  # the whole reason, as a value, 64 KiB included
    assert failover.exit_code == 3 and "no director is MASTER" in failover.message  # a name, not a command
    assert undrained.ok, undrained.message
    assert audit["logged"] > 0
    for node in ("lb1", "lb2"):
        assert api.run(node, "ls /tmp/lbc-pwned /tmp/lbc-pwned2 2>/dev/null; true").stdout == ""


def test_a_change_in_flight_when_the_link_dies_is_applied_once(lab):
    inv = load(lab)
    web1 = inv.find_node("web1")

    async def reload_across_a_dead_link():
        session = session_for(web1)
        try:
            await session.request("hello")
            before = await session.request("snapshot", {"roles": ["nginx"]})
            pending = asyncio.ensure_future(session.request("reload", {"by": "test"}, mutating=True))
            while not any(p.sent_on for p in session._pending.values()):
                await asyncio.sleep(0)
            session._opener.ssh._conn.abort()  # the link goes with the request just written on it
            result = await asyncio.wait_for(pending, 120)
            for _ in range(200):  # the new session's hello may answer after the replayed result
                if session.sessions_opened == 2:
                    break
                await asyncio.sleep(0.1)
            return before, result, session.sessions_opened
        finally:
            await session.close()

    workers_before = _workers("web1")
    _, result, opened = in_ops(reload_across_a_dead_link)
    assert opened == 2  # it reconnected, and sent the same op_id again
    assert result["verified"], result
    after = _workers("web1")
    # One reload: every worker now is one the recorded reload made (the old ones it listed exit gracefully),
    # none from a second reload, none from before.
    assert after and after <= set(result["after"]["worker_pids"]) and not after & workers_before


def _workers(node: str) -> set[int]:
    out = api.run(node, "m=$(cat /run/nginx.pid); for p in /proc/[0-9]*; do "
                        "set -- $(cat $p/stat 2>/dev/null); [ \"$4\" = \"$m\" ] && echo ${p#/proc/}; done; true",
                  check=True).stdout
    return {int(p) for p in out.split()}


def test_nodes_are_reached_as_real_hosts(lab):
    from pathlib import Path

    host_rc = Path("/root/.bashrc").read_text()
    for node in ("lb1", "web1", t.SLOW_NODE):
        assert "usepam yes" in api.run(node, "/usr/sbin/sshd -T -f /etc/ssh/sshd_config", check=True).stdout
        assert api.run(node, "cat /root/.bashrc", check=True).stdout.startswith(host_rc)
    assert api.run(t.SLOW_NODE, "tail -n 1 /root/.bashrc", check=True).stdout.strip() == f"sleep {t.SLOW_START_S:g}"
    started = time.monotonic()
    assert api.run(t.SLOW_NODE, "true", ssh=True).returncode == 0
    assert time.monotonic() - started >= t.SLOW_START_S  # every new session pays it; polls do not
