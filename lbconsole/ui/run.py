"""`lbconsole` with no subcommand: build the snapshot source and run the console."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from lbconsole.errors import LbconsoleError
from lbconsole.source.base import SnapshotSource

if TYPE_CHECKING:
    from lbconsole.inventory import Inventory


def demo_recording() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "demo.jsonl"


def run_console(args: argparse.Namespace) -> int:
    noc = bool(getattr(args, "noc", False))
    read_only = bool(getattr(args, "read_only", False)) or noc
    theme = getattr(args, "theme", None)
    if getattr(args, "demo", False):
        from lbconsole.source import recording
        from lbconsole.source.replay import ReplaySource

        recording.check(demo_recording())  # a clear error now rather than an empty console
        return run_app(ReplaySource(demo_recording(), loop=True), read_only=True, noc=noc, theme=theme)
    from lbconsole import inventory as inv

    inventory = inv.load(getattr(args, "inventory", None))
    try:
        from lbconsole.source.poller import LivePoller
    except ImportError as exc:
        raise LbconsoleError(f"the live poller is not available: {exc}") from None
    return run_app(LivePoller(inventory, read_only=read_only), inventory=inventory, read_only=read_only, noc=noc,
                   theme=theme)


def run_app(source: SnapshotSource, *, inventory: Inventory | None = None, read_only: bool = False, noc: bool = False,
            theme: str | None = None, poll_interval: float | None = None) -> int:
    from lbconsole.ui.app import LbConsole

    app = LbConsole(source, inventory=inventory, read_only=read_only, noc=noc, theme=theme,
                    poll_interval=poll_interval)
    app.run()
    return app.return_code or 0
