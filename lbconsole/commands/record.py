"""`lbconsole record [--inventory F] FILE [--count N] [--duration S]`: live snapshots to JSON lines.

Each snapshot is written and flushed as it arrives, so an interrupted
recording keeps everything up to the interruption. SIGTERM and SIGHUP (a
service manager's stop, timeout(1), a closed terminal) stop it as ctrl+c
does, between two snapshots, unless they were ignored when it started
(nohup). Never imports Textual.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
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


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


async def record(source: SnapshotSource, path: str, count: int | None = None, duration: float | None = None,
                 append: bool = False, progress: Callable[[int, Snapshot], None] | None = None,
                 report: dict[str, object] | None = None) -> int:
    """Write snapshots from `source` until count, duration or a stop signal; returns how many were written.

    `report` gets "signal" (the name of the signal that stopped the recording, if one did) and "dropped"
    (bytes of a torn last line cut off before appending)."""
    from lbconsole.source.recording import Writer

    deadline = time.monotonic() + duration if duration else None
    stop = asyncio.Event()
    caught: list[str] = []
    loop = asyncio.get_running_loop()
    handled = [sig for sig in STOP_SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN]

    def on_signal(sig: signal.Signals) -> None:
        caught.append(sig.name)
        stop.set()

    for sig in handled:
        loop.add_signal_handler(sig, on_signal, sig)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        with Writer(path, append=append) as writer:
            if report is not None:
                report["dropped"] = writer.dropped
            try:
                while count is None or writer.count < count:
                    timeout = None if deadline is None else deadline - time.monotonic()
                    if timeout is not None and timeout <= 0:
                        break
                    arriving = asyncio.ensure_future(source.next())
                    await asyncio.wait({arriving, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                    if not arriving.done():
                        arriving.cancel()
                        break
                    writer.write(arriving.result())
                    if progress:
                        progress(writer.count, arriving.result())
            finally:
                await source.close()
            if report is not None and caught:
                report["signal"] = caught[0]
            return writer.count
    finally:
        stopping.cancel()
        for sig in handled:
            loop.remove_signal_handler(sig)


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

    report: dict[str, object] = {}
    try:
        source = LivePoller(inv, read_only=True)  # recording changes nothing
        written = asyncio.run(record(source, args.file, args.count, args.duration, args.append,
                                     progress if sys.stderr.isatty() else None, report))
    except KeyboardInterrupt:
        print(f"\nlbconsole: recording stopped; {args.file} holds what was recorded", file=sys.stderr)
        return 0
    except OSError as exc:
        raise UsageError(f"cannot write {args.file}: {exc.strerror or exc}") from None
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if report.get("dropped"):
        print(f"lbconsole: {args.file} ended with a line cut short (a recorder was killed while writing it); "
              f"its {report['dropped']} bytes were removed before appending", file=sys.stderr)
    why = f" (stopped by {report['signal']})" if "signal" in report else ""
    print(f"{written} snapshots written to {args.file}{why}", file=sys.stderr)
    return 0
