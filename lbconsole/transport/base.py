"""How commands reach a node: in-process/local subprocess or one SSH connection.

A transport runs a shell script in one round trip and returns its output.
Failures are TransportError with a message fit for the node's error field.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from lbconsole.errors import LbconsoleError
from lbconsole.inventory import NodeConfig


class TransportError(LbconsoleError):
    """The node could not be reached or the command could not run."""


class HostKeyError(TransportError):
    """Unknown or changed host key: never connect, never accept it on our own."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    stdout: str
    stderr: str
    exit_status: int

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class Transport(ABC):
    def __init__(self, node: NodeConfig):
        self.node = node

    @abstractmethod
    async def run(self, script: str, timeout: float = 10.0, stdin: str | None = None) -> CommandResult:
        """Run `script` with /bin/sh on the node (as root via `sudo -n` if the node says sudo)."""

    async def close(self) -> None:
        """Drop any persistent connection."""

    @property
    def description(self) -> str:
        return self.node.host


def shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def wrap_sudo(script: str, sudo: bool) -> str:
    """The command line that runs `script` under sh, with `sudo -n` when asked.

    -n: never prompt; a missing sudoers line must fail fast with a clear error.
    """
    command = "sh -c " + shell_quote(script)
    return "sudo -n " + command if sudo else command
