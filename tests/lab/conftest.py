"""The `lab` fixture: the real lab cluster, up for the whole session.

It yields the inventory path. It brings the lab up if it is not up, and takes it down at the
end only if it brought it up. There is no skipping: a lab that cannot come up fails the tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def lab() -> Path:
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root (namespaces, taps and a qemu VM)", pytrace=False)
    from lbconsole.lab import api

    brought_up = not api.is_up()
    if not brought_up and not api.status().ok:  # e.g. a daemon left stopped by an interrupted run
        print("lab: up but not healthy; making it afresh", flush=True)
        api.down()
        brought_up = True
    try:
        inventory = api.up(progress=lambda msg: print(f"lab: {msg}", flush=True))
    except api.LabError as exc:
        pytest.fail(f"the lab did not come up: {exc}", pytrace=False)
    yield inventory
    if brought_up:
        api.down()
