"""`lbconsole serve`: one process polls every node and serves viewers, browsers and Prometheus.

    lbconsole serve --inventory F [--listen HOST:PORT] [--token-file F] [--tls-cert C --tls-key K]
                    [--protect-metrics] [--web]

Loopback by default; any other address needs TLS and a token file. Never imports Textual
(the web console runs it in subprocesses).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile

from lbconsole import inventory as inventory_mod
from lbconsole.serve.security import DEFAULT_LISTEN, Security, parse_listen


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from lbconsole.cli import add_common

    parser = sub.add_parser("serve", help="one poller for the site: viewers (--connect), browsers, /metrics")
    add_common(parser)
    parser.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                        help=f"address to serve on (default {DEFAULT_LISTEN}; not loopback needs TLS and a token)")
    parser.add_argument("--token-file", metavar="FILE", help="bearer token for /events, /snapshot and /web")
    parser.add_argument("--tls-cert", metavar="FILE", help="TLS certificate chain (PEM)")
    parser.add_argument("--tls-key", metavar="FILE", help="TLS private key (PEM)")
    parser.add_argument("--protect-metrics", action="store_true", help="/metrics needs the token too")
    parser.add_argument("--web", action="store_true", help="serve the read-only console to browsers at /web/")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    host, port = parse_listen(args.listen)
    security = Security.for_listen(host, args.token_file, args.tls_cert, args.tls_key, args.protect_metrics)
    inv = inventory_mod.load(args.inventory)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s lbconsole serve: %(levelname)s %(message)s")
    try:
        asyncio.run(_serve(inv, host, port, security, args))
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(inv: inventory_mod.Inventory, host: str, port: int, security: Security,
                 args: argparse.Namespace) -> None:
    from lbconsole.serve.server import Server
    from lbconsole.source.poller import (
        LivePoller,  # asyncssh is slow to import: only when serving
    )

    server = Server(LivePoller(inv), inv.poll_interval, security)
    log = logging.getLogger("lbconsole.serve")
    unix_path = None
    private = None
    if args.web:
        from lbconsole.serve import web

        private = tempfile.TemporaryDirectory(prefix="lbconsole-serve-")  # 0700: only this user's viewers
        unix_path = os.path.join(private.name, "viewers.sock")
        await web.mount(server.app, web.viewer_command(
            unix_path, os.path.abspath(args.token_file) if args.token_file else None))

    def started(url: str) -> None:
        nodes = len(inv.nodes)
        log.info("serving %d node%s on %s%s", nodes, "" if nodes == 1 else "s", url,
                 f" (browsers: {url}/web/)" if args.web else "")

    try:
        await server.run(host, port, unix_path, started)
    finally:
        if private is not None:
            private.cleanup()
