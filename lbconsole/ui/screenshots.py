"""Write SVG screenshots of the main views from a recording (by default the bundled demo).

    python -m lbconsole.ui.screenshots [--recording FILE] [--out screenshots/]

Writes main.svg (normal), noc.svg (wall display, 240x67), alert.svg (a real
split brain, from the split-brain recording of the lab), narrow.svg (80x24),
failover.svg (a forced failover: planned, INFO), service.svg (a service
drilled into), and, when the recording carries nginx upstreams (issue 11),
backends.svg (the backends tier, 160x48: a failing or drained server if there
is one) and backend.svg (the first backend's own screen). Each moment is
chosen from the data, so the captions stay true for a new recording.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lbconsole.snapshot import Snapshot
from lbconsole.source import recording
from lbconsole.source.replay import ReplaySource

if TYPE_CHECKING:
    from textual.pilot import Pilot

RECORDINGS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "recordings"
SPLITBRAIN = RECORDINGS / "splitbrain.jsonl"
PLANNED = RECORDINGS / "planned.jsonl"


def _masters(s: Snapshot) -> set[tuple[str, str]]:
    return {(n.name, i.instance) for c in s.clusters for n in c.nodes for i in n.vrrp if i.state == "MASTER"}


def _first(snaps: list[Snapshot], test: Callable[[int, Snapshot], bool], default: int = 0) -> int:
    return next((i for i, s in enumerate(snaps) if test(i, s)), default)


def _forced(s: Snapshot) -> bool:
    return any(n.forced for c in s.clusters for n in c.nodes)


def _both_master(s: Snapshot) -> bool:
    return sum(1 for c in s.clusters for n in c.nodes for i in n.vrrp if i.state == "MASTER") > 1


def _has_upstreams(s: Snapshot) -> bool:
    return any(n.upstreams for c in s.clusters for n in c.nodes)


def _not_all_up(s: Snapshot) -> bool:
    return any(sv.state != "up" for c in s.clusters for n in c.nodes for u in n.upstreams or () for sv in u.servers)


def backend_keys(s: Snapshot) -> tuple[str, ...]:
    """From the main screen to the first backend's screen: Tab to the backends tier, down to its first server."""
    from lbconsole.ui.model import ClusterView
    from lbconsole.ui.upstream_view import unread

    view = ClusterView(s.clusters[0])  # the console shows the first cluster first
    notes = sum(1 for n in view.nginx if unread(n) is not None)
    return ("tab", *("down",) * (notes + 1), "enter")


def plan(snaps: list[Snapshot], brain: list[Snapshot] | None = None, planned: list[Snapshot] | None = None,
         ) -> list[tuple[str, int, tuple[int, int], bool, tuple[str, ...], str]]:
    """(name, snapshot index, size, noc, keys, which recording: "" the demo, "splitbrain", "planned")."""
    failover = _first(snaps, lambda i, s: i > 0 and _masters(s) != _masters(snaps[i - 1]))
    # A forced failover that has taken over: the old master forced, the peer MASTER.
    forced = _first(snaps, lambda i, s: _forced(s) and _masters(s) != _masters(snaps[0]), failover)

    def drained(s: Snapshot) -> bool:
        return any(rs.drain for c in s.clusters for n in c.nodes for v in n.ipvs for rs in v.real_servers)

    # A drain settled on every director, else the first sign of one.
    drain = _first(snaps, lambda i, s: drained(s) and all(a.severity == "info" for a in s.alerts),
                   _first(snaps, lambda i, s: drained(s)))
    shots = [
        ("main", drain, (120, 36), False, (), ""),
        ("noc", 0, (240, 67), True, (), ""),
        ("narrow", drain, (80, 24), False, (), ""),
        ("service", drain, (110, 32), False, ("down", "enter"), ""),
    ]
    if any(_has_upstreams(s) for s in snaps):  # the backends tier: something not up if it ever was
        shown = _first(snaps, lambda i, s: _has_upstreams(s) and _not_all_up(s),
                       _first(snaps, lambda i, s: _has_upstreams(s)))
        shots.append(("backends", shown, (160, 48), False, (), ""))
        shots.append(("backend", shown, (120, 36), False, backend_keys(snaps[shown]), ""))
    if planned:  # the peer MASTER and the old one forced
        start = _masters(planned[0])
        taken = _first(planned, lambda i, s: _forced(s) and bool(_masters(s)) and _masters(s) != start)
        shots.append(("failover", min(len(planned) - 1, taken + 4), (120, 36), False, (), "planned"))
    else:
        shots.append(("failover", min(len(snaps) - 1, forced + 2), (120, 36), False, (), ""))
    if brain:
        both = _first(brain, lambda i, s: _both_master(s))
        shots.append(("alert", min(len(brain) - 1, both + 3), (120, 36), False, (), "splitbrain"))
    return shots


async def shoot(path: Path, index: int, size: tuple[int, int], noc: bool, keys: tuple[str, ...]) -> str:
    from lbconsole.ui.app import LbConsole

    # Crawling replay: nothing advances on its own; refresh steps exactly to the wanted snapshot.
    source = ReplaySource(path, speed=1e-6)
    app = LbConsole(source, noc=noc, clock=lambda: 0.0, theme="noc" if noc else "lbconsole-dark")  # not the env's
    async with app.run_test(size=size) as pilot:
        await _until(pilot, lambda: app.state.count >= 1)
        for _ in range(index):
            want = app.state.count + 1
            app.action_refresh()

            def reached(want: int = want) -> bool:
                return app.state.count >= want

            await _until(pilot, reached)
        source.speed = 1.0  # for the status line only: the wait in progress keeps its old timeout
        app.redraw()
        for key in keys:
            await pilot.press(key)
        await pilot.pause(0.3)
        return app.export_screenshot(title=f"lbconsole{' --noc' if noc else ''}")


async def _until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the replay did not advance")
        await pilot.pause(0.02)


def main(argv: list[str] | None = None) -> int:
    from lbconsole.ui.run import demo_recording

    p = argparse.ArgumentParser(prog="python -m lbconsole.ui.screenshots", description=__doc__.splitlines()[0])
    p.add_argument("--recording", type=Path, default=demo_recording(), help="default: the bundled demo")
    p.add_argument("--splitbrain", type=Path, default=SPLITBRAIN,
                   help="a split-brain recording for alert.svg (default: the lab's, in a checkout)")
    p.add_argument("--planned", type=Path, default=PLANNED,
                   help="a planned-failover recording for failover.svg (default: the lab's, in a checkout)")
    p.add_argument("--out", type=Path, default=Path("screenshots"))
    args = p.parse_args(argv)
    snaps = recording.read_all(args.recording)
    if not snaps:
        print(f"{args.recording}: no snapshots", file=sys.stderr)
        return 2
    brain = recording.read_all(args.splitbrain) if args.splitbrain.exists() else None
    planned = recording.read_all(args.planned) if args.planned.exists() else None
    args.out.mkdir(parents=True, exist_ok=True)
    paths = {"": args.recording, "splitbrain": args.splitbrain, "planned": args.planned}
    for name, index, size, noc, keys, which in plan(snaps, brain, planned):
        path = paths[which]
        svg = asyncio.run(shoot(path, index, size, noc, keys))
        target = args.out / f"{name}.svg"
        target.write_text(svg, encoding="utf-8")
        print(f"{target}  ({path.name} snapshot {index + 1}, {size[0]}x{size[1]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
