"""A viewer: snapshots from a `lbconsole serve` (its /events stream) instead of from nodes.

`lbconsole --connect URL` runs the console on this source: read-only, no node credentials,
no node sessions. When the server goes away the console keeps its last picture (its ages keep
counting, so it turns stale), is told once, and this source reconnects with backoff; the
server sends its newest state first, so the picture is whole again at once.

URLs: http://HOST:PORT, https://HOST:PORT (with --ca-file for a private CA) and unix:PATH
(the web console's private socket). aiohttp is imported only when viewing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lbconsole.errors import LbconsoleError, UsageError
from lbconsole.snapshot import Snapshot
from lbconsole.source import recording
from lbconsole.source.base import SnapshotSource

if TYPE_CHECKING:
    import aiohttp

BACKOFF_S = (0.5, 1.0, 2.0, 5.0)
READ_TIMEOUT_S = 35.0  # the server sends at least a heartbeat every 10 s
MAX_LINE = 256 * 1024 * 1024  # one snapshot is one line


class ServerLost(LbconsoleError):
    """The server went away; the source is reconnecting."""


def add_viewer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connect", metavar="URL",
                        help="view a `lbconsole serve` (http://HOST:PORT, https://...): read-only, no node access")
    parser.add_argument("--token-file", metavar="FILE", default=argparse.SUPPRESS,
                        help="with --connect: the server's bearer token")
    parser.add_argument("--ca-file", metavar="FILE", help="with --connect: CA certificate for an https server")


@dataclass(frozen=True)
class Endpoint:
    url: str  # as given, for messages
    base: str  # http(s)://host:port, or http://lbconsole for a unix socket
    unix: str | None = None
    token: str | None = None
    tls: ssl.SSLContext | None = None

    @classmethod
    def parse(cls, url: str, token_file: str | None = None, ca_file: str | None = None) -> Endpoint:
        from lbconsole.serve.security import read_token

        token = read_token(token_file) if token_file else None
        if url.startswith("unix:"):
            return cls(url, "http://lbconsole", unix=url[5:], token=token)
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in ("http", "https") or not rest.strip("/"):
            raise UsageError(f"--connect {url!r}: expected http://HOST:PORT or https://HOST:PORT")
        tls = None
        if scheme == "https":
            try:
                tls = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(f"--ca-file {ca_file}: {exc}") from None
        return cls(url, f"{scheme}://{rest.rstrip('/')}", token=token, tls=tls)

    def session(self, read_timeout: float | None = READ_TIMEOUT_S) -> aiohttp.ClientSession:
        import aiohttp

        connector = aiohttp.UnixConnector(path=self.unix) if self.unix else aiohttp.TCPConnector(ssl=self.tls or True)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=read_timeout)
        return aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout)


async def sse(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, str]]:
    """(event, data) pairs from a text/event-stream body; comments (heartbeats) are skipped."""
    kind, data = "message", list[str]()
    while True:
        raw = await response.content.readline(max_line_length=MAX_LINE)
        if not raw:
            return
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data:
                yield kind, "\n".join(data)
            kind, data = "message", list[str]()
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))


class RemoteSource(SnapshotSource):
    read_only = True  # a viewer never acts: actions stay in an operator's own console

    def __init__(self, endpoint: Endpoint, backoff: tuple[float, ...] = BACKOFF_S):
        self.endpoint = endpoint
        self.backoff = backoff
        self.connected = False
        self.hello: dict[str, Any] = {}
        self._latest: Snapshot | None = None
        self._lost: str | None = None  # told once per loss, by the next next()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def next(self) -> Snapshot:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"viewer {self.endpoint.url}")
        while True:
            if self._lost is not None:
                why, self._lost = self._lost, None
                raise ServerLost(f"lost {self.endpoint.url}: {why}; reconnecting (the picture is the last one)")
            if self._latest is not None:
                snap, self._latest = self._latest, None
                return snap
            self._wake.clear()
            await self._wake.wait()

    async def _run(self) -> None:
        import aiohttp

        self._session = self.endpoint.session()
        failures = 0
        while True:
            try:
                async with self._session.get(self.endpoint.base + "/events") as response:
                    if response.status != 200:
                        raise ConnectionError(f"HTTP {response.status}")
                    self.connected = True
                    failures = 0
                    async for kind, data in sse(response):
                        await self._take(kind, data)
                why = "the server closed the stream"
            except (TimeoutError, aiohttp.ClientError, OSError, ValueError, LbconsoleError) as exc:
                # ValueError, LbconsoleError: a stream that is not a serve's (bad JSON, not a snapshot)
                why = str(exc) or type(exc).__name__
            if self.connected or failures == 0:
                self._lost = why
                self._wake.set()
            self.connected = False
            await asyncio.sleep(self.backoff[min(failures, len(self.backoff) - 1)])
            failures += 1

    async def _take(self, kind: str, data: str) -> None:
        if kind == "hello":
            self.hello = json.loads(data)
        elif kind == "snapshot":
            # Parsing a big snapshot is CPU work: off the console's event loop.
            self._latest = await asyncio.to_thread(_parse, data, self.endpoint.url)
            self._wake.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None


def _parse(data: str, where: str) -> Snapshot:
    for snap in recording.parse_lines([data + "\n"], where):
        return snap
    raise recording.RecordingError(where, None, "an empty snapshot event")


async def probe(endpoint: Endpoint) -> float:
    """Before the console starts: is a serve there, does it take our token? Returns its poll interval."""
    import aiohttp

    async with endpoint.session(read_timeout=60) as session:
        try:
            async with session.get(endpoint.base + "/healthz") as response:
                health = await response.json(content_type=None)
            async with session.get(endpoint.base + "/snapshot") as response:
                if response.status == 401:
                    raise UsageError(f"{endpoint.url} refused the token (401): give its --token-file")
                if response.status != 200:
                    raise LbconsoleError(f"{endpoint.url}/snapshot answered HTTP {response.status}")
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            raise LbconsoleError(f"cannot reach a lbconsole serve at {endpoint.url}: {exc or type(exc).__name__}") \
                from None
    interval = health.get("poll_interval") if isinstance(health, dict) else None
    return float(interval) if isinstance(interval, (int, float)) and interval > 0 else 2.0


def run_viewer(args: argparse.Namespace) -> int:
    """`lbconsole --connect URL [--noc] [--theme T]`: the console on a serve, read-only."""
    endpoint = Endpoint.parse(args.connect, getattr(args, "token_file", None), args.ca_file)
    interval = asyncio.run(probe(endpoint))
    from lbconsole.ui.run import run_app

    return run_app(RemoteSource(endpoint), read_only=True, noc=bool(args.noc), theme=args.theme,
                   poll_interval=interval)
