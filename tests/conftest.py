"""Every test that needs the lab carries the `lab` mark, so `pytest -m "not lab"` runs the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

LAB_DIR = Path(__file__).resolve().parent / "lab"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "lab" in getattr(item, "fixturenames", ()) or LAB_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.lab)


@pytest.fixture(autouse=True)
def _audit_log_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit records of a test never land in the real ~/.local/state (a test may still point it elsewhere)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
