"""`lbconsole lab up` on a machine without the Debian packages it needs names each of them."""

from __future__ import annotations

import os

import pytest

from lbconsole.lab import prereqs
from lbconsole.lab.errors import LabError


def fake_bin(tmp_path, commands):
    d = tmp_path / "bin"
    d.mkdir()
    for c in commands:
        (d / c).write_text("#!/bin/sh\n")
        os.chmod(d / c, 0o755)
    return str(d)


def test_every_missing_package_is_named_with_its_commands(tmp_path):
    have = [c for p, cs in prereqs.PACKAGES.items() if p not in ("keepalived", "qemu-system-x86") for c in cs]
    path = fake_bin(tmp_path, have)
    assert prereqs.missing(path) == {"keepalived": ["keepalived"], "qemu-system-x86": ["qemu-system-x86_64"]}
    with pytest.raises(LabError) as err:
        prereqs.ensure(lambda msg: None, install=False, path=path)
    assert str(err.value) == (
        "the lab needs these Debian packages, missing here: keepalived (keepalived), qemu-system-x86 "
        "(qemu-system-x86_64); install them with: apt-get install --no-install-recommends keepalived qemu-system-x86")


def test_nothing_missing_is_quiet(tmp_path):
    path = fake_bin(tmp_path, [c for cs in prereqs.PACKAGES.values() for c in cs])
    said = []
    prereqs.ensure(said.append, install=False, path=path)
    assert said == [] and prereqs.missing(path) == {}


def test_this_machine_has_what_the_lab_needs():
    """CI installs every package of PACKAGES (.ci/run's apt-get line): the list and CI agree."""
    from pathlib import Path

    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert all(p in ci for p in prereqs.PACKAGES)
    assert prereqs.missing() == {}
