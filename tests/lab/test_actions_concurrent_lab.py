"""A second action key while a drain runs on the real lab: the drain runs to its end on both directors,
the second is refused with a toast naming the drain, and the audit log holds both attempts."""

from __future__ import annotations

import pytest
from textual.widgets import Button

from lab.test_actions_tui_lab import clean_lab, has_rs, notified, select_rs, until  # noqa: F401  (clean_lab: fixture)
from lbconsole import inventory as inventory_mod
from lbconsole.actions.audit import AuditLog
from lbconsole.lab import api
from lbconsole.source.poller import LivePoller
from lbconsole.ui.app import LbConsole
from lbconsole.ui.screens.confirm import ConfirmScreen
from lbconsole.ui.screens.reason import ReasonScreen
from support.lab_actions import SVC, hold_connections, master, rs, weights

pytestmark = pytest.mark.lab
WEB1 = rs("web1")


def seen(app: LbConsole) -> str:
    snap = app.state.snapshot
    if snap is None:
        return "no snapshot yet"
    return "; ".join(f"{n.name}: reachable={n.reachable} error={n.error} services={[v.key for v in n.ipvs]}"
                     for n in snap.clusters[0].nodes if n.has_role("director"))


async def test_second_action_key_during_a_drain(clean_lab):  # noqa: F811
    inv = inventory_mod.load(str(clean_lab))
    holder = None
    try:
        with api.in_ops_netns():
            app = LbConsole(LivePoller(inv), inventory=inv)
            async with app.run_test(size=(130, 40)) as pilot:
                try:  # a loaded machine makes the VM slow to log into: the poll is not what is tested here
                    await until(pilot, lambda: has_rs(app), 240, "the first snapshot with lb1's table")
                except AssertionError as exc:
                    raise AssertionError(f"{exc}: {seen(app)}") from None
                # Opened now, not before the (possibly slow) first poll: they must outlast the drain's start.
                holder = hold_connections(6, 20.0)  # connections on web1 keep the drain following them
                held_on = holder.stdout.readline().split() if holder.stdout else []
                assert "web1" in held_on, held_on
                await select_rs(pilot, app, SVC, WEB1)
                await pilot.press("d")
                await until(pilot, lambda: isinstance(app.screen, ReasonScreen), 10, "the reason prompt")
                await pilot.press(*"two keys", "enter")
                await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 10, "the confirmation")
                app.screen.query_one("#confirm", Button).press()
                await until(pilot, lambda: bool(app.runner.executing()), 10, "the drain running")
                await until(pilot, lambda: notified(app, "active connections"), 60, "the drain following conns")
                assert app.runner.executing()  # still running: the held connections are open
                await pilot.press("u")  # the second action key, on the same real server
                await until(pilot, lambda: notified(app, "Undrain") and notified(app, "is running"), 10,
                            "the refusal toast")
                await pilot.press("F")  # and another kind of action in the same cluster
                await until(pilot, lambda: notified(app, "Failover VI_1 refused"), 10, "the failover refusal")
                await until(pilot, lambda: notified(app, f"drained {WEB1}"), 90, "the drain result")
                assert weights(WEB1) == {"lb1": 0, "lb2": 0}  # both directors: the drain was not cut short
                assert master() == "lb1"
                await pilot.press("q")
    finally:
        if holder is not None:
            holder.wait(60)
    records = [(r["what"], r["result"]) for r in AuditLog().read()]
    assert sorted(records) == [("drain", "done"), ("failover", "refused"), ("undrain", "refused")], records
    refusal = next(r for r in AuditLog().read() if r["what"] == "undrain")
    assert "Drain" in refusal["message"] and "is running" in refusal["message"]
