"""Read-only: the badge is always there, mutating keys are hidden, and the actions are refused
whoever invokes them (key, palette, or a direct call), without reaching the executor."""

from __future__ import annotations

import pytest

from lbconsole.actions.registry import mutating
from lbconsole.source.replay import ReplaySource
from lbconsole.ui import operate
from lbconsole.ui.screens.base import ConsoleScreen
from lbconsole.ui.widgets.services import ServicesTable
from ui import synth
from ui.helpers import WritableReplay, lines_of, make_app, screen_text, started

MUTATING = [spec.name for spec in mutating()]


@pytest.fixture
def executor_calls(monkeypatch):
    calls = []

    async def execute(ctx, name, target, params):
        calls.append((ctx, name, target, params))
        return {"ok": True, "message": "done"}

    monkeypatch.setattr(operate, "load_executor", lambda: execute)
    return calls


def footer_keys(app) -> set[str]:
    return {b.binding.action for b in app.screen.active_bindings.values()
            if app.check_action(*_parse(b.binding.action)) is not False}


def _parse(action):
    from textual.actions import parse

    _, name, params = parse(action)
    return name, params


async def select_real_server(pilot, app):
    table = app.screen.query_one(ServicesTable)
    table.focus()
    table.cursor = next(i for i, k in enumerate(table.keys) if k[0] == "r")
    await pilot.pause()


def sources(lab_recording):
    return {
        "--read-only": lambda: (WritableReplay(lab_recording), {"read_only": True}),
        "cluster read_only": lambda: (WritableReplay(lines_of([synth.lab(read_only=True)])), {}),
        "replay": lambda: (ReplaySource(lab_recording), {}),
        "--noc": lambda: (WritableReplay(lab_recording), {"noc": True}),
    }


@pytest.mark.parametrize("why", ["--read-only", "cluster read_only", "replay", "--noc"])
async def test_read_only_hides_and_refuses_everything(lab_recording, executor_calls, why):
    source, kwargs = sources(lab_recording)[why]()
    app = make_app(source, **kwargs)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        assert app.is_read_only()
        assert "[RO]" in screen_text(app)
        if isinstance(app.screen, ConsoleScreen) and app.screen.query(ServicesTable) and not app.noc:
            await select_real_server(pilot, app)
        for name in MUTATING:
            assert app.check_action("act", (name,)) is False  # hidden from footer and palette
            assert f"act('{name}')" not in footer_keys(app)
        screens = len(app.screen_stack)
        for spec in mutating():
            await pilot.press(spec.key)  # the key answers: refused, and why
            await pilot.pause()
            await app.run_action(f"act('{spec.name}')")  # Textual drops it: check_action is False
            app.action_act(spec.name)  # a direct call reaches the refusal
            await pilot.pause()
        assert len(app.screen_stack) == screens  # no prompt ever opened
        assert executor_calls == []
        refusals = [n for n in app._notifications if n.title == "Refused"]
        assert len(refusals) == 2 * len(MUTATING)  # each key press and each direct call
        keyed = [n.message for n in refusals if not n.message.endswith("refused: read-only")]
        assert len(keyed) == len(MUTATING) and all(app.read_only_reason() in m for m in keyed), keyed
        assert {e.kind for e in app.state.events} >= {"action_refused"}


async def test_read_write_badge_and_keys_follow_the_selection(lab_recording):
    app = make_app(WritableReplay(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        assert not app.is_read_only()
        assert "[RW]" in screen_text(app)
        table = app.screen.query_one(ServicesTable)
        table.focus()
        table.cursor = 0  # a service row: nothing to drain
        await pilot.pause()
        assert app.check_action("act", ("drain",)) is None  # shown greyed, not hidden
        await select_real_server(pilot, app)
        assert app.check_action("act", ("drain",)) is True
        assert app.check_action("act", ("reload",)) is None  # no nginx node selected


async def test_palette_offers_no_mutating_action_in_read_only(lab_recording):
    from lbconsole.ui.commands import RegistryCommands

    for kwargs, expect in (({"read_only": True}, False), ({}, True)):
        app = make_app(WritableReplay(lab_recording), **kwargs)
        async with app.run_test(size=(120, 40)) as pilot:
            await started(pilot, app)
            await select_real_server(pilot, app)
            provider = RegistryCommands(app.screen)
            titles = {title for title, _, _ in provider._commands()}
            assert ("Drain" in titles) is expect
