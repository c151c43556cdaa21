"""The `lab` fixture: the real lab cluster, up for the whole session.

It yields the inventory path. It brings the lab up if it is not up, and takes it down at the
end only if it brought it up and no other test session (on a shared machine) still uses it.
There is no skipping: a lab that cannot come up fails the tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _other_users(users: Path) -> list[int]:
    from lbconsole.lab.proc import alive

    pids = [int(p.name) for p in users.glob("*") if p.name.isdigit()]
    return [pid for pid in pids if pid != os.getpid() and alive(pid)]


@pytest.fixture(scope="session")
def lab() -> Path:
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root (namespaces, taps and a qemu VM)", pytrace=False)
    from lbconsole.lab import api

    users = api.LAB_DIR / "users"
    users.mkdir(parents=True, exist_ok=True)
    me = users / str(os.getpid())
    me.touch()
    brought_up = not api.is_up()
    if not brought_up and not api.status().ok and not _other_users(users):
        print("lab: up but not healthy; making it afresh", flush=True)  # e.g. an interrupted run
        api.down()
        brought_up = True
    try:
        inventory = api.up(progress=lambda msg: print(f"lab: {msg}", flush=True))
    except api.LabError as exc:
        me.unlink(missing_ok=True)
        pytest.fail(f"the lab did not come up: {exc}", pytrace=False)
    yield inventory
    me.unlink(missing_ok=True)
    if brought_up and not _other_users(users):
        api.down()
