"""The `lab` fixture: the real lab cluster, up for the whole session.

It yields the inventory path. A test session holds the lab alone (an exclusive lock for the
whole session): lab tests break the cluster on purpose (split brain, failovers, stopped
daemons), so two sessions sharing it would see each other's faults. A lab left up by another
checkout is remade from this checkout's code. There is no skipping: a lab that cannot come up
fails the tests.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

CHECKOUT = str(Path(__file__).resolve().parents[2])


@pytest.fixture(scope="session")
def lab() -> Path:
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
