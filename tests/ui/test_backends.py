"""The backends tier (issue 11): each upstream server's state on every nginx node, the backend screen.

Synthetic snapshots shaped like the lab (web1-3 proxy to app1 and app2 through `upstream backend`).
"""

from __future__ import annotations

from dataclasses import replace

from lbconsole.actions.registry import ActionSpec, get
from lbconsole.snapshot import Address
from lbconsole.ui import operate
from lbconsole.ui.screens.backend import BackendScreen
from lbconsole.ui.screens.main import MainScreen
from lbconsole.ui.screens.noc import NocScreen
from lbconsole.ui.screens.node import NodeScreen
from lbconsole.ui.widgets.backends import BackendsTable
from lbconsole.ui.widgets.grid import Grid
from lbconsole.upstreams import UpstreamDrain
from ui import synth
from ui.helpers import WritableReplay, lines_of, make_app, screen_text, started

APP1, APP2 = "10.99.0.31:8080", "10.99.0.32:8080"
HOSTILE = "[bold red]boom[/] \x1b[2J\x1b]0;pwned\x07"


async def settle(pilot) -> None:
    for _ in range(3):
        await pilot.pause(0.1)


def cells(table: Grid, key) -> list[tuple[str, str | None]]:
    return list(table.render_row(key)[0])


def node_cells(table: BackendsTable, key) -> dict[str, tuple[str, str | None]]:
    """nginx node -> its cell on this row."""
    row = cells(table, key)
    return {name: row[1 + i] for i, name in enumerate(table.nginx or ())}


def named(snap):
    """The web nodes at their lab addresses, so IPVS real servers are matched to them (cross-tier rule)."""
    hosts = {"web1": "10.99.0.21", "web2": "10.99.0.22", "web3": "10.99.0.23"}
    cluster = snap.clusters[0]
    nodes = tuple(replace(n, host=hosts.get(n.name, n.host)) for n in cluster.nodes)
    return replace(snap, clusters=(replace(cluster, nodes=nodes),))


async def test_each_server_shows_its_state_on_every_nginx_node():
    snap = synth.backends_lab(web2={"app1": "drained", "app2": "failing"})
    snap = synth.with_upstreams(snap, {"web3": (synth.upstream(states={"app2": "down"}),)})
    app = make_app(WritableReplay(lines_of([snap])))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        table = app.screen.query_one("#backends", BackendsTable)
        assert table.nginx == ("web1", "web2", "web3")  # a column per nginx node
        assert table.keys == [("u", "backend"), ("s", "backend", APP1), ("s", "backend", APP2)]
        app1 = node_cells(table, ("s", "backend", APP1))
        app2 = node_cells(table, ("s", "backend", APP2))
        assert app1 == {"web1": ("✓ up 2.5ms", "good"), "web2": ("◌ drained", "drain"), "web3": ("✓ up 2.5ms", "good")}
        assert app2 == {"web1": ("✓ up 2.5ms", "good"), "web2": ("✗ failing ×3", "bad"), "web3": ("■ down", "warn")}
        # Named from the inventory; the drain record with its reason, who and since.
        assert cells(table, ("s", "backend", APP1))[0][0].strip() == "app1 (10.99.0.31:8080)"
        # Drained on web2 only: the analyzer's drift alert, then the drain record.
        note = cells(table, ("s", "backend", APP1))[-1]
        assert note[0].endswith("drained: deploy (by ops@console, 2m ago)")
        assert {a.kind for a in app.state.alerts()} >= {"upstream_drift"}
        assert node_cells(table, ("u", "backend"))["web2"] == ("0/2 up", "muted")
        text = screen_text(app)
        # The tiers read top down: directors, real servers, backends.
        assert text.index("Directors") < text.index("IPVS services") < text.index("Backends")
        for word in ("app1 (10.99.0.31:8080)", "◌ drained", "✗ failing ×3", "■ down"):
            assert word in text


async def test_unreachable_or_unread_nginx_node_is_unknown_never_up():
    snap = synth.backends_lab()
    snap = synth.with_upstreams(snap, {"web1": None})  # reachable, upstreams not read
    snap = synth.lose(snap, "web3")
    # The poller's lost node keeps no data; the last-known upstreams of an unreachable node must not show as up.
    cluster = snap.clusters[0]
    web3 = replace(cluster.node("web3"), upstreams=(synth.upstream(),))
    snap = replace(snap, clusters=(replace(cluster, nodes=tuple(web3 if n.name == "web3" else n
                                                                for n in cluster.nodes)),))
    app = make_app(WritableReplay(lines_of([snap])))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        table = app.screen.query_one("#backends", BackendsTable)
        assert ("n", "web1") in table.keys and ("n", "web3") in table.keys  # said, on their own rows
        for key in (("u", "backend"), ("s", "backend", APP1), ("s", "backend", APP2)):
            row = node_cells(table, key)
            assert row["web1"] == ("? not read", "warn")
            assert row["web3"] == ("? unknown", "stale")
            assert "up" in row["web2"][0]
        note = cells(table, ("n", "web3"))
        assert note[0][0] == "web3: unreachable" and "connection refused" in note[-1][0]
        assert cells(table, ("n", "web1"))[0][0] == "web1: upstreams not read"


