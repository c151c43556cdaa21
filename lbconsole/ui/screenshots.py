"""Write SVG screenshots of the main views from a recording (by default the bundled demo).

    python -m lbconsole.ui.screenshots [--recording FILE] [--out screenshots/]

Writes main.svg (normal), noc.svg (wall display), alert.svg (the first alert in
the recording), narrow.svg (80x24), failover.svg (the first VRRP change, with its
toasts) and service.svg (a service drilled into).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from lbconsole.snapshot import Snapshot
from lbconsole.source import recording
from lbconsole.source.replay import ReplaySource


def _masters(s: Snapshot) -> set:
    return {(n.name, i.instance) for c in s.clusters for n in c.nodes for i in n.vrrp if i.state == "MASTER"}


def _first(snaps: list[Snapshot], test, default: int = 0) -> int:
    return next((i for i, s in enumerate(snaps) if test(i, s)), default)


def plan(snaps: list[Snapshot]) -> list[tuple[str, int, tuple[int, int], bool, tuple[str, ...]]]:
    """(name, snapshot index, size, noc, keys) for each screenshot, chosen from the data."""
    failover = _first(snaps, lambda i, s: i > 0 and _masters(s) != _masters(snaps[i - 1]))
    # The loudest moment that is not the failover: most critical alerts, then most alerts.
    alert = max((i for i in range(len(snaps)) if i != failover),
                key=lambda i: (sum(a.severity == "critical" for a in snaps[i].alerts), len(snaps[i].alerts), -i),
                default=0)
    def drained(s: Snapshot) -> bool:
        return any(rs.drain for c in s.clusters for n in c.nodes for v in n.ipvs for rs in v.real_servers)

    # A drain settled on every director (no alert), else the first sign of one.
    drain = _first(snaps, lambda i, s: drained(s) and not s.alerts, _first(snaps, lambda i, s: drained(s)))
    return [
        ("main", drain, (120, 36), False, ()),
        ("noc", 0, (120, 36), True, ()),
        ("alert", alert, (120, 36), False, ()),
        ("narrow", drain, (80, 24), False, ()),
        ("failover", failover, (120, 36), False, ()),
        ("service", drain, (110, 32), False, ("down", "enter")),
    ]


async def shoot(path: Path, index: int, size: tuple[int, int], noc: bool, keys: tuple[str, ...]) -> str:
    from lbconsole.ui.app import LbConsole

    # Crawling replay: nothing advances on its own; refresh steps exactly to the wanted snapshot.
    source = ReplaySource(path, speed=1e-6)
    app = LbConsole(source, noc=noc, clock=lambda: 0.0)
    async with app.run_test(size=size) as pilot:
        await _until(pilot, lambda: app.state.count >= 1)
        for _ in range(index):
            want = app.state.count + 1
            app.action_refresh()
            await _until(pilot, lambda: app.state.count >= want)
        source.speed = 1.0  # for the status line only: the wait in progress keeps its old timeout
        app.redraw()
        for key in keys:
            await pilot.press(key)
        await pilot.pause(0.3)
        return app.export_screenshot(title=f"lbconsole{' --noc' if noc else ''}")


async def _until(pilot, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the replay did not advance")
        await pilot.pause(0.02)


def main(argv: list[str] | None = None) -> int:
    from lbconsole.ui.run import demo_recording

    p = argparse.ArgumentParser(prog="python -m lbconsole.ui.screenshots", description=__doc__.splitlines()[0])
    p.add_argument("--recording", type=Path, default=demo_recording(), help="default: the bundled demo")
    p.add_argument("--out", type=Path, default=Path("screenshots"))
    args = p.parse_args(argv)
    snaps = recording.read_all(args.recording)
    if not snaps:
        print(f"{args.recording}: no snapshots", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for name, index, size, noc, keys in plan(snaps):
        svg = asyncio.run(shoot(args.recording, index, size, noc, keys))
        target = args.out / f"{name}.svg"
        target.write_text(svg, encoding="utf-8")
        print(f"{target}  (snapshot {index + 1}/{len(snaps)}, {size[0]}x{size[1]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
