"""Fixtures the lab's action tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.lab_actions import reset_lab


@pytest.fixture
def clean_lab(lab: Path) -> Iterator[Path]:
    """The lab with no drain, forced failover or changed weight left, before and after the test (a module may
    define its own)."""
    reset_lab()
    yield lab
    reset_lab()
