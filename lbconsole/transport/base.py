"""How the console reaches a node: errors, the agent's channel, and a one-off command runner.

Polls and actions talk to the node's agent over a Channel (JSON lines). A
Transport runs one command with a shell: only `lbconsole node install` and
doctor's privileged probes use it, never a poll or an action.
Failures are TransportError with a message fit for the node's error field.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from lbconsole.errors import LbconsoleError
from lbconsole.inventory import NodeConfig


class TransportError(LbconsoleError):
    """The node could not be reached or the command could not run."""


class HostKeyError(TransportError):
    """Unknown or changed host key: never connect, never accept it on our own."""


class OutcomeUnknown(TransportError):
    """A mutating request got no answer, not even after a reconnect: it may or may not have been applied."""


class AgentError(LbconsoleError):
    """The agent answered with an error (code: bad_request, read_only, refused, failed, unavailable...)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def decode_line(line: str) -> dict[str, Any] | None:
    """One line of a channel as the JSON object it should be; None for anything else."""
    try:
        msg = json.loads(line)
    except ValueError:
        return None
    return msg if isinstance(msg, dict) else None


class Channel(ABC):
    """A started agent: lines in, lines out, and why it ended."""

    @abstractmethod
    async def send(self, line: str) -> None:
        """Write one line (with its newline); TransportError or OSError when the channel is gone."""

    @abstractmethod
    async def receive(self) -> str | None:
        """The next line, None at the end."""

    @abstractmethod
    async def diagnose(self) -> str:
        """After the end: why, in one message that names the fix where one is known."""

    @abstractmethod
    def abort(self, hard: bool = False) -> None:
        """Drop it now; `hard`: the link under it is suspect too (a request went unanswered)."""

    async def close(self) -> None:
        self.abort()


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
