"""How the console reaches a node's agent: one long-lived session per node (SSH, or in-process for "local")."""

from __future__ import annotations

import importlib
from typing import Any

from lbconsole.inventory import NodeConfig
from lbconsole.transport.base import (
    AgentError,
    Channel,
    CommandResult,
    HostKeyError,
    OutcomeUnknown,
    Transport,
    TransportError,
)
from lbconsole.transport.session import AgentSession


def expected_identity() -> tuple[str, str] | None:
    """(version, code sha256) of the node program this console ships."""
    try:
        version = importlib.import_module("lbconsole.node").VERSION
        return str(version), str(node_program().code_sha256())
    except (ImportError, AttributeError):
        return None


def node_program() -> Any:
    """lbconsole.node.program (Python 3.6, untyped: it runs on the nodes)."""
    return importlib.import_module("lbconsole.node.program")


def session_for(node: NodeConfig, read_only: bool = False) -> AgentSession:
    """The agent session of `node`, started `--read-only` when the console or its cluster is."""
    if node.is_local:
        from lbconsole.transport.local import LocalOpener

        opener: object = LocalOpener(node, read_only)
        describe = "local"
    else:
        from lbconsole.transport.launch import SSHOpener

        opener = SSHOpener(node, read_only)
        user = f"{node.user}@" if node.user else ""
        describe = f"{user}{node.host}:{node.port}"
    return AgentSession(node.name, opener, connect_timeout=node.connect_timeout,  # type: ignore[arg-type]
                        command_timeout=node.command_timeout, describe=describe,
                        expected=expected_identity(), read_only=read_only)


def transport_for(node: NodeConfig) -> Transport:
    """A one-off command runner (node install only): SSH, or a subprocess for the local host."""
    if node.is_local:
        from lbconsole.transport.local import LocalTransport

        return LocalTransport(node)
    from lbconsole.transport.ssh import SSHTransport

    return SSHTransport(node)


__all__ = ["AgentError", "AgentSession", "Channel", "CommandResult", "HostKeyError", "OutcomeUnknown", "Transport",
           "TransportError", "expected_identity", "session_for", "transport_for"]
