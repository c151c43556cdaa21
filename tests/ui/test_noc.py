"""NOC: read-only wall layout that fits 80x24, cycles clusters, never prompts, stays bounded."""

from __future__ import annotations

from lbconsole.actions.registry import mutating
from lbconsole.source.replay import ReplaySource
from lbconsole.ui.screens.noc import NocScreen
from lbconsole.ui.widgets.tiles import Tile
from ui import synth
from ui.helpers import (
    WritableReplay,
    lines_of,
    make_app,
    screen_text,
    started,
    step,
    wait_for,
)


def visible_widgets_fit(app) -> bool:
    region = app.screen.region
    return all(region.contains_region(w.region) for w in app.screen.query("*") if w.display and w.region.area)


async def test_noc_fits_80x24_with_every_node(lab_recording, lab_snapshots):
    app = make_app(ReplaySource(lab_recording), noc=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        assert isinstance(app.screen, NocScreen)
        await pilot.pause(0.2)
        text = screen_text(app)
        cluster = lab_snapshots[0].clusters[0]
        for node in cluster.directors:
            assert node.name in text
            for inst in node.vrrp:
                assert inst.state in text
        for node in cluster.nodes:
            if node.has_role("nginx"):
                assert node.name in text
        assert "[RO]" in text
        assert visible_widgets_fit(app)
        assert app.theme == "noc"


async def test_noc_never_prompts(lab_recording):
    app = make_app(WritableReplay(lab_recording), noc=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        for spec in mutating():
            await pilot.press(spec.key)
        await pilot.press("slash", "enter")  # no filter and nothing to open on a wall
        await pilot.pause()
        assert len(app.screen_stack) == 1 and isinstance(app.screen, NocScreen)
        assert app.check_action("filter", ()) is False


async def test_noc_cycles_clusters():
    snap = synth.two_clusters()
    app = make_app(WritableReplay(lines_of([snap])), noc=True, noc_cycle_s=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        seen = set()
        for _ in range(50):
            seen.add(app.state.cluster.name)
            if len(seen) == len(snap.clusters):
                break
            await pilot.pause(0.05)
        assert seen == {c.name for c in snap.clusters}
        # The prod cluster is read_only in the data; the wall is read-only whatever the cluster says.
        assert app.is_read_only()


async def test_noc_does_not_grow_over_many_snapshots():
    snaps = [synth.lab(1000.0 + i, lb1="BACKUP" if i % 2 else "MASTER", lb2="MASTER" if i % 2 else "BACKUP")
             for i in range(60)]
    app = make_app(ReplaySource(lines_of(snaps)), noc=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await step(pilot, app, 5)
        widgets = len(list(app.screen.query("*")))
        tiles = len(app.screen.query(Tile))
        await step(pilot, app, 40)
        assert len(list(app.screen.query("*"))) == widgets
        assert len(app.screen.query(Tile)) == tiles
        assert len(app.state.events) <= app.state.events.maxlen


async def test_main_layout_adapts_to_80x24(lab_recording, lab_snapshots):
    app = make_app(ReplaySource(lab_recording))
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        await pilot.pause(0.2)
        assert app.screen.has_class("-narrow")
        assert not app.screen.query_one("#events-panel").display  # the event log gives way
        text = screen_text(app)
        cluster = lab_snapshots[0].clusters[0]
        for node in cluster.nodes:
            if node.has_role("director") or node.has_role("nginx"):
                assert node.name in text
        for svc in cluster.directors[0].ipvs:
            for rs in svc.real_servers:
                assert rs.key in text
        assert visible_widgets_fit(app)
    wide = make_app(ReplaySource(lab_recording))
    async with wide.run_test(size=(140, 45)) as pilot:
        await started(pilot, wide)
        await wait_for(pilot, lambda: wide.screen.query_one("#events-panel").display)
        assert wide.screen.has_class("-wide")
