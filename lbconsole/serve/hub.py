"""The hub: the latest snapshot, encoded once, fanned out to every viewer.

Each viewer has a bounded mailbox: one slot for the newest snapshot (a newer one
replaces an unsent one: drop-to-latest) and a short queue of event frames. Publishing
never waits on a viewer, so a slow or stalled viewer delays neither the poller nor the
other viewers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import asdict

from lbconsole.analyzers import transitions
from lbconsole.snapshot import Snapshot
from lbconsole.source import recording

EVENT_BACKLOG = 64  # event frames kept per viewer; older ones are dropped (and counted)


def sse(kind: str, data: str, ident: int | None = None) -> bytes:
    """One server-sent event; `data` is compact JSON, so it holds no newline."""
    head = f"event: {kind}\n" + (f"id: {ident}\n" if ident is not None else "")
    return (head + f"data: {data}\n\n").encode()


class Mailbox:
    """What one viewer has not been sent yet."""

    def __init__(self) -> None:
        self.snapshot: bytes | None = None
        self.events: deque[bytes] = deque(maxlen=EVENT_BACKLOG)
        self.wake = asyncio.Event()
        self.dropped = 0

    def offer(self, snapshot: bytes, events: bytes | None) -> None:
        if self.snapshot is not None:
            self.dropped += 1
        if events is not None:
            if len(self.events) == self.events.maxlen:
                self.dropped += 1
            self.events.append(events)
        self.snapshot = snapshot
        self.wake.set()

    def take(self) -> bytes:
        """Everything pending as one write: events first, then the newest snapshot."""
        parts = list(self.events)
        self.events.clear()
        if self.snapshot is not None:
            parts.append(self.snapshot)
            self.snapshot = None
        self.wake.clear()
        return b"".join(parts)


class Hub:
    def __init__(self, poll_interval: float):
        self.poll_interval = poll_interval
        self.snapshot: Snapshot | None = None
        self.snapshot_json = ""
        self.frame = b""  # the newest snapshot as an SSE frame
        self.seq = 0
        self.published_at = 0.0  # monotonic
        self.viewers: set[Mailbox] = set()
        self.dropped_total = 0  # frames dropped for viewers since start
        self.started_at = time.time()

    def hello(self) -> bytes:
        info = {"server": "lbconsole", "poll_interval": self.poll_interval, "seq": self.seq}
        return b"retry: 2000\n\n" + sse("hello", json.dumps(info))

    def publish(self, snapshot: Snapshot, encoded: str | None = None) -> None:
        """Take a new snapshot from the poller; never blocks."""
        events = transitions.diff(self.snapshot, snapshot)
        self.snapshot = snapshot
        self.snapshot_json = encoded if encoded is not None else recording.dumps(snapshot)
        self.seq += 1
        self.frame = sse("snapshot", self.snapshot_json, self.seq)
        self.published_at = time.monotonic()
        ev_frame = sse("events", json.dumps([asdict(e) for e in events])) if events else None
        for box in self.viewers:
            before = box.dropped
            box.offer(self.frame, ev_frame)
            self.dropped_total += box.dropped - before

    def attach(self) -> Mailbox:
        """A new viewer; the newest state is waiting in its mailbox at once."""
        box = Mailbox()
        if self.frame:
            box.offer(self.frame, None)
        self.viewers.add(box)
        return box

    def detach(self, box: Mailbox) -> None:
        self.viewers.discard(box)