async def test_no_nginx_node_read_says_so_rather_than_an_empty_table():
    snap = synth.lab()  # nginx nodes whose upstreams were never read (None)
    app = make_app(WritableReplay(lines_of([snap])))
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, app)
        text = screen_text(app)
        for name in ("web1", "web2", "web3"):
            assert f"{name}: upstreams not read" in text


async def test_alerts_come_from_the_analyzers_on_their_row():
    failing = {"app2": "failing"}
    snap = named(synth.backends_lab(web2=failing))
    snap = synth.with_upstreams(snap, {"web1": (synth.upstream(states=failing),),
                                       "web3": (synth.upstream(states=failing),)})
    # web2's upstream has no live server while IPVS still sends web2 traffic: the analyzer's CRITICAL.
    snap = synth.with_upstreams(snap, {"web2": (synth.upstream(states={"app1": "failing", "app2": "failing"}),)})
    app = make_app(WritableReplay(lines_of([snap])))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        kinds = {a.kind for a in app.state.alerts()}
        assert {"upstream_no_live", "upstream_failing"} <= kinds
        table = app.screen.query_one("#backends", BackendsTable)
        assert cells(table, ("u", "backend"))[-1] == ("▲ no live server (web2)", "bad")
        assert cells(table, ("s", "backend", APP2))[-1] == ("● failing on every nginx node", "warn")
        assert cells(table, ("s", "backend", APP1))[-1] == ("", None)  # failing on web2 only: no rule, no alert


async def test_ui_raises_no_alert_of_its_own():
    # Every server down on web2, but no IPVS service reaches web2's upstream: no analyzer alert, none shown.
    snap = synth.backends_lab(web2={"app1": "down", "app2": "down"})
    app = make_app(WritableReplay(lines_of([snap])))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        assert not [a for a in app.state.alerts() if a.kind == "upstream_no_live"]
        table = app.screen.query_one("#backends", BackendsTable)
        assert cells(table, ("u", "backend"))[-1] == ("", None)


async def test_hostile_strings_from_a_node_are_shown_as_text():
    up = synth.upstream(name=HOSTILE, states={"app1": "drained"}, reason=HOSTILE, by="[i]x[/i]")
    servers = (replace(up.servers[0], name=HOSTILE),) + up.servers[1:]
    up = replace(up, servers=servers)
    # Up on web3: the analyzer's drift alert carries the hostile label and reason to the alert bar too.
    up3 = replace(up, servers=(replace(up.servers[0], down=False, drain=None),) + up.servers[1:])
    snap = synth.backends_lab()
    snap = synth.with_upstreams(snap, {"web1": (up,), "web2": (up,), "web3": (up3,)})
    app = make_app(WritableReplay(lines_of([snap])))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        assert any(HOSTILE in a.message for a in app.state.alerts())
        table = app.screen.query_one("#backends", BackendsTable)
        table.focus()
        table.move_to(("s", HOSTILE, APP1))
        await settle(pilot)
        text = screen_text(app)
        assert "[bold red]boom[/]" in text  # markup shown literally
        assert "\x1b" not in text and "\x07" not in text  # no escape sequence reaches the terminal
        assert "�[2J" in text
        assert "by [i]x[/i]" in cells(table, ("s", HOSTILE, APP1))[-1][0]  # the drain record, as written
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, BackendScreen)
        text = screen_text(app)
        assert "[bold red]boom[/]" in text and "\x1b" not in text and "\x07" not in text


