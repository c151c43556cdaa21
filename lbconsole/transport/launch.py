"""Starting a node's agent over SSH: the installed program, or (root, not installed) the code sent over.

Installed: `sudo -n /usr/local/lib/lbconsole/lbconsole-node serve [--read-only]`
(no sudo as root), exactly what the sudoers drop-in allows. Bootstrap: python3
reads the program from the session's stdin and runs it; nothing is written to
the node.
"""

from __future__ import annotations

import shlex

from lbconsole.inventory import NodeConfig
from lbconsole.transport import diagnose
from lbconsole.transport.base import Channel
from lbconsole.transport.diagnose import AGENT_PATH
from lbconsole.transport.ssh import SSHChannel, SSHTransport

INSTALLED, BOOTSTRAP = "installed", "bootstrap"


def agent_argv(node: NodeConfig, read_only: bool) -> list[str]:
    """The command the sudoers drop-in names, word for word."""
    argv = [AGENT_PATH, "serve"] + (["--read-only"] if read_only else [])
    return ["sudo", "-n"] + argv if node.sudo and node.user != "root" else argv


class SSHOpener:
    """Callable the AgentSession uses to (re)start the agent; remembers which mode worked."""

    def __init__(self, node: NodeConfig, read_only: bool):
        self.node, self.read_only = node, read_only
        self.ssh = SSHTransport(node)
        self.mode = INSTALLED

    async def __call__(self) -> Channel:
        self.ssh.reset_backoff()  # the session keeps its own backoff
        if self.mode == BOOTSTRAP:
            from lbconsole.transport import node_program

            program = node_program()
            argv = program.bootstrap_argv(read_only=self.read_only)
            return await self.ssh.start(shlex.join(argv), first=program.bootstrap_payload())
        return await self.ssh.start(shlex.join(agent_argv(self.node, self.read_only)))

    def fallback(self, channel: Channel) -> bool:
        """Not installed, and root on the node: send the code over instead (once)."""
        if self.mode != INSTALLED or not isinstance(channel, SSHChannel):
            return False
        if diagnose.kind(channel.exit_status, channel.stderr_text) != "missing":
            return False
        if self.node.sudo and self.node.user != "root":
            return False
        user = channel.conn.get_extra_info("username")
        if user != "root":
            return False
        self.mode = BOOTSTRAP
        return True

    async def close(self) -> None:
        await self.ssh.close()
