"""Drain and failover driven from the console on the real lab: through Pilot (App.run_test) and
through a real terminal (tmux in the ops namespace); read-only refused from keys and the palette."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual.widgets import Button

from lbconsole import inventory as inventory_mod
from lbconsole.actions.audit import AuditLog
from lbconsole.lab import api
from lbconsole.source.poller import LivePoller
from lbconsole.ui.app import LbConsole
from lbconsole.ui.screens.confirm import ConfirmScreen
from lbconsole.ui.screens.main import MainScreen
from lbconsole.ui.screens.reason import ReasonScreen
from lbconsole.ui.widgets.services import ServicesTable
from support import wait_for
from support.lab_actions import SVC, master, reset_lab, rs, weights

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
WEB1 = rs("web1")


@pytest.fixture
def clean_lab(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    reset_lab()
    yield lab
    reset_lab()


async def until(pilot, condition, timeout: float = 90.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.2)


def has_rs(app) -> bool:
    snap = app.state.snapshot
    node = snap.cluster("lab").node("lb1") if snap else None
    return bool(node and node.reachable and node.service(SVC) and node.service(SVC).real_server(WEB1))


def notified(app, text: str) -> bool:
    return any(text in str(n.message) for n in app._notifications)


async def select_rs(pilot, app, service: str, real_server: str) -> None:
    table = app.screen.query_one(ServicesTable)
    table.focus()
    await until(pilot, lambda: any(k[0] == "r" and k[1] == service for k in table.keys), what="the real servers")
    table.cursor = next(i for i, k in enumerate(table.keys)
                        if k[0] == "r" and k[1] == service and _label(k) == real_server)
    await pilot.pause()
    assert table.target()["real_server"] == real_server


def _label(key) -> str:
    from lbconsole.ui.model import rs_label

    return rs_label(key[2])


async def confirm(pilot, app) -> None:
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 10, "the confirmation")
    assert app.screen.focused.id == "cancel"
    app.screen.query_one("#confirm", Button).press()
    await until(pilot, lambda: isinstance(app.screen, MainScreen), 10, "the main screen")


async def test_pilot_drain_undrain_and_failover_release(clean_lab):
    inv = inventory_mod.load(str(clean_lab))
    with api.in_ops_netns():
        app = LbConsole(LivePoller(inv), inventory=inv)
        async with app.run_test(size=(130, 40)) as pilot:
            await until(pilot, lambda: has_rs(app), what="the first snapshot with lb1's table")
            await select_rs(pilot, app, SVC, WEB1)
            await pilot.press("d")
            await until(pilot, lambda: isinstance(app.screen, ReasonScreen), 10, "the reason prompt")
            await pilot.press(*"tui drain", "enter")
            await confirm(pilot, app)
            await until(pilot, lambda: notified(app, f"drained {WEB1}"), what="the drain result")
            assert weights(WEB1) == {"lb1": 0, "lb2": 0}
            await select_rs(pilot, app, SVC, WEB1)
            await pilot.press("u")
            await confirm(pilot, app)
            await until(pilot, lambda: notified(app, f"undrained {WEB1}"), what="the undrain result")
            assert weights(WEB1) == {"lb1": 100, "lb2": 100}

            await pilot.press("F")  # one VRRP instance in the lab: no selection needed
            await confirm(pilot, app)
            await until(pilot, lambda: notified(app, "lb2 is MASTER of VI_1"), what="the failover result")
            assert master() == "lb2"
            await pilot.press("R")
            await confirm(pilot, app)
            await until(pilot, lambda: notified(app, "released VI_1"), what="the release result")
            assert master() == "lb1"
            await pilot.press("q")
    assert [(r["what"], r["origin"], r["result"]) for r in AuditLog().read()] == [
        ("drain", "tui", "done"), ("undrain", "tui", "done"), ("failover", "tui", "done"), ("release", "tui", "done")]
    assert AuditLog().read()[0]["params"]["reason"] == "tui drain"


async def test_pilot_read_only_refuses_keys_and_palette(clean_lab, tmp_path):
    ro = tmp_path / "ro.toml"
    ro.write_text(Path(clean_lab).read_text().replace('name = "lab"', 'name = "lab"\nread_only = true'))
    inv = inventory_mod.load(str(ro))
    with api.in_ops_netns():
        app = LbConsole(LivePoller(inv), inventory=inv)
        async with app.run_test(size=(130, 40)) as pilot:
            await until(pilot, lambda: has_rs(app), what="the first snapshot")
            await select_rs(pilot, app, SVC, WEB1)
            for key in ("d", "u", "F", "R"):
                await pilot.press(key)
                await pilot.pause(0.3)
                assert isinstance(app.screen, MainScreen)  # no reason prompt, no confirmation
            app.action_act("drain")  # what a palette entry or a binding would call
            await until(pilot, lambda: notified(app, "Drain refused: read-only"), 10, "the refusal")
            await pilot.press("ctrl+p")
            await pilot.press(*"Drain")
            await pilot.pause(1.0)
            palette = app.screen
            assert "Drain" not in " ".join(str(getattr(o, "prompt", o)) for o in _options(palette))
            await pilot.press("escape")
    assert weights(WEB1) == {"lb1": 100, "lb2": 100} and master() == "lb1"


def _options(palette):
    from textual.widgets import OptionList

    found = palette.query(OptionList)
    return [found.first().get_option_at_index(i) for i in range(found.first().option_count)] if found else []


def tmux(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=check)


def test_real_terminal_drain_and_failover(clean_lab, tmp_path):
    session = f"lbc-actions-{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if k != "COLORTERM"}
    env["XDG_STATE_HOME"] = str(tmp_path)
    cmd = ["ip", "netns", "exec", "lbc-ops", "env", f"XDG_STATE_HOME={tmp_path}", sys.executable, "-m", "lbconsole",
           "--inventory", str(clean_lab)]
    subprocess.run(["tmux", "-f", "/dev/null", "new-session", "-d", "-s", session, "-x", "130", "-y", "40",
                    "-c", str(ROOT), "env", "TERM=xterm-256color", *cmd], check=True, env=env)

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", session).stdout

    def keys(*k: str) -> None:
        tmux("send-keys", "-t", session, *k)
        time.sleep(0.4)

    try:
        wait_for(lambda: WEB1 in screen(), 90, 1, "the real servers on screen")
        # The services table has the focus; the filter leaves port 80's service row, then web1's row.
        keys("/")
        keys("-l", WEB1)
        keys("Enter")
        keys("Down")
        keys("d")
        wait_for(lambda: "reason" in screen().lower(), 20, 0.5, "the reason prompt")
        keys("-l", "tmux drain")
        keys("Enter")
        wait_for(lambda: "Cancel" in screen(), 20, 0.5, "the confirmation")
        keys("Right")
        keys("Enter")
        wait_for(lambda: weights(WEB1) == {"lb1": 0, "lb2": 0}, 60, 1, "web1 drained on both directors")
        # The drain runs to its end (it follows active connections down) before the cluster takes another
        # action: a failover key pressed meanwhile is refused, by design.
        wait_for(lambda: any(r["what"] == "drain" for r in AuditLog().read()), 90, 1, "the drain's audit line")
        keys("F")
        wait_for(lambda: "Cancel" in screen(), 20, 0.5, "the failover confirmation")
        keys("Right")
        keys("Enter")
        wait_for(lambda: master() == "lb2", 60, 1, "lb2 MASTER")
        wait_for(lambda: any(r["what"] == "failover" for r in AuditLog().read()), 60, 1, "the failover audit line")
        keys("q")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nscreen:\n{screen()}") from None
    finally:
        tmux("kill-session", "-t", session, check=False)
    records = [(r["what"], r["origin"], r["result"]) for r in AuditLog().read()]
    assert records == [("drain", "tui", "done"), ("failover", "tui", "done")], records
