"""Issue 9 in the console: what the operator sees is true, complete and never crashes.

Each test names the issue item it covers; each failed on the code before the fix.
"""

from __future__ import annotations

from dataclasses import replace

from lbconsole.analyzers.transitions import Event
from lbconsole.snapshot import Address, Forced, Snapshot
from lbconsole.source.replay import ReplaySource
from lbconsole.ui.screens.main import MainScreen
from lbconsole.ui.screens.node import NodeScreen
from lbconsole.ui.widgets.directors import DirectorsTable
from lbconsole.ui.widgets.event_log import EventLog
from lbconsole.ui.widgets.services import ServicesTable
from lbconsole.ui.widgets.status_bar import StatusBar
from lbconsole.ui.widgets.tiles import Tile
from ui import synth
from ui.helpers import WritableReplay, lines_of, make_app, screen_text, started, step

T = synth.T if hasattr(synth, "T") else 1_700_000_000.0


async def settle(pilot) -> None:
    """A pushed screen draws after its first refresh, and labels lay out on the next."""
    for _ in range(3):
        await pilot.pause(0.15)


def named(snap: Snapshot) -> Snapshot:
    """The lab's nodes with their inventory addresses (the lab inventory's hosts)."""
    hosts = {"web1": "10.99.0.21", "web2": "10.99.0.22", "web3": "10.99.0.23"}
    cluster = snap.clusters[0]
    nodes = tuple(replace(n, host=hosts.get(n.name, n.host)) for n in cluster.nodes)
    return replace(snap, clusters=(replace(cluster, nodes=nodes),))


# -- item 8: a redraw can never raise -------------------------------------------------------------------

async def test_a_tick_while_the_screen_is_taken_down_never_raises(lab_recording):
    """On exit Textual prunes a screen's children before the screen, and the 1 Hz tick still fires.

    This reproduces that state (children gone, screen still mounted and on the stack) and ticks:
    before the fix `_tick` raised NoMatches for '#cluster' on StatusBar() and DirectorsTable on MainScreen.
    """
    app = make_app(ReplaySource(lab_recording))
    async with app.run_test(size=(120, 36)) as pilot:
        await started(pilot, app)
        screen = app.screen
        assert isinstance(screen, MainScreen) and screen.is_mounted
        await screen.query_one(StatusBar).remove_children()
        app._tick()
        app.redraw()
        await screen.query_one(DirectorsTable).remove()
        app._tick()
        app.redraw()
        await pilot.pause()


async def test_screens_draw_only_once_composed():
    state_app = make_app(ReplaySource(lines_of([synth.lab()])))
    async with state_app.run_test(size=(100, 30)) as pilot:
        await started(pilot, state_app)
        for screen in (MainScreen(), NodeScreen("lab", "lb1")):  # made, not yet mounted
            screen.show(state_app.state)
            screen.tick(state_app.state)
        bar = StatusBar()
        bar.update_from(state_app)  # before compose: nothing to look up, nothing raised


async def test_quitting_while_ticking_never_raises(lab_recording):
    for _ in range(3):
        app = make_app(ReplaySource(lab_recording))
        async with app.run_test(size=(100, 30)) as pilot:
            await started(pilot, app)
            app.exit()
            for _ in range(5):
                app._tick()
                app.redraw()
                await pilot.pause(0)


# -- item 4: blindness is an alert ----------------------------------------------------------------------

async def test_never_all_clear_while_nodes_have_not_answered():
    from lbconsole.snapshot import PENDING, NodeSnapshot

    base = synth.lab(T)
    cluster = base.clusters[0]
    nodes = tuple(NodeSnapshot(name=n.name, host=n.host, roles=n.roles, error=PENDING)
                  if n.has_role("director") else n for n in cluster.nodes)
    snap = replace(base, clusters=(replace(cluster, nodes=nodes),))
    app = make_app(ReplaySource(lines_of([snap])))
    async with app.run_test(size=(120, 36)) as pilot:
        await started(pilot, app)
        text = screen_text(app)
        assert "no alerts" not in text
        assert "waiting for lb1, lb2" in text


# -- item 5: the whole fleet at a glance --------------------------------------------------------------

