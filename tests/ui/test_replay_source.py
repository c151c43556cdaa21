"""ReplaySource: recorded pace divided by speed, pause, step, loop, end."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from lbconsole.source.replay import EndOfRecording, ReplaySource
from ui import synth
from ui.helpers import lines_of


def gaps(snaps):
    return [b.taken_at - a.taken_at for a, b in itertools.pairwise(snaps)]


async def test_honours_recorded_gaps_divided_by_speed():
    snaps = synth.sequence()[:3]
    speed = 10.0
    src = ReplaySource(lines_of(snaps), speed=speed)
    got, stamps = [], []
    for _ in snaps:
        got.append(await src.next())
        stamps.append(time.monotonic())
    assert got == snaps
    for wanted, (a, b) in zip(gaps(snaps), itertools.pairwise(stamps)):
        assert b - a == pytest.approx(wanted / speed, abs=0.05)


async def test_refresh_now_steps_without_waiting():
    snaps = synth.sequence()[:3]
    src = ReplaySource(lines_of(snaps), speed=0.001)  # a gap would take hours
    await src.next()
    src.refresh_now()
    assert await asyncio.wait_for(src.next(), 1) == snaps[1]


async def test_pause_holds_and_step_advances_while_paused():
    snaps = synth.sequence()[:3]
    src = ReplaySource(lines_of(snaps), speed=100)
    await src.next()
    src.pause()
    pending = asyncio.ensure_future(src.next())
    await asyncio.sleep(0.2)  # far beyond the gap at this speed
    assert not pending.done()
    src.refresh_now()
    assert await asyncio.wait_for(pending, 1) == snaps[1]
    src.resume()
    assert await asyncio.wait_for(src.next(), 1) == snaps[2]


async def test_end_of_recording_and_loop():
    snaps = synth.sequence()[:2]
    once = ReplaySource(lines_of(snaps), speed=1000)
    await once.next()
    await once.next()
    with pytest.raises(EndOfRecording):
        await once.next()
    looping = ReplaySource(lines_of(snaps), speed=1000, loop=True)
    seen = [await looping.next() for _ in range(5)]
    assert seen == [snaps[0], snaps[1], snaps[0], snaps[1], snaps[0]]


async def test_long_recorded_gaps_are_capped(monkeypatch):
    from lbconsole.source import replay

    a, b = synth.lab(1000.0), synth.lab(1000.0 + 3600)
    monkeypatch.setattr(replay, "MAX_GAP_S", 0.1)
    src = ReplaySource(lines_of([a, b]))
    await src.next()
    assert await asyncio.wait_for(src.next(), 1) == b


def test_speed_must_be_positive():
    with pytest.raises(ValueError):
        ReplaySource([], speed=0)


async def test_reads_a_file(lab_recording, lab_snapshots):
    src = ReplaySource(lab_recording, speed=1000)
    assert [await src.next() for _ in lab_snapshots] == lab_snapshots
