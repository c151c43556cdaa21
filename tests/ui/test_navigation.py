"""Pilot tests on the replayed lab recording: what the main screen shows, drilling down, keys."""

from __future__ import annotations

import re
import time

from lbconsole.actions.registry import ACTIONS
from lbconsole.source.replay import ReplaySource
from lbconsole.ui.model import ClusterView, vip_address
from lbconsole.ui.screens.help import HelpScreen
from lbconsole.ui.screens.main import MainScreen
from lbconsole.ui.screens.node import NodeScreen
from lbconsole.ui.screens.service import ServiceScreen
from lbconsole.ui.widgets.grid import Grid
from ui.helpers import make_app, screen_text, started, step, wait_for


def on_line(word: str, line: str) -> bool:
    return re.search(rf"(^|\W){re.escape(word)}(\W|$)", line) is not None


def vrrp_states(s):
    return {(n.name, i.instance): i.state for c in s.clusters for n in c.nodes for i in n.vrrp}


def changed_nodes(before, after) -> set[str]:
    old, new = vrrp_states(before), vrrp_states(after)
    return {node for (node, inst), state in new.items() if old.get((node, inst)) not in (None, state)}


def first_vrrp_change(snapshots):
    """Index of the first snapshot whose VRRP states differ from the one before (from the data)."""
    return next(i for i in range(1, len(snapshots)) if changed_nodes(snapshots[i - 1], snapshots[i]))


async def test_main_screen_shows_the_three_tiers(lab_recording, lab_snapshots):
    app = make_app(ReplaySource(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        text = screen_text(app)
        cluster = lab_snapshots[0].clusters[0]
        assert cluster.name in text
        for node in cluster.directors:
            for inst in node.vrrp:
                rows = [line for line in text.splitlines() if on_line(node.name, line) and inst.state in line]
                assert rows and inst.instance in rows[0]
                row = rows[0]
                for vip in ClusterView.held_vips(node, inst):
                    assert vip in row  # who holds the VIP is on that director's line
        for node in cluster.nodes:
            if node.has_role("nginx"):
                assert node.name in text
        for svc in cluster.directors[0].ipvs:
            assert svc.key in text
            for rs in svc.real_servers:
                assert rs.key in text


async def test_enter_opens_the_service_with_every_director_side_by_side(lab_recording, lab_snapshots):
    app = make_app(ReplaySource(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("down", "enter")  # the first real server of the first service
        assert isinstance(app.screen, ServiceScreen)
        cluster = lab_snapshots[0].clusters[0]
        svc = cluster.directors[0].ipvs[0]
        assert app.screen.service_key == svc.key
        grid = app.screen.query_one("#real-servers", Grid)
        assert grid.cursor_key == (svc.real_servers[0].address, svc.real_servers[0].port)
        labels = [c.label for c in grid.columns]
        for node in cluster.directors:
            assert f"{node.name} w" in labels and f"{node.name} act" in labels
            assert app.screen.query_one(f"#cps-{node.name}")  # a sparkline per director
            assert app.screen.query_one(f"#act-{node.name}")
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_node_screen_lists_instances_and_that_nodes_events(lab_recording, lab_snapshots):
    change = first_vrrp_change(lab_snapshots)
    app = make_app(ReplaySource(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await step(pilot, app, change)
        await pilot.press("shift+tab", "shift+tab")  # services -> nginx -> directors
        assert app.focused.id == "directors"
        changed = changed_nodes(lab_snapshots[change - 1], lab_snapshots[change])
        while app.focused.cursor_key[0] not in changed:
            await pilot.press("down")
        await pilot.press("enter")
        assert isinstance(app.screen, NodeScreen)
        node = lab_snapshots[change].clusters[0].node(app.screen.node_name)
        text = screen_text(app)
        for inst in node.vrrp:
            assert inst.instance in text and inst.state in text
        events = app.state.events_for(node.name)
        assert events and all(e.node == node.name for e in events)
        assert events[-1].message in text


async def test_vrrp_change_toasts_and_logs_within_a_second(lab_recording, lab_snapshots):
    change = first_vrrp_change(lab_snapshots)
    app = make_app(ReplaySource(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await step(pilot, app, change - 1)
        applied_at = []
        original = app.take

        def take(snapshot):
            applied_at.append(time.monotonic())
            return original(snapshot)

        app.take = take
        await step(pilot, app)
        changes = [e for e in app.state.events if e.kind == "vrrp_state"]
        assert changes
        toasts = [n for n in app._notifications if n.title == "vrrp state"]
        assert sorted(t.message for t in toasts) == sorted(e.message for e in changes)
        for t in toasts:
            assert t.raised_at - time.time() + time.monotonic() - applied_at[0] < 1.0
        text = screen_text(app)
        assert all(e.message[:40] in text for e in changes)  # in the event log panel


async def test_filter_narrows_and_escape_clears(lab_recording, lab_snapshots):
    app = make_app(ReplaySource(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        svc = lab_snapshots[0].clusters[0].directors[0].ipvs[0]
        wanted = svc.real_servers[-1].key
        await pilot.press("slash", *wanted)
        table = app.screen.query_one("#services", Grid)
        shown = sorted(f"{k[1]} {k[2][0]}:{k[2][1]}" for k in table.keys if k[0] == "r")
        every = lab_snapshots[0].clusters[0].directors[0].ipvs
        assert shown == sorted(f"{s.key} {rs.key}" for s in every for rs in s.real_servers if wanted in rs.key)
        await pilot.press("enter")  # keep the filter, back to the table
        assert app.focused is table
        await pilot.press("slash", "escape")
        assert len([k for k in table.keys if k[0] == "r"]) == sum(
            len(s.real_servers) for s in lab_snapshots[0].clusters[0].directors[0].ipvs)


async def test_help_lists_every_registry_action(lab_recording):
    app = make_app(ReplaySource(lab_recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        titles = [row[1] for row in app.screen.rows]
        assert all(spec.title in titles for spec in ACTIONS)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_palette_runs_registry_actions(lab_recording):
    app = make_app(ReplaySource(lab_recording), start_paused=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        assert not app.paused
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"pause")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.paused)


async def test_pause_and_refresh_step_one_snapshot(lab_recording, lab_snapshots):
    app = make_app(ReplaySource(lab_recording), start_paused=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("p")
        assert app.paused and "PAUSED" in screen_text(app)
        count = app.state.count
        await pilot.pause(1.5)  # longer than the recorded gaps
        assert app.state.count in (count, count + 1)  # at most one that was already on its way
        count = app.state.count
        await step(pilot, app)
        assert app.state.count == count + 1
        assert app.state.snapshot.taken_at == lab_snapshots[count].taken_at


async def test_q_quits_cleanly(lab_recording):
    closed = []
    source = ReplaySource(lab_recording)
    original = source.close

    async def close():
        closed.append(True)
        await original()

    source.close = close
    app = make_app(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)
    assert app.return_code in (0, None)
    assert closed == [True]


async def test_vip_addresses_are_read_from_keepalived_spelling():
    assert vip_address("10.98.0.100/24 dev lbp-va scope global set") == "10.98.0.100"
    assert vip_address("10.99.0.100") == "10.99.0.100"
