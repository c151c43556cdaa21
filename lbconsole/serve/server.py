"""The HTTP side of `serve`: /snapshot, /events, /metrics, /healthz (and /web when asked).

One pump moves snapshots from the one poller into the hub; every handler reads the hub.
Nothing here can run an action: there is no route that changes anything.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable

from aiohttp import web

from lbconsole.serve import metrics
from lbconsole.serve.hub import Hub
from lbconsole.serve.security import Security
from lbconsole.source import recording
from lbconsole.source.base import SnapshotSource

log = logging.getLogger("lbconsole.serve")

HEARTBEAT_S = 10.0  # a comment line to idle viewers, so they can tell a dead server
STALL_S = 30.0  # a viewer that takes no bytes for this long is disconnected
FIRST_SNAPSHOT_WAIT_S = 30.0


class ViewerGone(Exception):
    pass


class Server:
    def __init__(self, source: SnapshotSource, poll_interval: float, security: Security,
                 stall_s: float = STALL_S, heartbeat_s: float = HEARTBEAT_S):
        self.source = source
        self.hub = Hub(poll_interval)
        self.security = security
        self.registry = metrics.registry_for(self.hub)
        self.ready = asyncio.Event()
        self.closing = False
        self.stall_s = stall_s
        self.heartbeat_s = heartbeat_s
        self.app = web.Application(middlewares=[security.middleware()])
        self.app.add_routes([web.get("/snapshot", self.snapshot), web.get("/events", self.events),
                             web.get("/metrics", self.metrics), web.get("/healthz", self.healthz)])
        self.app.on_shutdown.append(self._on_shutdown)

    # -- the one poller ---------------------------------------------------------------------
    async def pump(self) -> None:
        while True:
            try:
                snapshot = await self.source.next()
                encoded = await asyncio.to_thread(recording.dumps, snapshot)
            except asyncio.CancelledError:
                raise
            except Exception:  # a broken poll must not end the server: log it and go on
                log.exception("polling failed; retrying")
                await asyncio.sleep(1.0)
                continue
            self.hub.publish(snapshot, encoded)
            self.ready.set()

    # -- handlers --------------------------------------------------------------------------
    async def snapshot(self, request: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(self.ready.wait(), FIRST_SNAPSHOT_WAIT_S)
        except TimeoutError:
            return web.json_response({"error": "no snapshot yet"}, status=503, headers={"Retry-After": "2"})
        return web.Response(text=self.hub.snapshot_json, content_type="application/json")

    async def metrics(self, request: web.Request) -> web.Response:
        body, content_type = await asyncio.to_thread(metrics.exposition, self.registry,
                                                     request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def healthz(self, request: web.Request) -> web.Response:
        age = time.monotonic() - self.hub.published_at if self.ready.is_set() else None
        ok = age is not None and age < max(30.0, 5 * self.hub.poll_interval)
        return web.json_response({"ok": ok, "snapshot_age_s": None if age is None else round(age, 3),
                                  "poll_interval": self.hub.poll_interval, "viewers": len(self.hub.viewers)},
                                 status=200 if ok else 503)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: hello, the newest snapshot at once, then each new one (and events)."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        box = self.hub.attach()
        try:
            await self._send(request, response, self.hub.hello())
            while not self.closing:
                try:
                    await asyncio.wait_for(box.wake.wait(), self.heartbeat_s)
                    data = box.take()
                except TimeoutError:
                    data = b": ping\n\n"
                if data and not self.closing:
                    await self._send(request, response, data)
        except (ConnectionError, ViewerGone):
            pass
        finally:
            self.hub.detach(box)
        return response

    async def _send(self, request: web.Request, response: web.StreamResponse, data: bytes) -> None:
        try:
            await asyncio.wait_for(response.write(data), self.stall_s)
        except TimeoutError:
            log.warning("viewer %s took nothing for %g s: disconnected", request.remote, self.stall_s)
            if request.transport is not None:
                request.transport.abort()
            raise ViewerGone() from None

    async def _on_shutdown(self, app: web.Application) -> None:
        self.closing = True
        for box in list(self.hub.viewers):
            box.wake.set()

    # -- running ---------------------------------------------------------------------------
    async def run(self, host: str, port: int, unix_path: str | None = None,
                  started: Callable[[str], None] | None = None) -> None:
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        sites: list[web.BaseSite] = [web.TCPSite(runner, host, port, ssl_context=self.security.tls,
                                                 reuse_address=True)]
        if unix_path:
            sites.append(web.UnixSite(runner, unix_path))
        try:
            for site in sites:
                await site.start()
        except OSError as exc:
            await runner.cleanup()
            from lbconsole.errors import LbconsoleError

            raise LbconsoleError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        pump = asyncio.create_task(self.pump(), name="serve pump")
        if started:
            scheme = "https" if self.security.tls else "http"
            shown = f"[{host}]" if ":" in host else host
            started(f"{scheme}://{shown}:{port}")
        try:
            await stop.wait()
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
            await runner.cleanup()
            await self.source.close()