async def test_every_clusters_worst_alert_is_visible_and_c_goes_to_it():
    snap = synth.two_clusters(T)
    prod, staging = snap.clusters
    split = synth.lab(T, lb1="MASTER", lb2="MASTER").clusters[0]
    staging = replace(staging, nodes=split.nodes)
    app = make_app(ReplaySource(lines_of([replace(snap, clusters=(prod, staging))])))
    async with app.run_test(size=(120, 36)) as pilot:
        await started(pilot, app)
        await settle(pilot)
        assert app.state.cluster.name == "prod"
        header = screen_text(app).splitlines()[0]
        assert "staging ▲" in header  # the other cluster's CRITICAL, with its glyph
        await pilot.press("c")
        await settle(pilot)
        assert app.state.cluster.name == "staging"
        assert "split brain" in screen_text(app)


# -- item 6: the event log never hides a new event ------------------------------------------------------

async def test_a_new_event_is_always_in_view(lab_recording):
    app = make_app(ReplaySource(lab_recording))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        for i in range(40):
            app.state.events.append(Event(T + i, "note", f"old event {i}", app.state.cluster.name))
        app.redraw()
        log = app.screen.query_one(EventLog)
        log.focus()
        await pilot.press("end")  # the operator scrolled down to read old events
        await pilot.pause()
        app.state.events.append(Event(T + 100, "note", "the newest event", app.state.cluster.name))
        app.redraw()
        await pilot.pause()
        assert log.keys[0][-1] == "the newest event"  # newest first, keyed by content
        assert "the newest event" in screen_text(app)


# -- item 10: names and tiers ---------------------------------------------------------------------------

async def test_real_servers_carry_the_inventory_name_and_backends_their_load():
    app = make_app(ReplaySource(lines_of([named(synth.lab(T))])))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        text = screen_text(app)
        assert "web1 10.99.0.21:80" in text
        assert "web2 10.99.0.22:80" in text


async def test_an_nginx_node_shows_no_keepalived_fault():
    snap = synth.lab(T)
    cluster = snap.clusters[0]
    nodes = tuple(replace(n, keepalived_running=False) if n.name == "web1" else n for n in cluster.nodes)
    app = make_app(ReplaySource(lines_of([replace(snap, clusters=(replace(cluster, nodes=nodes),))])))
    async with app.run_test(size=(120, 36)) as pilot:
        await started(pilot, app)
        app.push_screen(NodeScreen("lab", "web1"))
        await settle(pilot)
        text = screen_text(app)
        assert "keepalived" not in text
        assert "VRRP instances" not in text  # no empty VRRP table on a node without VRRP


async def test_a_forced_failover_reads_as_planned():
    snap = synth.lab(T, lb1="BACKUP", lb2="MASTER")
    cluster = snap.clusters[0]
    record = Forced("VI_1", "root@ops", T - 60, mode="stop")
    nodes = tuple(replace(n, forced=(record,)) if n.name == "lb1" else n for n in cluster.nodes)
    app = make_app(ReplaySource(lines_of([replace(snap, clusters=(replace(cluster, nodes=nodes),))])))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        text = screen_text(app)
        assert "planned: VI_1 failover forced by root@ops since 22:12:20" in text
        assert "CRITICAL" not in text and "WARNING" not in text


# -- item 7: the NOC --------------------------------------------------------------------------------------

async def test_noc_turns_vrrp_tiles_red_in_a_split_brain_and_shows_no_key_hints():
    app = make_app(ReplaySource(lines_of([synth.lab(T, lb1="MASTER", lb2="MASTER")])), noc=True)
    async with app.run_test(size=(240, 67)) as pilot:
        await started(pilot, app)
        await pilot.pause(0.3)
        tiles = [t for t in app.screen.query(Tile) if "VI_1" in str(t.render())]
        assert len(tiles) == 2 and all(t.has_class("-bad") for t in tiles)
        assert not app.screen.query("Footer")
        # 240x67 is used, not a third of it: tiles grow, the services table reaches the bottom.
        assert app.screen.query_one("#noc-directors").region.height >= 6
        assert app.screen.query_one("#noc-services").region.bottom >= 60


# -- item 11: layout ------------------------------------------------------------------------------------

async def test_160x48_gives_rows_to_the_event_log_and_room_to_the_drain_column(lab_recording):
    from lbconsole.snapshot import Drain

    drain = Drain("kernel upgrade (OPS-1234)", "root@10.99.0.5", T, 100)
    snaps = [synth.lab(T + i, drain=drain, weights=(0, 100, 100), active=(0, 2, 1)) for i in range(2)]
    app = make_app(ReplaySource(lines_of(snaps)))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        await step(pilot, app, 1)
        services = app.screen.query_one("#services-panel")
        events = app.screen.query_one("#events-panel")
        rows = len(app.screen.query_one(ServicesTable).keys) + 3  # header and borders
        assert services.region.height <= rows  # no empty services panel...
        assert events.region.height >= 10  # ...while the event log starves
        text = screen_text(app)
        assert "kernel upgrade (OPS-1234) (root@10.99.0.5)" in text  # the Drain column is not cut
        assert "DRAINED, 0 conns after" in text  # says what took that long


