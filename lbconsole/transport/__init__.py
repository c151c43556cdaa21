"""Transports: how commands reach a node."""

from lbconsole.inventory import NodeConfig
from lbconsole.transport.base import CommandResult, HostKeyError, Transport, TransportError


def transport_for(node: NodeConfig) -> Transport:
    """SSH for remote nodes, a subprocess for the local host."""
    if node.is_local:
        from lbconsole.transport.local import LocalTransport

        return LocalTransport(node)
    from lbconsole.transport.ssh import SSHTransport

    return SSHTransport(node)


__all__ = ["CommandResult", "HostKeyError", "Transport", "TransportError", "transport_for"]
