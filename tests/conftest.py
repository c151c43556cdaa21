"""Every test that needs the lab carries the `lab` mark, so `pytest -m "not lab"` runs the rest."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
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

# The `lab` fixture: the real lab cluster, up for the whole session; it yields the inventory path.
# It lives here, not in tests/lab, so every directory that uses it shares ONE fixture: a second
# definition (an import of it elsewhere) would run again and wait forever on the session lock this
# process already holds. A test session holds the lab alone (an exclusive lock for the whole session):
# lab tests break the cluster on purpose (split brain, failovers, stopped daemons), so two sessions
# sharing it would see each other's faults. A lab left up by another checkout is remade from this
# checkout's code. There is no skipping: a lab that cannot come up fails the tests.
CHECKOUT = str(Path(__file__).resolve().parents[1])


@pytest.fixture(scope="session")
def lab() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root (namespaces, taps and a qemu VM)", pytrace=False)
    from lbconsole.lab import api

    api.LAB_DIR.mkdir(parents=True, exist_ok=True)
    session_lock = open(api.LAB_DIR / "session.lock", "w")
    print("lab: waiting for the lab session lock", flush=True)
    fcntl.flock(session_lock, fcntl.LOCK_EX)
    made_by = api.LAB_DIR / "made-by"
    try:
        if api.is_up():
            mine = made_by.exists() and made_by.read_text() == CHECKOUT
            if not mine or not api.status().ok:
                print("lab: up but not this checkout's or not healthy; making it afresh", flush=True)
                api.down()
        try:
            inventory = api.up(progress=lambda msg: print(f"lab: {msg}", flush=True))
        except api.LabError as exc:
            pytest.fail(f"the lab did not come up: {exc}", pytrace=False)
        made_by.write_text(CHECKOUT)
        yield inventory
        api.down()
        made_by.unlink(missing_ok=True)
    finally:
        session_lock.close()
