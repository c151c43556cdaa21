"""A viewer that stops reading delays neither the poller nor the other viewers.

The server runs in-process (real aiohttp, real sockets) on the real lab recording replayed fast,
so the stalled viewer's socket buffers fill within a second or two.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
import time

import aiohttp
import pytest

from lbconsole.serve.security import Security
from lbconsole.serve.server import Server
from lbconsole.source.replay import ReplaySource
from lbconsole.ui.run import demo_recording
from support import free_port


async def read_ids(url: str, seen: list[tuple[float, int]], stop: asyncio.Event, told: list[dict]) -> None:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        kind = b""
        while not stop.is_set():
            line = await response.content.readline(max_line_length=1 << 24)
            if line.startswith(b"id: "):
                seen.append((time.monotonic(), int(line[4:])))
            elif line.startswith(b"event: "):
                kind = line[7:].strip()
            elif line.startswith(b"data: ") and kind == b"events":
                told.extend(json.loads(line[6:]))


def stalled_viewer(port: int) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: it fills at once
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    return s  # and it never reads


async def test_a_stalled_viewer_delays_no_one(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "lbconsole.serve")
    server = Server(ReplaySource(demo_recording(), speed=200, loop=True), 2.0, Security(), stall_s=3.0,
                    heartbeat_s=1.0)
    published: list[float] = []
    publish = server.hub.publish

    def timed(snapshot, encoded=None):  # type: ignore[no-untyped-def]
        published.append(time.monotonic())
        publish(snapshot, encoded)

    server.hub.publish = timed  # type: ignore[method-assign]
    port = free_port()
    running = asyncio.create_task(server.run("127.0.0.1", port))
    stop = asyncio.Event()
    stalled = None
    try:
        await asyncio.wait_for(server.ready.wait(), 10)
        seen: list[tuple[float, int]] = []
        told: list[dict] = []
        reader = asyncio.create_task(read_ids(f"http://127.0.0.1:{port}/events", seen, stop, told))
        stalled = stalled_viewer(port)
        started = time.monotonic()
        def cut() -> bool:
            return any("took nothing for 3 s: disconnected" in r.getMessage() for r in caplog.records)

        while time.monotonic() - started < 6.0 or (not cut() and time.monotonic() - started < 30):
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(reader, 5)
        window = [t for t in published if t > started]
        gaps = [b - a for a, b in itertools.pairwise(window)]
        assert len(window) > 100 and max(gaps) < 0.5  # the poller side never waited on the stalled viewer
        got = [(t, i) for t, i in seen if t > started]
        assert max(b[0] - a[0] for a, b in itertools.pairwise(got)) < 0.5  # nor did the other viewer
        assert got[-1][1] >= server.hub.seq - 5  # and it stayed on the newest state
        assert server.hub.dropped_total > 0  # the stalled one was given only the newest, then dropped
        assert cut()  # its socket filled; after 3 s without progress it was disconnected
        assert len(server.hub.viewers) <= 1
        # The recording holds a failover and a drain: the stream told them as events too.
        assert {"vrrp_state", "drain_set"} <= {e["kind"] for e in told}
    finally:
        if stalled is not None:
            stalled.close()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
