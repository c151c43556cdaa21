"""One persistent asyncssh connection per node: the agent's channel, and one-off commands for install.

~/.ssh/config and the agent are honoured by asyncssh itself. Host keys are
checked strictly against known_hosts: an unknown or changed key is a
HostKeyError and never gets accepted. After a failure the next connect waits
with exponential backoff, so a dead node costs nothing per poll.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import asyncssh

from lbconsole.inventory import NodeConfig
from lbconsole.transport import diagnose
from lbconsole.transport.base import (
    Channel,
    CommandResult,
    HostKeyError,
    Transport,
    TransportError,
    wrap_sudo,
)

CONNECT_TIMEOUT = 30.0
STDERR_KEEP = 4096
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 15.0


class SSHTransport(Transport):
    def __init__(self, node: NodeConfig, connect_timeout: float | None = None):
        super().__init__(node)
        self.connect_timeout = connect_timeout or node.connect_timeout or CONNECT_TIMEOUT
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()
        self._backoff = 0.0
        self._retry_at = 0.0
        self._last_error: TransportError | None = None

    @property
    def description(self) -> str:
        user = f"{self.node.user}@" if self.node.user else ""
        return f"{user}{self.node.host}:{self.node.port}"

    def reset_backoff(self) -> None:
        """An operator's action should try at once, not wait out the poll backoff."""
        self._retry_at = 0.0

    async def _connect(self) -> asyncssh.SSHClientConnection:
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                return self._conn
            now = time.monotonic()
            if now < self._retry_at and self._last_error is not None:
                wait = self._retry_at - now
                raise type(self._last_error)(f"{self._last_error} (retrying in {wait:.0f} s)")
            try:
                self._conn = await asyncio.wait_for(self._open(), self.connect_timeout)
            except TransportError as exc:
                self._fail(exc)
                raise
            except TimeoutError:
                error = TransportError(f"{self.description}: connect timed out after {self.connect_timeout:g} s")
                self._fail(error)
                raise error from None
            self._backoff = 0.0
            self._last_error = None
            return self._conn

    def _fail(self, exc: TransportError) -> None:
        self._backoff = min(BACKOFF_MAX, self._backoff * 2 or BACKOFF_FIRST)
        self._retry_at = time.monotonic() + self._backoff
        self._last_error = exc

    async def _open(self) -> asyncssh.SSHClientConnection:
        node = self.node
        options: dict[str, Any] = {"port": node.port, "keepalive_interval": 10, "keepalive_count_max": 3,
                         "connect_timeout": self.connect_timeout}
        if node.user:
            options["username"] = node.user
        if node.identity:
            options["client_keys"] = [node.identity]
        # Never None: None would turn host key checking off.
        options["known_hosts"] = node.known_hosts if node.known_hosts else ()
        try:
            return await asyncssh.connect(node.host, **options)
        except asyncssh.HostKeyNotVerifiable as exc:
            where = node.known_hosts or os.path.expanduser("~/.ssh/known_hosts")
            raise HostKeyError(f"host key of {node.host}:{node.port} is not trusted (unknown or changed, "
                               f"checked against {where}): {exc.reason}") from None
        except asyncssh.PermissionDenied:
            raise TransportError(f"{self.description}: authentication failed (key or agent refused)") from None
        except asyncssh.DisconnectError as exc:
            raise TransportError(f"{self.description}: disconnected: {exc.reason}") from None
        except (OSError, asyncssh.Error) as exc:
            # asyncio's strerror is "Connect call failed (addr)": the errno says more.
            reason = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else str(exc)
            raise TransportError(f"{self.description}: cannot connect: {reason}") from None
        except ValueError as exc:  # bad key file, unreadable known_hosts
            raise TransportError(f"{self.description}: {exc}") from None

    async def run(self, script: str, timeout: float = 10.0, stdin: str | None = None) -> CommandResult:
        conn = await self._connect()
        command = wrap_sudo(script, self.node.sudo)
        try:
            result = await conn.run(command, input=stdin.encode() if stdin else None, encoding=None,
                                    timeout=timeout, check=False)
        except asyncssh.TimeoutError:
            await self._drop()  # a peer that stops answering mid-command is most likely gone
            raise TransportError(f"{self.description}: command timed out after {timeout:g} s") from None
        except (asyncssh.Error, OSError) as exc:
            await self._drop()
            raise TransportError(f"{self.description}: connection lost: {exc}") from None
        status = result.exit_status if result.exit_status is not None else 255
        return CommandResult(_text(result.stdout), _text(result.stderr), status)

    async def start(self, command: str, first: bytes = b"") -> SSHChannel:
        """Start `command` on a new channel of the connection (opened if needed), `first` fed to it."""
        conn = await self._connect()
        try:
            proc = await conn.create_process(command, encoding=None)
        except (asyncssh.Error, OSError) as exc:
            await self._drop()
            raise TransportError(f"{self.description}: cannot start the agent: {exc}") from None
        channel = SSHChannel(self.node, proc, conn)
        if first:
            await channel.send_bytes(first)
        return channel

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            try:
                await asyncio.wait_for(conn.wait_closed(), 2)
            except (TimeoutError, OSError, asyncssh.Error):
                pass


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data



class SSHChannel(Channel):
    """The agent's stdin/stdout over one SSH channel; its stderr kept (the tail) for diagnose()."""

    def __init__(self, node: NodeConfig, proc: asyncssh.SSHClientProcess[bytes], conn: asyncssh.SSHClientConnection):
        self.node, self.proc, self.conn = node, proc, conn
        self.stderr = bytearray()
        self._stderr_task = asyncio.get_running_loop().create_task(self._drain_stderr())

    async def _drain_stderr(self) -> None:
        try:
            while chunk := await self.proc.stderr.read(4096):
                self.stderr += chunk if isinstance(chunk, bytes) else chunk.encode()
                del self.stderr[:-STDERR_KEEP]
        except (asyncssh.Error, OSError):
            pass

    async def send_bytes(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
            await self.proc.stdin.drain()
        except (asyncssh.Error, BrokenPipeError, ConnectionError) as exc:
            raise TransportError(f"{self.node.name}: connection lost: {exc}") from None

    async def send(self, line: str) -> None:
        await self.send_bytes(line.encode())

    async def receive(self) -> str | None:
        try:
            data = await self.proc.stdout.readline()
        except (asyncssh.Error, OSError) as exc:
            raise TransportError(f"connection lost: {exc}") from None
        if not data:
            return None
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else data

    async def diagnose(self) -> str:
        try:
            await asyncio.wait_for(self.proc.wait_closed(), 2)
        except (TimeoutError, asyncssh.Error, OSError):
            pass
        # asyncio.wait, not wait_for: the task may have been cancelled by abort(), and that is no error here.
        await asyncio.wait({self._stderr_task}, timeout=1)
        if self.conn.is_closed():
            return f"connection lost ({self.node.host}:{self.node.port} closed it or stopped answering)"
        return diagnose.message(self.node.name, self.proc.exit_status, self.stderr.decode("utf-8", "replace"),
                                user=self.node.user)

    @property
    def exit_status(self) -> int | None:
        return self.proc.exit_status

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")

    def abort(self, hard: bool = False) -> None:
        self._stderr_task.cancel()
        self.proc.close()
        if hard:  # a dropped link: the next session needs a new connection, not this dead one
            self.conn.abort()
