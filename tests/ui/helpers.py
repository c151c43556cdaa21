"""Helpers for the console tests: apps on replays, waiting for snapshots, stepping a paused replay."""

from __future__ import annotations

import time

from lbconsole.source import recording
from lbconsole.source.replay import ReplaySource
from lbconsole.ui.app import LbConsole


class WritableReplay(ReplaySource):
    """A replay the console treats as live, to test what read-only mode hides and refuses."""

    replay = False


def frozen_clock() -> float:
    return 0.0


def make_app(source, **kwargs) -> LbConsole:
    """An app that starts paused (tests step it) with a frozen clock (ages do not drift)."""
    kwargs.setdefault("clock", frozen_clock)
    kwargs.setdefault("start_paused", True)
    return LbConsole(source, **kwargs)


async def wait_for(pilot, condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within timeout")
        await pilot.pause(0.02)


async def started(pilot, app) -> None:
    """Wait for the first snapshot to be on a composed screen."""
    from lbconsole.ui.screens.base import ConsoleScreen

    # The stack first: app.screen raises while it is empty (a snapshot may come before the first screen).
    await wait_for(pilot, lambda: app.state.count >= 1 and bool(app.screen_stack)
                   and isinstance(app.screen, ConsoleScreen) and app.screen.is_mounted
                   and bool(app.screen.children) and app.screen.ready)
    await pilot.pause()
    await pilot.pause()  # the first draw lays labels out on the next refresh


async def step(pilot, app, n: int = 1) -> None:
    """Advance a paused replay by n snapshots with the refresh key."""
    for _ in range(n):
        target = app.state.count + 1
        await pilot.press("r")
        await wait_for(pilot, lambda target=target: app.state.count >= target)
    await pilot.pause()


def lines_of(snapshots) -> list[str]:
    return [recording.dumps(s) + "\n" for s in snapshots]


def screen_text(app) -> str:
    """What the terminal shows, as plain text (for asserting on visible content)."""
    lines = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in lines)
