"""Where snapshots come from: the live poller or a replayed recording.

The UI only talks to this interface, so live and replay look the same to it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from lbconsole.snapshot import Snapshot


class SnapshotSource(ABC):
    """Produces snapshots one at a time; `next()` never overlaps itself."""

    #: True when actions can never apply (replay, demo).
    replay: bool = False
    #: True when this console may never act (a viewer of `lbconsole serve`).
    read_only: bool = False

    @abstractmethod
    async def next(self) -> Snapshot:
        """Wait until the next snapshot is due, then return it."""

    def refresh_now(self) -> None:
        """Make the pending `next()` return as soon as possible."""

    def set_speed(self, factor: float) -> None:
        """Replay speed; ignored by live sources."""

    async def close(self) -> None:
        """Release connections."""
