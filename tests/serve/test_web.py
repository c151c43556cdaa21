"""`serve --web`: a browser session is a viewer subprocess of the one poller, behind the token."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest
from serve.conftest import TOKEN, Serve

from support import free_port


@pytest.fixture(scope="module")
def web_served(inventory: Path, token_file: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    serve = Serve(free_port(), ["--inventory", str(inventory), "--web", "--token-file", str(token_file)],
                  tmp_path_factory.mktemp("web") / "serve.log")
    serve.start()
    yield serve
    serve.stop()


async def viewers(session: aiohttp.ClientSession, base: str) -> int:
    async with session.get(f"{base}/healthz") as r:
        return int((await r.json())["viewers"])


async def test_a_browser_gets_the_read_only_console_as_a_viewer(web_served: Serve) -> None:
    base = web_served.url
    jar = aiohttp.CookieJar(unsafe=True)  # an IP address host: keep its cookies
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        async with session.get(f"{base}/web/") as r:
            assert r.status == 401
        async with session.get(f"{base}/web/?token=not-the-token-at-all") as r:
            assert r.status == 401
        async with session.get(f"{base}/web/?token={TOKEN}", allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/web/"
            assert "HttpOnly" in r.headers["Set-Cookie"] and "SameSite=Strict" in r.headers["Set-Cookie"]
        async with session.get(f"{base}/web/") as r:
            page = await r.text()
            assert r.status == 200 and f'data-session-websocket-url="ws://127.0.0.1:{web_served.port}/web/ws"' in page
        assert await viewers(session, base) == 0
        async with session.ws_connect(f"{base}/web/ws?width=120&height=40") as ws:
            seen = b""
            deadline = time.monotonic() + 30
            while b"site-a" not in seen or b"RO" not in seen:  # the console, its cluster, its read-only badge
                assert time.monotonic() < deadline, seen[-400:]
                msg = await asyncio.wait_for(ws.receive(), 30)
                assert msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), msg
                seen += msg.data if isinstance(msg.data, bytes) else msg.data.encode()
            assert await viewers(session, base) == 1  # the browser's console is a viewer, not a poller
        deadline = time.monotonic() + 15
        while await viewers(session, base) != 0:
            assert time.monotonic() < deadline, "the browser's viewer outlived its session"
            await asyncio.sleep(0.2)
    assert "bad token" in web_served.log.read_text()
    assert TOKEN not in web_served.log.read_text()


def test_web_needs_the_token_like_events(web_served: Serve) -> None:
    code, _, _ = web_served.get("/web/static/js/textual.js")
    assert code == 401
    code, body, _ = web_served.get("/healthz")
    assert code == 200 and json.loads(body)["ok"]
