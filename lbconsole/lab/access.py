"""Reaching lab nodes: ssh from the ops namespace, `ip netns exec` for ops and client, and
entering lbc-ops from in-process Python (setns on the calling thread)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence

from lbconsole.lab import topology as t
from lbconsole.lab.errors import LabError
from lbconsole.lab.topology import Node

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def in_netns(ns: str) -> Iterator[None]:
    """Run the body with this thread in network namespace ns, then go back.

    Sockets made inside stay in ns after the body (a socket keeps the namespace it was made in),
    so an asyncio client can connect inside and be used afterwards. Threads started inside
    inherit ns. Needs root."""
    try:
        target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    except FileNotFoundError:
        raise LabError(f"no network namespace {ns}: is the lab up?") from None
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(original)
    finally:
        os.close(target)
        os.close(original)


def in_ops_netns() -> contextlib.AbstractContextManager[None]:
    """`with in_ops_netns(): ...` opens sockets from lbc-ops, where lbconsole runs in the lab."""
    return in_netns(t.OPS_NS)


def ssh_argv(node: Node, command: str | None, *, connect_timeout: int = 5) -> list[str]:
    """ssh from the ops namespace as the inventory describes it (key only, strict known_hosts).
    With command None: an interactive login."""
    return ["ip", "netns", "exec", t.OPS_NS, "ssh", "-F", "none", "-i", str(t.IDENTITY),
            "-o", "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={t.KNOWN_HOSTS}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-o", f"ConnectTimeout={connect_timeout}", "-o", "LogLevel=ERROR",
            "-p", "22", f"root@{node.ip}"] + (["-t"] if command is None else ["--", command])


def argv(node: Node, cmd: str | Sequence[str]) -> list[str]:
    """The host command that runs cmd on node: ssh for SSH nodes, netns exec for ops/client."""
    if node.ssh:
        return ssh_argv(node, cmd if isinstance(cmd, str) else shlex.join(cmd))
    words = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
    return ["ip", "netns", "exec", node.netns] + words


def run(name: str, cmd: str | Sequence[str], *, check: bool = False, timeout: float = 60,
        input: str | None = None, ssh: bool = False) -> subprocess.CompletedProcess[str]:
    """Run cmd on the node called name; stdout/stderr captured as text.

    Out of band (inside the node's namespaces, no SSH) unless `ssh`: tests check the daemons'
    truth, and a session to a node pays its shell start-up (seconds for root in the VM)."""
    try:
        node = t.node(name)
    except KeyError:
        raise LabError(f"no lab node {name!r}") from None
    if node.ssh and not ssh:
        return _out_of_band(node, cmd if isinstance(cmd, str) else shlex.join(cmd), check=check,
                            timeout=timeout, input=input)
    try:
        res = subprocess.run(argv(node, cmd), capture_output=True, text=True, timeout=timeout, input=input,
                             stdin=None if input is not None else subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{name}: timed out after {timeout:g} s: {cmd}") from exc
    if check and res.returncode != 0:
        raise LabError(f"{name}: `{cmd}` exited {res.returncode}: {res.stderr.strip()}")
    return res


def _out_of_band(node: Node, cmd: str, *, check: bool, timeout: float,
                 input: str | None) -> subprocess.CompletedProcess[str]:
    from lbconsole.lab import nodes

    feed = None
    if input is not None:  # the lab directory is seen by every node, VM ones too
        fd, feed = tempfile.mkstemp(prefix="stdin-", dir=node.dir)
        with os.fdopen(fd, "w") as f:
            f.write(input)
        cmd = f"( {cmd} ) < {shlex.quote(feed)}"
    try:
        rc, out = nodes.node_shell(node, cmd, timeout=timeout)
    finally:
        if feed:
            os.unlink(feed)
    if check and rc != 0:
        raise LabError(f"{node.name}: `{cmd}` exited {rc}: {out.strip()}")
    return subprocess.CompletedProcess([node.name, cmd], rc, out, "")


def sshd_answers(node: Node, timeout: float = 2.0) -> bool:
    """True if node's sshd sends its banner to a connection from lbc-ops."""
    try:
        with in_ops_netns():
            sock = socket.create_connection((node.ip, 22), timeout=timeout)
        with sock:
            sock.settimeout(timeout)
            return sock.recv(64).startswith(b"SSH-")
    except (OSError, LabError):
        return False
