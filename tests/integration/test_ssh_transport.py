"""The SSH transport against a real sshd on loopback: strict host keys, reuse, timeouts, backoff."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from lbconsole.inventory import NodeConfig
from lbconsole.transport import HostKeyError, TransportError
from lbconsole.transport.ssh import SSHTransport
from support import free_port, keygen


def node_for(sshd, **over) -> NodeConfig:
    base = dict(name="n1", host="127.0.0.1", roles=("nginx",), cluster="c", user="root", port=sshd.port,
                identity=str(sshd.client_key), known_hosts=str(sshd.known_hosts))
    base.update(over)
    return NodeConfig(**base)


async def test_runs_and_reuses_one_connection(sshd):
    t = SSHTransport(node_for(sshd))
    try:
        first = await t.run("echo hello; echo oops >&2; exit 3")
        conn = t._conn
        second = await t.run("cat", stdin="fed on stdin")
        assert (first.stdout, first.stderr, first.exit_status) == ("hello\n", "oops\n", 3)
        assert second.stdout == "fed on stdin"
        assert t._conn is conn  # persistent: no new connection per poll
    finally:
        await t.close()


async def test_unknown_host_key_is_refused(sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    t = SSHTransport(node_for(sshd, known_hosts=str(empty)))
    with pytest.raises(HostKeyError, match="host key"):
        await t.run("true")
    assert empty.read_text() == ""  # never accepted on its own


async def test_changed_host_key_is_refused(sshd, tmp_path):
    other = keygen(tmp_path / "other")
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{sshd.port} {' '.join(other.split()[:2])}\n")
    t = SSHTransport(node_for(sshd, known_hosts=str(kh)))
    with pytest.raises(HostKeyError, match="host key of 127.0.0.1"):
        await t.run("true")


async def test_refused_port_fails_fast_then_backs_off(sshd):
    t = SSHTransport(node_for(sshd, port=free_port()))
    started = time.monotonic()
    with pytest.raises(TransportError, match="cannot connect: Connection refused"):
        await t.run("true")
    with pytest.raises(TransportError, match="retrying in"):
        await t.run("true")  # within the backoff: no new attempt
    assert time.monotonic() - started < 3


async def test_silent_server_hits_connect_timeout(sshd):
    # A TCP peer that accepts and never speaks: the same as an address nobody answers from.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        t = SSHTransport(node_for(sshd, port=listener.getsockname()[1]), connect_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(TransportError, match="timed out"):
            await t.run("true")
        assert time.monotonic() - started < 3
    finally:
        listener.close()


async def test_command_timeout_drops_connection(sshd):
    t = SSHTransport(node_for(sshd))
    try:
        with pytest.raises(TransportError, match="timed out after 0.5 s"):
            await t.run("sleep 5", timeout=0.5)
        assert (await t.run("echo back")).stdout == "back\n"  # reconnects on the next call
    finally:
        await t.close()


async def test_bad_identity_file_is_a_clear_error(sshd, tmp_path):
    bad = tmp_path / "key"
    bad.write_text("not a key")
    t = SSHTransport(node_for(sshd, identity=str(bad)))
    with pytest.raises(TransportError):
        await t.run("true")


async def test_concurrent_runs_share_the_connection(sshd):
    t = SSHTransport(node_for(sshd))
    try:
        results = await asyncio.gather(*(t.run(f"echo {i}") for i in range(8)))
        assert [r.stdout.strip() for r in results] == [str(i) for i in range(8)]
    finally:
        await t.close()


async def test_sudo_nodes_run_through_sudo_n(sshd):
    # As root, sudo's default policy lets the command through; SUDO_USER proves it went via sudo -n.
    t = SSHTransport(node_for(sshd, sudo=True))
    try:
        result = await t.run('echo "$SUDO_USER:$(id -u)"')
        assert result.stdout.strip() == "root:0"
    finally:
        await t.close()
