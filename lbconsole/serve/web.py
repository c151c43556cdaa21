"""`serve --web`: the read-only console in browsers, through textual-serve, under /web/.

Each browser gets a `lbconsole --connect` subprocess: a viewer of this server's one poller
(over a private unix socket), never a poller of its own. The token middleware guards /web
like /events; a browser logs in once with /web/?token=T, which sets a cookie.
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

from aiohttp import web
from textual_serve.server import Server as TextualServer


class _ConsoleServer(TextualServer):
    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a banner here; `serve` logs its own start."""

    async def handle_index(self, request: web.Request) -> Any:
        # The page's URLs must match what the browser used (scheme, host, port).
        self.public_url = f"{request.scheme}://{request.host}"
        return await super().handle_index(request)


def viewer_command(unix_path: str, token_file: str | None, noc: bool = False) -> str:
    """The shell command textual-serve runs for each browser."""
    argv = [sys.executable, "-m", "lbconsole", "--connect", f"unix:{unix_path}"]
    if token_file:
        argv += ["--token-file", token_file]
    if noc:
        argv.append("--noc")
    return shlex.join(argv)


async def mount(app: web.Application, command: str) -> None:
    console = _ConsoleServer(command, title="lbconsole")
    app.add_subapp("/web/", await console._make_app())
