"""Fixtures for the console tests: the lab recording and a fixed time zone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lbconsole.source import recording

RECORDINGS = Path(__file__).resolve().parent.parent / "fixtures" / "recordings"


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Wall-clock cells (snapshot times) render the same on every machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(autouse=True)
def truecolor_terminal(monkeypatch):
    """The default theme follows the terminal: tests pin one (a test may set another)."""
    monkeypatch.setenv("COLORTERM", "truecolor")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TEXTUAL_COLOR_SYSTEM", raising=False)


@pytest.fixture
def lab_recording() -> Path:
    """A recording of the real lab (tests/fixtures/recordings/make_lab_recording.py made it)."""
    return RECORDINGS / "lab.jsonl"


@pytest.fixture
def lab_snapshots(lab_recording):
    return recording.read_all(lab_recording)


@pytest.fixture
def splitbrain_recording() -> Path:
    """A real split brain in the lab: VRRP blocked between lb1 and lb2, then restored."""
    return RECORDINGS / "splitbrain.jsonl"


@pytest.fixture
def splitbrain_snapshots(splitbrain_recording):
    return recording.read_all(splitbrain_recording)
