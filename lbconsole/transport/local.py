"""The local host: the node agent in-process (host = "local"), and a subprocess for one-off commands.

In-process is the same Agent object an SSH session serves, behind the same
AgentSession (one code path to read a node): each request runs in a worker
thread, events come from the agent's watcher threads, and both reach the
session as protocol lines through a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
from typing import Any

from lbconsole.inventory import NodeConfig
from lbconsole.transport.base import (
    Channel,
    CommandResult,
    Transport,
    TransportError,
    wrap_sudo,
)


class LocalChannel(Channel):
    def __init__(self, agent: Any):
        self.agent = agent
        self.loop = asyncio.get_running_loop()
        self.lines: asyncio.Queue[str | None] = asyncio.Queue()
        self.tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe = agent.subscribe(self._from_thread)
        self.closed = False

    def _from_thread(self, message: dict[str, Any]) -> None:
        line = json.dumps(message)
        with contextlib.suppress(RuntimeError):  # the loop is gone: the console is exiting
            self.loop.call_soon_threadsafe(self.lines.put_nowait, line)

    async def send(self, line: str) -> None:
        if self.closed:
            raise TransportError("the in-process agent is closed")
        try:
            request = json.loads(line)
        except ValueError as exc:
            raise TransportError(f"not a request: {exc}") from None
        task = self.loop.create_task(self._handle(request))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _handle(self, request: Any) -> None:
        response = await asyncio.to_thread(self.agent.handle, request)
        if not self.closed:
            self.lines.put_nowait(json.dumps(response))

    async def receive(self) -> str | None:
        return await self.lines.get()

    async def diagnose(self) -> str:
        return "the in-process agent was closed"

    def abort(self, hard: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        self._unsubscribe()
        self.agent.close()
        self.lines.put_nowait(None)


class LocalOpener:
    mode = "in-process"

    def __init__(self, node: NodeConfig, read_only: bool):
        self.node, self.read_only = node, read_only

    async def __call__(self) -> Channel:
        agent: Any = importlib.import_module("lbconsole.node.agent").Agent  # Python 3.6 code, untyped
        return LocalChannel(agent(read_only=self.read_only, mode="local"))


class LocalTransport(Transport):
    async def run(self, script: str, timeout: float = 10.0, stdin: str | None = None) -> CommandResult:
        try:
            proc = await asyncio.create_subprocess_exec(
                "/bin/sh", "-c", wrap_sudo(script, self.node.sudo),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                start_new_session=True)
        except OSError as exc:
            raise TransportError(f"cannot run /bin/sh: {exc}") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise TransportError(f"command timed out after {timeout:g} s") from None
        return CommandResult(out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), proc.returncode or 0)

    @property
    def description(self) -> str:
        return "local"
