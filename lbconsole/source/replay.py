"""Replay a recording as a SnapshotSource, with the recorded pace.

The first snapshot comes at once; each next one after the recorded gap
(`taken_at` delta) divided by `speed`. While paused nothing advances;
`refresh_now()` steps to the next snapshot at once, paused or not.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from lbconsole.snapshot import Snapshot
from lbconsole.source import recording
from lbconsole.source.base import SnapshotSource

MAX_GAP_S = 30.0  # a recording paused for an hour should not replay an hour of nothing
LOOP_GAP_S = 1.0  # between the last snapshot and the first when looping


class EndOfRecording(Exception):
    """Raised by next() when a recording without loop has been played out."""


class ReplaySource(SnapshotSource):
    replay = True

    def __init__(self, recording_: str | os.PathLike[str] | Iterable[str], speed: float = 1.0, loop: bool = False):
        if isinstance(recording_, (str, os.PathLike)):
            self.path: Path | None = Path(recording_)
            self._lines: list[str] | None = None
            self.name = self.path.name
        else:
            self.path = None
            self._lines = list(recording_)
            self.name = "<recording>"
        self._wake = asyncio.Event()
        self.speed = 1.0
        self.set_speed(speed)
        self.loop = loop
        self.paused = False
        self.position = 0  # snapshots handed out in the current pass
        self._iter: Iterator[Snapshot] | None = None
        self._prev: Snapshot | None = None
        self._step = False

    def _open(self) -> Iterator[Snapshot]:
        if self.path is not None:
            return recording.read(self.path)
        return recording.parse_lines(self._lines or [])

    def _read(self) -> Snapshot | None:
        if self._iter is None:
            self._iter = self._open()
        return next(self._iter, None)

    async def next(self) -> Snapshot:
        snap = self._read()
        gap = 0.0 if self._prev is None else LOOP_GAP_S
        if snap is None:
            if not self.loop or self._prev is None:
                raise EndOfRecording(self.name)
            self._iter, self.position = None, 0
            snap = self._read()
            if snap is None:
                raise EndOfRecording(self.name)
        elif self._prev is not None:
            gap = min(MAX_GAP_S, max(0.0, snap.taken_at - self._prev.taken_at))
        await self._wait(gap)
        self._prev = snap
        self.position += 1
        return snap

    async def _wait(self, gap: float) -> None:
        """Sleep `gap` replay seconds, counting only while not paused; a step ends it."""
        loop = asyncio.get_running_loop()
        remaining = gap
        while not self._step and (self.paused or remaining > 0):
            self._wake.clear()
            started = loop.time()
            try:
                await asyncio.wait_for(self._wake.wait(), None if self.paused else remaining / self.speed)
            except TimeoutError:
                pass
            if not self.paused:
                remaining -= (loop.time() - started) * self.speed
        self._step = False

    def refresh_now(self) -> None:
        """Step: hand out the next snapshot now, even while paused."""
        self._step = True
        self._wake.set()

    def pause(self) -> None:
        self.paused = True
        self._wake.set()

    def resume(self) -> None:
        self.paused = False
        self._wake.set()

    def set_speed(self, factor: float) -> None:
        if not factor > 0:
            raise ValueError(f"speed must be above 0, not {factor}")
        self.speed = float(factor)
        self._wake.set()  # re-time a wait in progress

    async def close(self) -> None:
        self._iter = None
