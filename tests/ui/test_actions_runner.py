"""A confirmed action runs to its end: one per cluster, never cancelled by a key, every outcome audited."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Button

from lbconsole.actions.audit import AuditLog
from lbconsole.ui import operate
from lbconsole.ui.screens.confirm import ConfirmScreen
from lbconsole.ui.widgets.directors import DirectorsTable
from ui.helpers import WritableReplay, make_app, started, wait_for
from ui.test_actions_flow import to_drain_confirmation


@pytest.fixture
def audit(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return AuditLog()


@pytest.fixture
def slow(monkeypatch):
    """An executor that holds until released, and says what it applied on the way."""
    gate = asyncio.Event()
    calls, ends = [], []

    async def execute(ctx, name, target, params):
        calls.append((name, target))
        ctx.progress("weight 0 set on lb1")
        try:
            await gate.wait()
        except asyncio.CancelledError:
            ends.append("cancelled")
            raise
        ends.append("done")
        return {"ok": True, "message": f"{name} done"}

    monkeypatch.setattr(operate, "load_executor", lambda: execute)
    execute.gate, execute.calls, execute.ends = gate, calls, ends
    return execute


async def confirm(pilot, app) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    app.screen.query_one("#confirm", Button).press()


async def test_a_second_action_key_is_refused_and_the_first_runs_to_its_end(lab_recording, slow, audit):
    app = make_app(WritableReplay(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await to_drain_confirmation(pilot, app)
        await confirm(pilot, app)
        await wait_for(pilot, lambda: slow.calls)
        await pilot.press("u")  # a second action key on the same server, while the drain runs
        await wait_for(pilot, lambda: any("refused" in str(n.message) for n in app._notifications))
        refusal = next(str(n.message) for n in app._notifications if "refused" in str(n.message))
        assert "Drain" in refusal and "is running" in refusal and "one action at a time" in refusal
        assert len(slow.calls) == 1 and slow.ends == []  # not cancelled, not doubled
        slow.gate.set()
        await wait_for(pilot, lambda: slow.ends == ["done"])
        await wait_for(pilot, lambda: not app.runner.running)
    [rec] = audit.read()  # the fake executor writes no record of its own: the refusal's is ours
    assert rec["what"] == "undrain" and rec["result"] == "refused" and "Drain" in rec["message"]


async def test_quit_waits_for_the_running_action(lab_recording, slow, audit):
    app = make_app(WritableReplay(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await to_drain_confirmation(pilot, app)
        await confirm(pilot, app)
        await wait_for(pilot, lambda: slow.calls)
        await pilot.press("q")
        await pilot.pause(0.3)
        assert app.is_running and slow.ends == []
        assert any("leaves when it is done" in str(n.message) for n in app._notifications)
        slow.gate.set()
        await wait_for(pilot, lambda: not app.is_running)
    assert slow.ends == ["done"] and audit.read() == []  # done: the executor's own record is the one


async def test_a_second_quit_leaves_and_records_the_action_as_interrupted(lab_recording, slow, audit):
    app = make_app(WritableReplay(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        target = await to_drain_confirmation(pilot, app)
        await confirm(pilot, app)
        await wait_for(pilot, lambda: slow.calls)
        await pilot.press("q")
        await pilot.pause(0.1)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)
    [rec] = audit.read()
    assert rec["result"] == "interrupted" and rec["what"] == "drain" and "interrupted by quit" in rec["message"]
    assert "weight 0 set on lb1" in rec["message"] and rec["target"]["real_server"] == target["real_server"]
    assert rec["params"]["reason"] == "kernel upgrade"


async def test_losing_the_terminal_records_the_action_as_interrupted(lab_recording, slow, audit):
    app = make_app(WritableReplay(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await to_drain_confirmation(pilot, app)
        await confirm(pilot, app)
        await wait_for(pilot, lambda: slow.calls)
        app.exit()  # what the driver does when the terminal goes
        await wait_for(pilot, lambda: not app.is_running)
    [rec] = audit.read()
    assert rec["result"] == "interrupted" and "terminal lost" in rec["message"]


async def test_failover_from_the_backup_row_names_the_master(lab_recording, lab_snapshots, slow, audit):
    app = make_app(WritableReplay(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        directors = app.screen.query_one(DirectorsTable)
        directors.focus()
        backup = next(i for i, (name, inst) in enumerate(directors.keys)
                      if inst and any(v.instance == inst and v.state == "BACKUP"
                                      for v in directors.view.node(name).vrrp))
        directors.cursor = backup
        await pilot.pause()
        row_node, inst = directors.cursor_key
        master = next(n.name for n in directors.view.directors
                      if any(v.instance == inst and v.state == "MASTER" for v in n.vrrp))
        assert row_node != master
        await pilot.press("F")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert f"{master} (MASTER) steps down" in app.screen.body and f"{row_node} (MASTER)" not in app.screen.body
        app.screen.query_one("#confirm", Button).press()
        await wait_for(pilot, lambda: slow.calls)
        assert slow.calls[0] == ("failover", {"kind": "vrrp_instance", "cluster": directors.view.name,
                                              "instance": inst, "node": master})
        slow.gate.set()


async def test_snapshots_never_cancel_a_re_apply(monkeypatch):
    """Re-apply is one serial job: each run ends, however fast snapshots come."""
    from dataclasses import replace

    from lbconsole.snapshot import Alert, Drain
    from ui import synth
    from ui.helpers import lines_of

    drained = synth.lab(drain=Drain("kernel upgrade", "ops@host", 0, 100))
    reverted = replace(drained, alerts=(Alert("warning", "drain_reverted", "reverted", "lab", "lb1"),))
    started_, ended = [], []

    async def reapply(ctx, snapshot):
        started_.append(snapshot)
        await asyncio.sleep(0.3)  # slower than the snapshots
        ended.append(snapshot)
        return []

    monkeypatch.setattr(operate, "reapply_drains", reapply)
    app = make_app(WritableReplay(lines_of([reverted])))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        for _ in range(12):  # a snapshot every 0.05 s
            app.take(reverted)
            await pilot.pause(0.05)
        await wait_for(pilot, lambda: len(ended) >= 2 and len(ended) == len(started_) and not app.reapply_job.latest)
    assert len(ended) == len(started_)  # none cancelled


async def test_a_read_only_refusal_from_the_console_is_audited(lab_recording, slow, audit):
    app = make_app(WritableReplay(lab_recording), read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        app.action_act("drain")  # what a palette entry would call
        await wait_for(pilot, lambda: any("refused" in str(n.message) for n in app._notifications))
    [rec] = audit.read()
    assert rec["what"] == "drain" and rec["result"] == "refused" and "read-only" in rec["message"]
    assert slow.calls == []
