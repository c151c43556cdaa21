"""`lbconsole record [--inventory F] FILE [--count N] [--duration S]`: live snapshots to JSON lines.

Each snapshot is written and flushed as it arrives, so an interrupted
recording keeps everything up to the interruption. Never imports Textual.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from lbconsole import inventory as inventory_mod
from lbconsole import safetext
from lbconsole.errors import UsageError

if TYPE_CHECKING:
    from lbconsole.snapshot import Snapshot
    from lbconsole.source.base import SnapshotSource


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from lbconsole.cli import add_common

    parser = sub.add_parser("record", help="write live snapshots to a JSON-lines file (for replay and --demo)")
    add_common(parser)
    parser.add_argument("file", metavar="FILE", help="recording to write (JSON lines)")
    parser.add_argument("--count", type=int, metavar="N", help="stop after N snapshots")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument("--append", action="store_true", help="append to FILE instead of replacing it")
    parser.set_defaults(func=run)


async def record(source: SnapshotSource, path: str, count: int | None = None, duration: float | None = None,
                 append: bool = False, progress: Callable[[int, Snapshot], None] | None = None) -> int:
    """Write snapshots from `source` until count or duration; returns how many were written."""
    from lbconsole.source.recording import Writer

    deadline = time.monotonic() + duration if duration else None
    with Writer(path, append=append) as writer:
        try:
            while count is None or writer.count < count:
                timeout = None if deadline is None else deadline - time.monotonic()
                if timeout is not None and timeout <= 0:
                    break
                try:
                    snapshot = await asyncio.wait_for(source.next(), timeout)
                except TimeoutError:
                    break
                writer.write(snapshot)
                if progress:
                    progress(writer.count, snapshot)
        finally:
            await source.close()
        return writer.count


def run(args: argparse.Namespace) -> int:
    if args.count is not None and args.count < 1:
        raise UsageError("--count must be at least 1")
    if args.duration is not None and not 0 < args.duration < float("inf"):  # nan fails both
        raise UsageError("--duration must be a number of seconds above 0")
    inv = inventory_mod.load(args.inventory)
    from lbconsole.source.poller import LivePoller  # asyncssh is slow to import: only when recording

    def progress(n: int, snapshot: Snapshot) -> None:
        down = [n.name for c in snapshot.clusters for n in c.nodes if not n.reachable]
        note = safetext.line(f", unreachable: {' '.join(down)}") if down else ""
        print(f"\rrecorded {n} snapshot{'s' if n != 1 else ''}{note}   ", end="", file=sys.stderr, flush=True)

    try:
        source = LivePoller(inv, read_only=True)  # recording changes nothing
        written = asyncio.run(record(source, args.file, args.count, args.duration, args.append,
                                     progress if sys.stderr.isatty() else None))
    except KeyboardInterrupt:
        print(f"\nlbconsole: recording stopped; {args.file} holds what was recorded", file=sys.stderr)
        return 0
    except OSError as exc:
        raise UsageError(f"cannot write {args.file}: {exc.strerror or exc}") from None
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"{written} snapshots written to {args.file}", file=sys.stderr)
    return 0
