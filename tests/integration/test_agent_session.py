"""The agent session over a real sshd on loopback: bootstrap as root, one session, death and reconnect."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from lbconsole.inventory import NodeConfig
from lbconsole.transport import AgentError, TransportError, session_for

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
