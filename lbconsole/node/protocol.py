"""The wire format: JSON objects, one per line (docs/node-agent.md).

Every string a daemon or a user wrote is a JSON string value here: json.dumps escapes
newlines and control characters, and ensure_ascii keeps each message one ASCII line, so no
value can ever end a message or start another one.
"""

import json
import time
from typing import (
    Any,
    Dict,
    Optional,
    Union,
)

BAD_REQUEST, UNKNOWN_VERB, READ_ONLY = "bad_request", "unknown_verb", "read_only"
REFUSED, FAILED, UNAVAILABLE, INTERNAL = "refused", "failed", "unavailable", "internal"
CODES = (BAD_REQUEST, UNKNOWN_VERB, READ_ONLY, REFUSED, FAILED, UNAVAILABLE, INTERNAL)
MAX_LINE = 16 * 1024 * 1024  # a request longer than this is refused, not buffered forever


class NodeError(Exception):
    """A request that ends in an error response with this code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def ok(req_id: Any, result: Any) -> Dict[str, Any]:
    return {"id": req_id, "ok": True, "result": result}


def error(req_id: Any, code: str, message: str) -> Dict[str, Any]:
    return {"id": req_id, "ok": False, "error": {"code": code, "message": message}}


def event(kind: str, data: Any, at: Optional[float] = None) -> Dict[str, Any]:
    return {"event": kind, "at": time.time() if at is None else at, "data": data}


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)


class Encoded(dict):  # type: ignore[type-arg]
    """A result whose JSON text was made ahead (a prepared sample, encoded once when it was taken): its
    answer line is put together around `text`, not encoded again on the request's path."""

    text = ""


def encode(message: Any) -> bytes:
    """One protocol line (bytes, ending in \\n)."""
    result = message.get("result") if isinstance(message, dict) else None
    if isinstance(result, Encoded) and result.text and message.get("ok") is True:
        head = to_json({"id": message.get("id"), "ok": True})
        return (head[:-1] + ',"result":' + result.text + "}\n").encode("ascii")
    return (to_json(message) + "\n").encode("ascii")


def decode(line: Union[bytes, str]) -> Dict[str, Any]:
    """A request object from one line, or NodeError(bad_request)."""
    try:
        obj = json.loads(line.decode("utf-8") if isinstance(line, bytes) else line)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise NodeError(BAD_REQUEST, f"a request must be one JSON object per line: {str(exc)[:80]}")
    if not isinstance(obj, dict):
        raise NodeError(BAD_REQUEST, f"a request must be a JSON object, not {type(obj).__name__}")
    return obj


def clean(text: Any, limit: Optional[int] = None) -> str:
    """Text for a message: control characters replaced (they are escaped on the wire anyway;
    this is for syslog and error messages a terminal may print)."""
    text = text if isinstance(text, str) else str(text)
    if limit is not None and len(text) > limit:
        text = text[:limit] + "..."
    return "".join(c if c >= " " and c != "\x7f" and not 0x80 <= ord(c) < 0xa0 else "?" for c in text)


def quote(text: str, limit: int = 60) -> str:
    """A short repr of daemon text for an error message."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text)
