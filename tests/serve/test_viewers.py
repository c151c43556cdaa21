"""Viewers of a real serve process: the console as a read-only viewer; a server restart survived."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
from serve.conftest import Serve

from lbconsole.actions.registry import mutating
from lbconsole.source.remote import Endpoint, RemoteSource, ServerLost
from lbconsole.ui.app import LbConsole
from lbconsole.ui.screens.base import ConsoleScreen
from support import free_port


async def until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("noc", [False, True])
async def test_the_console_as_a_viewer_is_read_only_and_the_same(served: Serve, noc: bool) -> None:
    from textual.actions import parse

    app = LbConsole(RemoteSource(Endpoint.parse(served.url)), poll_interval=1.0, noc=noc)
    assert app.forced_read_only  # from the source itself, not from a flag
    async with app.run_test(size=(120, 40)) as pilot:
        # The screen stack, not app.screen: on a loaded machine two snapshots can come before the first screen
        # is pushed, and app.screen raises while the stack is empty.
        await until(lambda: app.state.count >= 2 and bool(app.screen_stack)
                    and isinstance(app.screen_stack[-1], ConsoleScreen), 20, "snapshots")
        await pilot.pause()
        assert [c.name for c in app.state.clusters] == ["site-a"]
        assert app.feed_label() == "LIVE"
        screens = len(app.screen_stack)
        for spec in mutating():
            assert app.check_action("act", (spec.name,)) is False  # hidden
            shown = {parse(b.binding.action)[1:] for b in app.screen.active_bindings.values()}
            assert ("act", (spec.name,)) not in shown or app.check_action("act", (spec.name,)) is False
            app.action_act(spec.name)  # a direct call is refused by the action layer
            await pilot.pause()
        assert len(app.screen_stack) == screens
        assert len([n for n in app._notifications if n.title == "Refused"]) == len(mutating())
        assert type(app.screen).__name__ == ("NocScreen" if noc else "MainScreen")


async def test_every_viewer_survives_a_server_restart(inventory: Path, tmp_path: Path) -> None:
    serve = Serve(free_port(), ["--inventory", str(inventory)], tmp_path / "serve.log")
    await asyncio.to_thread(serve.start)
    sources = [RemoteSource(Endpoint.parse(serve.url), backoff=(0.2, 0.5)) for _ in range(5)]
    try:
        for s in sources:
            await asyncio.wait_for(s.next(), 20)
        assert all(s.connected for s in sources)
        await asyncio.to_thread(serve.stop, signal.SIGKILL)  # no goodbye: the process is gone
        for s in sources:
            with pytest.raises(ServerLost, match="reconnecting"):
                await asyncio.wait_for(s.next(), 20)
        await asyncio.to_thread(serve.start)
        pending = [asyncio.create_task(asyncio.wait_for(s.next(), 30)) for s in sources]
        snaps = await asyncio.gather(*pending)
        assert all([c.name for c in snap.clusters] == ["site-a"] for snap in snaps)
        assert all(s.connected for s in sources)
    finally:
        for s in sources:
            await s.close()
        await asyncio.to_thread(serve.stop)


async def test_a_viewer_keeps_its_last_picture_marked_stale(inventory: Path, tmp_path: Path) -> None:
    serve = Serve(free_port(), ["--inventory", str(inventory)], tmp_path / "serve.log")
    await asyncio.to_thread(serve.start)
    app = LbConsole(RemoteSource(Endpoint.parse(serve.url), backoff=(0.2, 0.5)), poll_interval=1.0)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(lambda: app.state.count >= 2, 20, "snapshots")
            await asyncio.to_thread(serve.stop, signal.SIGKILL)
            await until(lambda: app.feed_error is not None, 20, "the loss to be told")
            before = app.state.snapshot
            assert "reconnecting" in app.feed_error
            await until(lambda: all(app.state.is_stale(n) for c in app.state.clusters for n in c.nodes), 10,
                        "the picture to turn stale")
            assert app.state.snapshot is before  # the last picture stays
            await pilot.pause()
            await asyncio.to_thread(serve.start)
            await until(lambda: app.feed_error is None and app.state.snapshot is not before, 30, "reconnection")
            assert not any(app.state.is_stale(n) for c in app.state.clusters for n in c.nodes if n.reachable)
    finally:
        await asyncio.to_thread(serve.stop)


@pytest.mark.parametrize(("argv", "code", "says"), [
    (["--connect", "http://127.0.0.1:{dead}"], 1, "cannot reach a lbconsole serve at http://127.0.0.1:"),
    (["--connect", "ftp://somewhere"], 2, "expected http://HOST:PORT or https://HOST:PORT"),
    (["--connect", "http://127.0.0.1:{dead}", "--token-file", "/nonexistent/token"], 2, "token file /nonexistent"),
])
def test_connect_errors_are_one_clear_line(argv: list[str], code: int, says: str) -> None:
    import subprocess
    import sys

    from serve.conftest import CHECKOUT

    dead = free_port()
    out = subprocess.run([sys.executable, "-m", "lbconsole", *(a.format(dead=dead) for a in argv)], cwd=CHECKOUT,
                         capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == code and says in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


async def test_a_bad_token_stops_the_viewer_before_the_console(served: Serve, token_file: Path,
                                                              inventory: Path, tmp_path: Path) -> None:
    from lbconsole.errors import UsageError
    from lbconsole.source.remote import probe

    guarded = Serve(free_port(), ["--inventory", str(inventory), "--token-file", str(token_file)],
                    tmp_path / "serve.log")
    await asyncio.to_thread(guarded.start)
    try:
        wrong = tmp_path / "wrong"
        wrong.write_text("a-long-but-wrong-token-value\n")
        with pytest.raises(UsageError, match="refused the token"):
            await probe(Endpoint.parse(guarded.url, str(wrong)))
        assert await probe(Endpoint.parse(guarded.url, str(token_file))) == 1.0
    finally:
        await asyncio.to_thread(guarded.stop)


async def test_a_stream_that_is_not_a_serves_is_told_not_swallowed() -> None:
    """Garbage where a snapshot should be: the viewer says so and keeps trying, it never hangs silently."""
    from aiohttp import web

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"event: snapshot\ndata: {\"taken_at\": \"\\u001b[31m\", \"clusters\": 7}\n\n")
        await asyncio.sleep(2)
        return response

    app = web.Application()
    app.router.add_get("/events", events)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    source = RemoteSource(Endpoint.parse(f"http://127.0.0.1:{port}"), backoff=(0.2,))
    try:
        with pytest.raises(ServerLost, match="not a snapshot"):
            await asyncio.wait_for(source.next(), 10)
    finally:
        await source.close()
        await runner.cleanup()
