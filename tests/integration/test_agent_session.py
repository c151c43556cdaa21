"""The agent session over a real sshd on loopback: bootstrap as root, one session, death and reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import time
import uuid
from pathlib import Path

import pytest

from lbconsole.inventory import NodeConfig
from lbconsole.transport import AgentError, AgentSession, TransportError, expected_identity, node_program, session_for
from lbconsole.transport.launch import BOOTSTRAP, SSHOpener
from lbconsole.transport.session import HELLO_GIVE_UP

HOSTILE = ("it's \"quoted\" $(touch /tmp/lbc-pwned) `id` \n@@LBC vrrp\n{\"id\": 1, \"ok\": true}\x00 "
           "\x1b[31mred\x1b[0m \\x00 \u202e") + "A" * 65536


def node_for(sshd, **over) -> NodeConfig:
    base = {"name": "n1", "host": "127.0.0.1", "roles": ("nginx",), "cluster": "c", "user": "root", "port": sshd.port,
                "identity": str(sshd.client_key), "known_hosts": str(sshd.known_hosts), "connect_timeout": 15.0,
                "command_timeout": 10.0}
    base.update(over)
    return NodeConfig(**base)


async def wait_until(predicate, timeout: float = 60.0) -> None:  # a loaded machine is slow, not broken
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_root_without_the_program_bootstraps_over_one_session(sshd):
    assert not os.path.exists("/usr/local/lib/lbconsole/lbconsole-node")  # the case under test
    session = session_for(node_for(sshd))
    try:
        for _ in range(20):
            snap = await session.request("snapshot", {"roles": ["nginx"], "nginx_status_url": "http://127.0.0.1:1/"})
            assert snap["host_stats"]["cpus"] >= 1
        assert session.mode == "bootstrap" and session.hello["mode"] == "bootstrap"
        assert session.sessions_opened == 1  # 20 requests, one session
        assert session.version_problem is None  # the code it sent is the console's own
    finally:
        await session.close()


async def test_hostile_text_is_a_value_not_protocol(sshd):
    session = session_for(node_for(sshd))
    try:
        logged = await session.request("audit", {"line": HOSTILE})
        hello = await session.request("hello")  # the session is still in step
        with pytest.raises(AgentError) as err:
            await session.request("no such verb " + HOSTILE[:200])
    finally:
        await session.close()
    assert logged["logged"] > 0 and hello["version"]
    assert err.value.code == "unknown_verb"
    assert not os.path.exists("/tmp/lbc-pwned")


async def test_agent_killed_the_console_says_so_and_reconnects(sshd):
    session = session_for(node_for(sshd))
    events: list[dict] = []
    session.subscribe(events.append)
    try:
        first = await session.request("hello")
        assert session.sessions_opened == 1  # its own hello came before any answer was used
        reads = [asyncio.ensure_future(session.request("snapshot", {"roles": ["nginx"]})) for _ in range(5)]
        os.kill(first["pid"], signal.SIGKILL)
        done = await asyncio.gather(*reads, return_exceptions=True)
        # Each read either made it before the kill or fails with the reason: none hangs or is lost.
        assert all(isinstance(r, (dict, TransportError)) for r in done)
        await wait_until(lambda: any(e["event"] == "session" and not e["data"]["up"] for e in events))
        lost = next(e for e in events if e["event"] == "session" and not e["data"]["up"])
        assert "session lost" in lost["data"]["error"]
        await wait_until(lambda: session.sessions_opened == 2)
        second = await session.request("hello")
        assert second["pid"] != first["pid"]
    finally:
        await session.close()


async def test_dropped_link_reconnects_with_a_new_connection(sshd):
    session = session_for(node_for(sshd))
    try:
        await session.request("hello")
        opener = session._opener
        old = opener.ssh._conn
        old.abort()  # as if the link went: the connection under the session is gone
        await wait_until(lambda: session.sessions_opened == 2)
        await session.request("hello")
        assert opener.ssh._conn is not old
    finally:
        await session.close()


async def test_dead_node_fails_fast_while_backing_off(sshd):
    from support import free_port

    session = session_for(node_for(sshd, port=free_port()))
    try:
        with pytest.raises(TransportError, match="Connection refused"):
            await session.request("hello")
        started = time.monotonic()
        with pytest.raises(TransportError, match="retrying in"):
            await session.request("hello")  # within the backoff: no new attempt, no wait
        assert time.monotonic() - started < 0.5
    finally:
        await session.close()


async def test_an_unanswered_request_drops_the_link_and_the_session_comes_back(sshd):
    # What a dropped link looks like from here: no answer in time (the agent is frozen with SIGSTOP). The
    # session is taken as dead, the connection under it too, and the runner must open a new one.
    session = session_for(node_for(sshd))
    frozen = None
    try:
        frozen = (await session.request("hello"))["pid"]
        assert session.sessions_opened == 1
        os.kill(frozen, signal.SIGSTOP)
        with pytest.raises(TransportError, match="no answer to snapshot"):
            await session.request("snapshot", {"roles": ["nginx"]}, timeout=1.0)
        await wait_until(lambda: session.sessions_opened == 2)
        assert (await session.request("hello"))["pid"] != frozen
    finally:
        if frozen:
            os.kill(frozen, signal.SIGKILL)
        await session.close()


class SlowStart(SSHOpener):
    """The agent sent over as root, started by a shell that sleeps first: a slow login (pyenv init on an emulated
    CPU), for real. Each start appends its shell's pid (the agent's, after exec) to `starts`; a delay of None
    never starts the agent (a hung one)."""

    def __init__(self, node: NodeConfig, starts: Path, delays: list[float | None]):
        super().__init__(node, read_only=False)
        self.mode, self.starts, self.delays = BOOTSTRAP, starts, delays

    async def __call__(self):
        program = node_program()
        delay = self.delays.pop(0) if self.delays else 0
        then = "exec sleep 600" if delay is None else f"sleep {delay}; exec {shlex.join(program.bootstrap_argv())}"
        command = f"echo $$ >> {shlex.quote(str(self.starts))}; {then}"
        return await self.ssh.start(command, first=program.bootstrap_payload())


def slow_session(sshd, starts: Path, delays: list[float | None], **kw) -> AgentSession:
    node = node_for(sshd)
    return AgentSession(node.name, SlowStart(node, starts, delays), command_timeout=10.0,
                        describe=f"root@127.0.0.1:{sshd.port}", expected=expected_identity(), **kw)


def release_args(op_id: str) -> dict:
    # A mutating verb with no effect here: no such forced instance, so the node refuses it (and records that).
    return {"instance": f"lbc_hello9_{op_id}", "by": "test@loopback", "op_id": op_id}


async def test_a_slow_agent_start_is_waited_for_on_the_same_channel(sshd, tmp_path):
    starts = tmp_path / "starts"
    session = slow_session(sshd, starts, [5.0], connect_timeout=2.0)
    events: list[dict] = []
    op_id = uuid.uuid4().hex
    try:
        await session._opener.ssh.run("true")  # SSH is up first: the wait under test is the agent's start alone
        session.subscribe(events.append)
        early = asyncio.ensure_future(session.request("snapshot", {"roles": ["nginx"]}))
        # Pipelined before the deadline, times out (2 + 2 s) while hello is late: kept, not doubled.
        op = asyncio.ensure_future(session.request("release", release_args(op_id), timeout=2.0, mutating=True))
        with pytest.raises(TransportError, match=r"has not said hello after 2 s \(connect_timeout\); still waiting"):
            await early
        assert not session.is_up and "still waiting for it" in session.last_error
        started = time.monotonic()
        with pytest.raises(TransportError, match="still waiting for it"):
            await session.request("hello")  # nothing piled onto the late agent: fails at once
        assert time.monotonic() - started < 0.5
        await wait_until(lambda: session.is_up)
        hello = await session.request("hello")
        with pytest.raises(AgentError, match="not forced on this node") as refused:
            await op  # answered by the agent that was late, on its first and only run
        assert "(replayed)" not in str(refused.value)
        with pytest.raises(AgentError, match=r"\(replayed\)"):  # the node recorded it, once
            await session.request("release", release_args(op_id), mutating=True)
        snap = await session.request("snapshot", {"roles": ["nginx"], "nginx_status_url": "http://127.0.0.1:1/"})
        assert snap["host_stats"]["cpus"] >= 1
        assert session.sessions_opened == 1 and session.last_error is None and session.version_problem is None
        assert starts.read_text().split() == [str(hello["pid"])]  # one agent started, the one that answers
        assert [e["data"]["up"] for e in events if e["event"] == "session"] == [True]
    finally:
        await session.close()


async def test_a_hung_agent_is_given_up_after_the_bound_and_started_again(sshd, tmp_path):
    assert slow_session(sshd, tmp_path / "x", [], connect_timeout=60.0).hello_give_up == HELLO_GIVE_UP == 300.0
    assert slow_session(sshd, tmp_path / "x", [], connect_timeout=100.0).hello_give_up == 500.0
    starts = tmp_path / "starts"
    session = slow_session(sshd, starts, [None, 0], connect_timeout=2.0, hello_give_up=4.0)
    op_id = uuid.uuid4().hex
    try:
        await session._opener.ssh.run("true")
        # Sent to the hung agent before its deadline: sent again (same op_id) to the next one, never lost.
        op = asyncio.ensure_future(session.request("release", release_args(op_id), timeout=30.0, mutating=True))
        await wait_until(lambda: "still waiting for it" in (session.last_error or ""))
        await wait_until(lambda: "did not say hello within 4 s: taken as hung" in (session.last_error or ""))
        await wait_until(lambda: session.is_up)
        hello = await session.request("hello")
        pids = starts.read_text().split()
        assert len(pids) == 2 and pids[1] == str(hello["pid"]) and session.sessions_opened == 1
        with pytest.raises(AgentError, match="not forced on this node") as refused:
            await op
        assert "(replayed)" not in str(refused.value)
    finally:
        await session.close()
        hung = starts.read_text().split()[0] if starts.exists() else None
        with contextlib.suppress(OSError):  # the hung one this test started (`exec sleep 600`), if still there
            if hung and Path(f"/proc/{hung}/cmdline").read_bytes() == b"sleep\x00600\x00":
                os.kill(int(hung), signal.SIGKILL)
