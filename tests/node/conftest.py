"""Fixtures for the node agent's tests (helpers in nodeenv.py)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from lbconsole.node import program
from node.nodeenv import NodeEnv, Session


@pytest.fixture
def work():
    # Not under /tmp: the node's own /tmp is a tmpfs that would hide it.
    path = Path(tempfile.mkdtemp(prefix="lbcnode-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def node(work):
    env = NodeEnv(work)
    yield env
    env.close()


@pytest.fixture(scope="session")
def program_file():
    d = Path(tempfile.mkdtemp(prefix="lbcnode-prog-", dir="/var/tmp"))
    path = d / "lbconsole-node"
    path.write_bytes(program.program_bytes())
    path.chmod(0o755)
    yield path
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def sessions():
    made: list[Session] = []
    yield made
    for s in made:
        if s.proc.poll() is None:
            s.proc.kill()
        s.proc.wait(10)
