"""nginx stub_status, fetched on the node with urllib and parsed here.

The page is four lines with trailing spaces (nginx 1.22.1):
  "Active connections: 1 \\nserver accepts handled requests\\n 6 6 6 \\nReading: 0 Writing: 1 Waiting: 0 \\n"
Anything else (an error page, a proxy's 404, a hostile body) is an error with a short quote,
never data. Only http and https URLs: urllib would read file:// as root.
"""

import re
import urllib.error
import urllib.request
from typing import (
    Any,
    Dict,
)

from .protocol import quote

TIMEOUT_S = 2.0
MAX_BODY = 64 * 1024
_STUB = re.compile(
    r"\AActive connections:[ \t]*(\d+)[ \t]*\r?\n"
    r"server accepts handled requests[^\n]*\n"
    r"[ \t]*(\d+)[ \t]+(\d+)[ \t]+(\d+)[ \t]*\r?\n"
    r"Reading:[ \t]*(\d+)[ \t]+Writing:[ \t]*(\d+)[ \t]+Waiting:[ \t]*(\d+)[ \t]*\r?\n?\s*\Z",
    re.ASCII)
_FIELDS = ("active", "accepts", "handled", "requests", "reading", "writing", "waiting")
# No proxy from the environment: the page is the node's own.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class NginxError(Exception):
    pass


def parse_stub_status(text: str) -> Dict[str, Any]:
    """The nginx object of `status --json` (rates 0: the console computes them from two samples)."""
    m = _STUB.match(text.lstrip("\r\n"))
    if not m:
        first = text.strip().split("\n", 1)[0] if text.strip() else ""
        raise NginxError(f"not an nginx stub_status page: {quote(first)}")
    out: Dict[str, Any] = dict(zip(_FIELDS, map(int, m.groups())))
    out.update(requests_per_s=0.0, conns_per_s=0.0)
    return out


def fetch(url: Any, timeout: float = TIMEOUT_S) -> Dict[str, Any]:
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise NginxError(f"nginx_status_url must be an http:// or https:// URL, got {quote(str(url))}")
    try:
        with _opener.open(url, timeout=timeout) as resp:
            body = resp.read(MAX_BODY + 1)
    except urllib.error.HTTPError as exc:
        raise NginxError(f"{url} answered HTTP {exc.code} {quote(str(exc.reason))}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NginxError(f"cannot fetch {url}: {reason}")
    if len(body) > MAX_BODY:
        raise NginxError(f"{url} sent more than {MAX_BODY} bytes: not a stub_status page")
    return parse_stub_status(body.decode("utf-8", "replace"))