async def test_backend_screen_opens_from_the_server_row():
    snap = synth.backends_lab(web2={"app2": "failing"})
    cluster = snap.clusters[0]
    web3 = cluster.node("web3")
    drain = UpstreamDrain("new build", "ana@console", snap.taken_at - 30)
    web3_up = synth.upstream(states={"app2": "drained"}, reason="new build", by="ana@console")
    web3_up = replace(web3_up, servers=(web3_up.servers[0], replace(web3_up.servers[1], drain=drain)))
    snap = synth.with_upstreams(snap, {"web3": (web3_up,)})
    assert web3 is not None
    app = make_app(WritableReplay(lines_of([snap])))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        table = app.screen.query_one("#backends", BackendsTable)
        await pilot.press("tab")  # services -> backends
        assert app.focused is table
        table.move_to(("s", "backend", APP2))
        await pilot.pause()
        target = {"kind": "upstream_server", "cluster": "lab", "upstream": "backend", "server": APP2}
        assert app.screen.target("upstream_server") == target
        assert app.screen.target("real_server") is None
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BackendScreen) and screen.node_name == "app2"
        refs = screen.query_one("#refs", Grid)
        assert refs.keys == [("backend", APP2, "web1"), ("backend", APP2, "web2"), ("backend", APP2, "web3")]
        by_node = {key[2]: [c[0] for c in cells(refs, key)] for key in refs.keys}
        assert by_node["web1"][3:6] == ["✓ up 2.5ms", "ok 2.5ms", "0"]
        assert by_node["web2"][3:6] == ["✗ failing ×3", "failed", "3"]
        assert by_node["web3"][3] == "◌ drained"
        assert by_node["web3"][-1] == "drained: new build (by ana@console, 30s ago)"
        assert by_node["web1"][7] == "2/10s"  # max_fails / fail_timeout
        text = screen_text(app)
        assert "app2  10.99.0.32  roles: backend" in text and "reachable" in text  # age and reachability
        assert "backend of 1 upstream(s) (backend) on 3 nginx node(s)" in text
        assert screen.target("upstream_server") == target  # the same target as the tier's row
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_backend_screen_opens_for_a_backend_node_and_says_unknown_nginx_nodes():
    snap = synth.lose(synth.backends_lab(), "web3")
    app = make_app(WritableReplay(lines_of([snap])))
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, app)
        nginx = app.screen.query_one("#nginx", Grid)
        nginx.focus()
        assert nginx.move_to("app1")
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BackendScreen) and screen.node_name == "app1"
        refs = screen.query_one("#refs", Grid)
        assert ("", "", "web3") in refs.keys  # web3's view is unknown, and said so
        note = [c[0] for c in cells(refs, ("", "", "web3"))]
        assert note[3] == "? unknown" and "unreachable" in note[-1]
        assert screen.target("upstream_server") is None  # a note is no server
        await pilot.press("escape")
        # An nginx node still opens the node screen, which counts its upstreams.
        nginx = app.screen.query_one("#nginx", Grid)
        nginx.focus()
        nginx.move_to("web2")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, NodeScreen)
        assert "upstreams: 1 upstreams, 2 servers (2 up)" in screen_text(app)


async def test_backend_not_in_the_inventory_is_shown_by_its_address():
    up = synth.upstream()
    extra = replace(up.servers[0], address="192.0.2.9", name="legacy.example")
    up = replace(up, servers=(*up.servers, extra))
    snap = synth.with_upstreams(synth.backends_lab(), {"web1": (up,)})
    app = make_app(WritableReplay(lines_of([snap])))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        table = app.screen.query_one("#backends", BackendsTable)
        row = node_cells(table, ("s", "backend", "192.0.2.9:8080"))
        assert row == {"web1": ("✓ up 2.5ms", "good"), "web2": ("– absent", "muted"), "web3": ("– absent", "muted")}
        table.focus()
        table.move_to(("s", "backend", "192.0.2.9:8080"))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, BackendScreen) and app.screen.node_name is None
        assert "192.0.2.9 (named legacy.example in nginx's config): not a node in the inventory" in screen_text(app)


async def test_a_backend_found_by_a_non_lo_address():
    snap = synth.backends_lab()
    cluster = snap.clusters[0]
    # app1's inventory host is a name; nginx resolved it to an address the node carries.
    nodes = tuple(replace(n, host="app1.lab", addresses=(Address("eth0", "10.99.0.31", "inet"),))
                  if n.name == "app1" else n for n in cluster.nodes)
    snap = replace(snap, clusters=(replace(cluster, nodes=nodes),))
    up = synth.upstream(names=False)
    snap = synth.with_upstreams(snap, {"web1": (up,), "web2": (up,), "web3": (up,)})
    app = make_app(WritableReplay(lines_of([snap])))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        table = app.screen.query_one("#backends", BackendsTable)
        table.focus()
        table.move_to(("s", "backend", APP1))
        assert table.selected_backend() == ("app1", "10.99.0.31")


async def test_noc_shows_the_backends_tier_read_only():
    snap = synth.lose(synth.backends_lab(web2={"app2": "failing"}), "web3")
    for size in ((80, 24), (240, 67)):
        app = make_app(WritableReplay(lines_of([snap])), noc=True)
        async with app.run_test(size=size) as pilot:
            await started(pilot, app)
            await settle(pilot)
            assert isinstance(app.screen, NocScreen)
            table = app.screen.query_one("#noc-backends", BackendsTable)
            assert table.display and not table.can_focus
            assert node_cells(table, ("s", "backend", APP2))["web2"] == ("✗ failing ×3", "bad")
            assert node_cells(table, ("s", "backend", APP2))["web3"] == ("? unknown", "stale")
            assert app.screen.region.contains_region(table.region) and table.region.height >= 3
            assert "Upstream / server" in screen_text(app)
            assert app.is_read_only()
            await pilot.press("d", "enter")
            assert len(app.screen_stack) == 1


