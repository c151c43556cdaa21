"""Who may listen where, and with what: loopback by default; anything else needs TLS and a token.

The bearer token guards /snapshot, /events and the web console (and /metrics when the operator
asks). A bad or missing token gets 401, and the attempt is logged without the token itself.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware

from lbconsole.errors import UsageError

log = logging.getLogger("lbconsole.serve")

DEFAULT_LISTEN = "127.0.0.1:9810"
COOKIE = "lbconsole_token"
OPEN_PATHS = ("/healthz",)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT or [V6]:PORT."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--listen {text!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name may resolve anywhere


def read_token(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"token file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if len(token) < 16 or any(c.isspace() for c in token):
        raise UsageError(f"token file {path}: the token must be one word of at least 16 characters")
    return token


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"--tls-cert {cert} / --tls-key {key}: {exc}") from None
    return ctx


@dataclass(frozen=True)
class Security:
    token: str | None = None
    tls: ssl.SSLContext | None = None
    protect_metrics: bool = False

    @classmethod
    def for_listen(cls, host: str, token_file: str | None, cert: str | None, key: str | None,
                   protect_metrics: bool) -> Security:
        if bool(cert) != bool(key):
            raise UsageError("--tls-cert and --tls-key go together")
        if not is_loopback(host) and not (cert and token_file):
            raise UsageError(f"listening on {host} (not loopback) needs --tls-cert, --tls-key and --token-file")
        if protect_metrics and not token_file:
            raise UsageError("--protect-metrics needs --token-file")
        return cls(token=read_token(token_file) if token_file else None,
                   tls=tls_context(cert, key) if cert and key else None, protect_metrics=protect_metrics)

    def guarded(self, path: str) -> bool:
        if self.token is None or path in OPEN_PATHS:
            return False
        return self.protect_metrics or path != "/metrics"

    def check(self, request: web.Request) -> str | None:
        """None if the request carries the token, else why not (for the log)."""
        assert self.token is not None
        header = request.headers.get("Authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")
        if not given:
            return "no token"
        return None if hmac.compare_digest(given.encode(), self.token.encode()) else "bad token"

    def middleware(self) -> Middleware:
        @web.middleware
        async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
            if self.guarded(request.path):
                why = self.check(request)
                if why is not None and request.path.startswith("/web") and "token" in request.query:
                    raise self._web_login(request)
                if why is not None:
                    log.warning("401 %s %r from %s: %s", request.method, request.path, request.remote, why)
                    raise web.HTTPUnauthorized(text="401: a valid bearer token is required\n",
                                               headers={"WWW-Authenticate": 'Bearer realm="lbconsole"'})
            return await handler(request)

        return auth

    def _web_login(self, request: web.Request) -> web.HTTPFound:
        """A browser cannot send a bearer header: /web/?token=T sets a cookie, then drops T from the URL."""
        assert self.token is not None
        if not hmac.compare_digest(request.query["token"].encode(), self.token.encode()):
            log.warning("401 %s %r from %s: bad token", request.method, request.path, request.remote)
            raise web.HTTPUnauthorized(text="401: bad token\n")
        response = web.HTTPFound(request.path)
        response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict", secure=self.tls is not None,
                            path="/web")
        return response
