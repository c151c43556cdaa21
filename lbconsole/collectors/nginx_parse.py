"""nginx stub_status (ngx_http_stub_status_module) text -> NginxStatus.

The page is four lines with trailing spaces (nginx 1.22.1):
  "Active connections: 1 \nserver accepts handled requests\n 6 6 6 \nReading: 0 Writing: 1 Waiting: 0 \n"
Rates (requests_per_s, conns_per_s) come from two samples: the collector computes them.
"""

from __future__ import annotations

import re

from lbconsole.collectors.errors import ParseError, quote
from lbconsole.snapshot import NginxStatus

__all__ = ["parse_stub_status"]

_STUB = re.compile(
    r"\AActive connections:[ \t]*(\d+)[ \t]*\r?\n"
    r"server accepts handled requests[^\n]*\n"
    r"[ \t]*(\d+)[ \t]+(\d+)[ \t]+(\d+)[ \t]*\r?\n"
    r"Reading:[ \t]*(\d+)[ \t]+Writing:[ \t]*(\d+)[ \t]+Waiting:[ \t]*(\d+)[ \t]*\r?\n?\s*\Z",
    re.A)


def parse_stub_status(text: str) -> NginxStatus:
    """NginxStatus from the stub_status page; anything else (an HTML error page, a proxy's
    404, half a page) raises ParseError."""
    if not isinstance(text, str):
        raise ParseError("stub_status", "no text")
    m = _STUB.match(text.lstrip("\r\n"))
    if not m:
        first = text.strip().split("\n", 1)[0] if text.strip() else ""
        raise ParseError("stub_status", f"not an nginx stub_status page: {quote(first)}")
    a, acc, hnd, req, rd, wr, wt = map(int, m.groups())
    return NginxStatus(active=a, accepts=acc, handled=hnd, requests=req,
                       reading=rd, writing=wr, waiting=wt)