def test_upstream_targets_describe_and_name_what_changes():
    snap = synth.backends_lab(web2={"app1": "drained"})
    from lbconsole.ui.model import ClusterView

    view = ClusterView(snap.clusters[0])
    target = {"kind": "upstream_server", "cluster": "lab", "upstream": "backend", "server": APP1}
    spec = ActionSpec("upstream_drain", "Drain upstream server", "", target="upstream_server", mutating=True)
    text = operate.describe(spec, target, view, {"reason": "deploy"})
    # The actions layer's words when it has them (the CLI says the same), and each nginx node's state now.
    assert text.startswith("Drain") and "upstream backend" in text and APP1 in text
    assert "Now: web1: up, web2: drained, web3: up" in text and "Reason: deploy" in text
    undo = ActionSpec("upstream_undrain", "Undrain upstream server", "", target="upstream_server", mutating=True)
    assert operate.describe(undo, target, view, {}).startswith("Undrain")
    assert operate.what(target) == f"{APP1} of upstream backend"
    assert get("upstream_drain").needs_reason


async def test_an_upstream_server_action_reaches_the_confirmation_from_the_backend_row(monkeypatch):
    """The registry's upstream_drain (target upstream_server) needs nothing more from the UI than its entry."""
    from lbconsole.actions import registry
    from lbconsole.ui.screens.confirm import ConfirmScreen
    from lbconsole.ui.screens.reason import ReasonScreen

    spec = registry.BY_NAME.get("upstream_drain") or ActionSpec(
        "upstream_drain", "Upstream drain", "", key=None, target="upstream_server", mutating=True)
    monkeypatch.setitem(registry.BY_NAME, "upstream_drain", spec)
    app = make_app(WritableReplay(lines_of([synth.backends_lab()])))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        table = app.screen.query_one("#backends", BackendsTable)
        table.focus()
        table.move_to(("u", "backend"))
        await pilot.pause()
        assert not app.action_allowed(spec)  # an upstream row is no server
        table.move_to(("s", "backend", APP2))
        await pilot.pause()
        assert app.action_allowed(spec)
        app.action_act("upstream_drain")
        await settle(pilot)
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press(*"deploy", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")  # cancelled: nothing runs
        await settle(pilot)
        assert isinstance(app.screen, MainScreen) and not app.runner.running


async def test_filter_narrows_the_backends_too():
    snap = synth.backends_lab(web2={"app1": "drained"})
    app = make_app(WritableReplay(lines_of([snap])))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        table = app.screen.query_one("#backends", BackendsTable)
        await pilot.press("slash", *"app2", "enter")
        assert table.keys == [("u", "backend"), ("s", "backend", APP2)]
        assert "filter “app2”" in str(app.screen.query_one("#backends-panel").border_title)
        await pilot.press("slash", "escape")
        await pilot.press("slash", *"deploy", "enter")  # a drain reason
        assert table.keys == [("u", "backend"), ("s", "backend", APP1)]
        await pilot.press("escape")  # clears the filter
        assert len(table.keys) == 3


def test_a_key_with_nothing_selected_names_an_upstream_server():
    from lbconsole.ui.keys import select_hint

    spec = ActionSpec("upstream_drain", "Upstream drain", "", target="upstream_server", mutating=True)
    assert select_hint(spec) == "Upstream drain: select an upstream server first"
    assert select_hint(ActionSpec("drain", "Drain", "", target="real_server")) == "Drain: select a real server first"


async def test_node_and_backend_screens_show_node_errors_as_text():
    snap = synth.backends_lab()
    cluster = snap.clusters[0]
    nodes = tuple(replace(n, warnings=(f"upstreams: {HOSTILE}",), upstreams=None) if n.name == "web1" else
                  replace(n, warnings=(HOSTILE,)) if n.name == "app1" else n for n in cluster.nodes)
    snap = replace(snap, clusters=(replace(cluster, nodes=nodes),))
    app = make_app(WritableReplay(lines_of([snap])))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        for screen in (NodeScreen("lab", "web1"), BackendScreen("lab", "app1")):
            await app.push_screen(screen)
            await settle(pilot)
            text = screen_text(app)
            assert "[bold red]boom[/]" in text and "\x1b" not in text and "\x07" not in text
            app.pop_screen()
            await settle(pilot)
        assert "upstreams not read" in screen_text(app)
