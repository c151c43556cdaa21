"""The audit trail: every action attempt, refused ones included.

Each record is one JSON line appended to the operator's audit log (XDG state
dir) and fsynced before the action returns, and one line sent to the syslog
of the nodes involved through their agent's `audit` verb (stdlib syslog, ident
lbconsole). Records hold who, when, what, target, before, after, result and
message; never a secret.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lbconsole import paths

SYSLOG_TAG = "lbconsole"
SYSLOG_TIMEOUT_S = 10.0  # an open session answers in milliseconds; this is for a slow node
_SECRET_KEYS = ("auth_pass", "auth_data", "password", "secret")
_MAX_SYSLOG = 900  # syslog implementations cut around 1 KiB


def new_record(*, who: str, what: str, target: dict[str, Any], cluster: str | None, origin: str,
               params: dict[str, Any] | None = None) -> dict[str, Any]:
    now = time.time()
    return {"id": uuid.uuid4().hex[:12], "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "ts": round(now, 3), "who": who, "what": what, "cluster": cluster, "target": target,
            "params": params or {}, "origin": origin, "before": {}, "after": {}, "result": None,
            "exit_code": None, "message": ""}


def scrub(value: Any) -> Any:
    """Drop anything keyed like a secret, however deep (defence in depth: we never collect one)."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()
                if not any(s in str(k).lower() for s in _SECRET_KEYS)}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


class AuditLog:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else paths.audit_log()

    def append(self, record: dict[str, Any]) -> None:
        """Append one JSON line and fsync it (and the directory when the file is new)."""
        line = json.dumps(scrub(record), sort_keys=True, default=str) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            data = line.encode()
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


def syslog_line(record: dict[str, Any]) -> str:
    """One line for the nodes' syslog; correlates with the local record by id."""
    target = record.get("target") or {}
    where = " ".join(f"{k}={_flat(v)}" for k, v in target.items() if k not in ("kind", "cluster") and v)
    reason = (record.get("params") or {}).get("reason")
    parts = [f"id={record['id']}", f"who={record['who']}", f"action={record['what']}", where,
             f"result={record.get('result')}"]
    if reason:
        parts.append(f"reason={json.dumps(reason)}")
    message = " ".join(p for p in parts if p) + f" message={json.dumps(record.get('message', ''))}"
    return message.replace("\n", " ")[:_MAX_SYSLOG]


def _flat(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


async def to_syslog(ctx: Any, nodes: Iterable[Any], record: dict[str, Any]) -> list[str]:
    """The `audit` verb on each node (each once, concurrently); returns problems, not raises."""
    from lbconsole.actions import nodecall

    line = syslog_line(record)
    unique = list({n.name: n for n in nodes}.values())

    async def one(node: Any) -> str | None:
        # The node's name in the line: a shared syslog (or one without hostnames) still says where.
        try:
            reply = await asyncio.wait_for(nodecall.call(ctx, node, "audit", {"line": f"{line} node={node.name}"},
                                                         timeout=SYSLOG_TIMEOUT_S), SYSLOG_TIMEOUT_S + 1)
        except Exception as exc:  # unreachable node: the local record still stands
            return f"syslog on {node.name}: {exc or type(exc).__name__}"
        return None if reply.ok else f"syslog on {node.name}: {reply.error}"

    results = await asyncio.gather(*(one(n) for n in unique))
    return [r for r in results if r]
