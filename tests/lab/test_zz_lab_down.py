"""`lab down` leaves nothing behind, and the lab comes up again. Runs last among the lab tests
(file name), and leaves the lab up for whatever runs after it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lbconsole.lab import api, lifecycle, netns, vm
from lbconsole.lab import topology as t
from lbconsole.lab.proc import alive, recorded_pids

pytestmark = pytest.mark.lab


def test_down_leaves_nothing_and_up_works_again(lab):
    pids = dict(recorded_pids())
    qemu = vm.pid()
    assert qemu and len(pids) >= len(t.HOST_NODES) + 1
    down = subprocess.run([sys.executable, "-m", "lbconsole", "lab", "down"], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert down.returncode == 0, down.stderr

    assert [ns for ns in netns.existing() if ns.startswith(t.PREFIX)] == []
    assert [name for name, pid in pids.items() if alive(pid)] == []
    assert not alive(qemu) and vm.pid() is None
    assert netns.root_taps([n.tap for n in t.DIRECTORS]) == []
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "node-boot.sh" not in ps and "-name lbc-vm" not in ps  # no node holder, no VM
    assert not api.is_up() and not lifecycle.leftovers()
    assert not netns.host_routes_guarded()
    api.down()  # idempotent

    assert api.up() == Path(lab)
    assert api.is_up()
    assert netns.host_routes_guarded()  # lab addresses cannot leak out of the host's namespace
    assert api.run("client", f"curl -s -m 5 http://{t.VIP}/", check=True).stdout in {
        f"hello from {b.name}\n" for b in t.BACKENDS}