async def test_help_overlay_first_line_is_whole(lab_recording):
    app = make_app(ReplaySource(lab_recording))
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        text = " ".join(line.strip(" │") for line in screen_text(app).splitlines())
        assert "a drain asks for a reason. Esc closes." in " ".join(text.split())  # wrapped, not cut


# -- item 12: silent screens ----------------------------------------------------------------------------

async def test_empty_states_say_so():
    snap = synth.lab(T)
    cluster = snap.clusters[0]
    nodes = tuple(replace(n, ipvs=()) if n.has_role("director") else n for n in cluster.nodes)
    app = make_app(ReplaySource(lines_of([replace(snap, clusters=(replace(cluster, nodes=nodes),))])))
    async with app.run_test(size=(120, 36)) as pilot:
        await started(pilot, app)
        assert "no IPVS services" in screen_text(app)


async def test_escape_clears_the_filter(lab_recording):
    app = make_app(ReplaySource(lab_recording))
    async with app.run_test(size=(120, 36)) as pilot:
        await started(pilot, app)
        table = app.screen.query_one(ServicesTable)
        await pilot.press("slash", *"10.99.0.21", "enter")
        await pilot.pause()
        assert table.filter and "Esc clears" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert table.filter == "" and "Esc clears" not in screen_text(app)


async def test_a_key_that_cannot_act_says_why():
    app = make_app(WritableReplay(lines_of([synth.lab(T)])))
    async with app.run_test(size=(120, 36)) as pilot:
        await started(pilot, app)
        app.screen.query_one(ServicesTable).focus()
        await pilot.press("home", "d")  # a service row: nothing to drain
        await pilot.pause()
        assert any("select a real server first" in n.message for n in app._notifications)


# -- strings from nodes and users are text, never markup -------------------------------------------------

async def test_node_and_user_text_is_never_markup():
    snap = synth.lab(T)
    cluster = snap.clusters[0]
    hostile = "[bold red]pwn[/] [link=x]"
    nodes = tuple(replace(n, error=hostile, reachable=False) if n.name == "web2" else n for n in cluster.nodes)
    nodes = tuple(replace(n, addresses=(Address("eth0", "10.99.0.22", "inet"),)) if n.name == "web2" else n
                  for n in nodes)
    app = make_app(ReplaySource(lines_of([replace(snap, clusters=(replace(cluster, nodes=nodes, name="x[/]y"),))])))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        text = screen_text(app)
        assert hostile in text
        assert "x[/]y" in text


async def test_a_node_name_in_a_panel_title_is_text_not_markup():
    app = make_app(ReplaySource(lines_of([synth.lab(T)])))
    async with app.run_test(size=(120, 36)) as pilot:
        await started(pilot, app)
        app.push_screen(NodeScreen("lab", "w[b]1[/b]"))
        await settle(pilot)
        assert "events on w[b]1[/b]" in screen_text(app)


def test_this_consoles_running_action_makes_its_effects_planned():
    from lbconsole.ui.state import ConsoleState

    state = ConsoleState(clock=lambda: 0.0)
    snap = synth.lab(T, lb1="STOP", lb2="BACKUP")  # mid-failover: keepalived stopped, no MASTER yet
    token = state.begin_action("failover", {"kind": "vrrp_instance", "cluster": "lab", "instance": "VI_1",
                                            "node": "lb1"})
    state.apply(snap)
    assert state.alerts() and all(a.severity == "info" for a in state.alerts()), state.alerts()
    state.end_action(token)
    state.apply(replace(snap, taken_at=T + 1))
    assert any(a.severity == "critical" for a in state.alerts())


async def test_escape_clears_the_filter_on_the_service_screen_too(lab_recording):
    from lbconsole.ui.screens.service import ServiceScreen

    app = make_app(ReplaySource(lab_recording))
    async with app.run_test(size=(120, 36)) as pilot:
        await started(pilot, app)
        await pilot.press("down", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ServiceScreen)
        await pilot.press("slash", *"web1", "enter")
        await settle(pilot)
        assert screen.filter == "web1" and "Esc clears" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen and screen.filter == ""  # cleared, not left
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is not screen  # then back
