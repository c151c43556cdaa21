"""Mutating actions from keys: reason, a confirmation with Cancel focused, then the executor."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Input

from lbconsole.ui import operate
from lbconsole.ui.screens.confirm import ConfirmScreen
from lbconsole.ui.screens.main import MainScreen
from lbconsole.ui.screens.reason import ReasonScreen
from lbconsole.ui.widgets.directors import DirectorsTable
from lbconsole.ui.widgets.services import ServicesTable
from ui.helpers import WritableReplay, make_app, started, wait_for


@pytest.fixture
def executor(monkeypatch):
    calls = []
    result = {"ok": True, "message": "weight 0 on every director"}

    async def execute(ctx, name, target, params):
        calls.append((ctx, name, target, params))
        if isinstance(result, Exception):
            raise result
        return result

    monkeypatch.setattr(operate, "load_executor", lambda: execute)
    execute.calls = calls
    return execute


async def to_drain_confirmation(pilot, app, reason="kernel upgrade"):
    table = app.screen.query_one(ServicesTable)
    table.focus()
    table.cursor = next(i for i, k in enumerate(table.keys) if k[0] == "r")
    await pilot.pause()
    target = table.target()
    await pilot.press("d")
    await wait_for(pilot, lambda: isinstance(app.screen, ReasonScreen))
    await pilot.press("enter")  # an empty reason is not accepted
    assert isinstance(app.screen, ReasonScreen)
    await pilot.press(*reason, "enter")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    return target


async def test_drain_says_what_and_where_and_cancel_is_focused(lab_recording, lab_snapshots, executor):
    app = make_app(WritableReplay(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        target = await to_drain_confirmation(pilot, app)
        body = str(app.screen.body)
        assert target["real_server"] in body and target["service"] in body and "kernel upgrade" in body
        for node in lab_snapshots[0].clusters[0].directors:
            assert node.name in body  # every director, by name
        assert app.screen.focused.id == "cancel"
        await pilot.press("enter")  # Enter on the focused Cancel
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert executor.calls == []


async def test_confirmed_drain_calls_the_executor_once(lab_recording, executor):
    app = make_app(WritableReplay(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        target = await to_drain_confirmation(pilot, app)
        await pilot.press("right", "enter")  # move to Confirm, then confirm
        await wait_for(pilot, lambda: executor.calls)
        ctx, name, got, params = executor.calls[0]
        assert (name, got, params) == ("drain", target, {"reason": "kernel upgrade"})
        assert ctx.read_only is False and ctx.cluster == target["cluster"] and ctx.origin == "tui"
        await wait_for(pilot, lambda: any(e.kind == "action" for e in app.state.events))
        assert len(executor.calls) == 1


async def test_failover_targets_the_selected_instance(lab_recording, lab_snapshots, executor):
    app = make_app(WritableReplay(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        directors = app.screen.query_one(DirectorsTable)
        directors.focus()
        await pilot.pause()
        name, inst = directors.cursor_key
        await pilot.press("F")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert inst in app.screen.body and name in app.screen.body
        app.screen.query_one("#confirm", Button).press()
        await wait_for(pilot, lambda: executor.calls)
        assert executor.calls[0][1:3] == ("failover", {"kind": "vrrp_instance", "cluster": directors.view.name,
                                                       "instance": inst, "node": name})


async def test_executor_errors_are_shown_not_raised(lab_recording, executor, monkeypatch):
    async def broken(ctx, name, target, params):
        raise RuntimeError("lb2 did not become MASTER within 10 s")

    monkeypatch.setattr(operate, "load_executor", lambda: broken)
    app = make_app(WritableReplay(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await to_drain_confirmation(pilot, app)
        app.screen.query_one("#confirm", Button).press()
        await wait_for(pilot, lambda: any("did not become MASTER" in n.message for n in app._notifications))
        assert any(e.kind == "action" and e.severity == "critical" for e in app.state.events)
        assert app.is_running


async def test_missing_executor_says_actions_not_available(lab_recording, monkeypatch):
    monkeypatch.setattr(operate, "load_executor", lambda: None)
    app = make_app(WritableReplay(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await to_drain_confirmation(pilot, app)
        app.screen.query_one("#confirm", Button).press()
        await wait_for(pilot, lambda: any("actions not available" in n.message for n in app._notifications))


async def test_escape_cancels_the_reason(lab_recording, executor):
    app = make_app(WritableReplay(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        table = app.screen.query_one(ServicesTable)
        table.focus()
        table.cursor = 1
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonScreen))
        assert isinstance(app.focused, Input)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert executor.calls == []


def test_summarise_understands_the_likely_result_shapes():
    class Result:
        ok = False
        message = "refused: last in-service real server"

    assert operate.summarise(Result()) == (False, "refused: last in-service real server")
    assert operate.summarise({"exit_code": 0, "message": "verified"}) == (True, "verified")
    assert operate.summarise(None) == (True, "done")
    assert operate.summarise(False) == (False, "failed")


async def test_reverted_drains_are_reapplied_only_when_not_read_only(monkeypatch):
    from dataclasses import replace

    from lbconsole.snapshot import Alert, Drain
    from lbconsole.source.replay import ReplaySource
    from ui import synth
    from ui.helpers import lines_of

    drained = synth.lab(drain=Drain("kernel upgrade", "ops@host", 0, 100))  # drained, yet weight 100
    alert = Alert("warning", "drain_reverted", "10.99.0.100:80 10.99.0.21:80 is drained but has weight 100",
                  "lab", "lb1")
    reverted = replace(drained, alerts=(alert,))
    calls = []

    async def reapply(ctx, snapshot):
        calls.append((ctx.read_only, ctx.origin, snapshot))
        return [{"ok": True, "message": "weight 0 again on lb1"}]

    monkeypatch.setattr(operate, "reapply_drains", reapply)
    for source, expect in ((WritableReplay(lines_of([reverted])), 1), (ReplaySource(lines_of([reverted])), 0)):
        calls.clear()
        app = make_app(source)
        async with app.run_test(size=(120, 40)) as pilot:
            await started(pilot, app)
            await pilot.pause(0.2)
            assert len(calls) == expect
            if expect:
                assert calls[0][:2] == (False, "reapply")
                assert any(e.kind == "drain_reapply" for e in app.state.events)
