"""The main screen: the three tiers at a glance, alerts on top, events at the bottom."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer

from lbconsole.ui.screens.base import ConsoleScreen
from lbconsole.ui.widgets.alert_bar import AlertBar
from lbconsole.ui.widgets.directors import DirectorsTable
from lbconsole.ui.widgets.event_log import EventLog
from lbconsole.ui.widgets.filter_bar import FilterBar
from lbconsole.ui.widgets.grid import Grid
from lbconsole.ui.widgets.nginx_nodes import NginxTable
from lbconsole.ui.widgets.services import ServicesTable
from lbconsole.ui.widgets.status_bar import StatusBar


class MainScreen(ConsoleScreen):
    filterable = True
    openable = True
    AUTO_FOCUS = "#services"

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield AlertBar()
        with Horizontal(id="tiers"):
            with Vertical(id="directors-panel", classes="panel"):
                yield DirectorsTable(id="directors")
            with Vertical(id="nginx-panel", classes="panel"):
                yield NginxTable(id="nginx")
        with Vertical(id="services-panel", classes="panel"):
            yield ServicesTable(id="services")
        with Vertical(id="events-panel", classes="panel"):
            yield EventLog(id="events")
        yield FilterBar(id="filter")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#directors-panel").border_title = "Directors · VRRP"
        self.query_one("#nginx-panel").border_title = "nginx · other nodes"
        self.query_one("#services-panel").border_title = "IPVS services · real servers"
        self.query_one("#events-panel").border_title = "Events"

    def show_data(self, state) -> None:
        view = state.view()
        if view is None:
            return
        self.query_one(DirectorsTable).show(state, view)
        self.query_one(NginxTable).show(state, view)
        self.query_one(ServicesTable).show(state, view)
        self.query_one(EventLog).show(state, view.name)

    def tick(self, state) -> None:
        super().tick(state)
        self.query_one(DirectorsTable).refresh()  # ages
        self.query_one(NginxTable).refresh()

    def _focused_grid(self) -> Grid | None:
        focused = self.focused
        return focused if isinstance(focused, Grid) else None

    def target(self, kind: str) -> dict | None:
        grid = self._focused_grid()
        if kind == "real_server" and isinstance(grid, ServicesTable):
            return grid.target()
        if kind == "vrrp_instance":
            if isinstance(grid, DirectorsTable):
                return grid.target()
            return single_instance(self.app.state)
        if kind == "nginx_node" and isinstance(grid, NginxTable):
            return grid.target()
        return None

    def open_selected(self) -> None:
        from lbconsole.ui.screens.node import NodeScreen
        from lbconsole.ui.screens.service import ServiceScreen

        grid = self._focused_grid()
        state = self.app.state
        view = state.view()
        if grid is None or grid.cursor_key is None or view is None:
            return
        if isinstance(grid, ServicesTable):
            key = grid.cursor_key
            rs = key[2] if key[0] == "r" else None
            self.app.push_screen(ServiceScreen(view.name, key[1], rs))
        elif isinstance(grid, DirectorsTable):
            self.app.push_screen(NodeScreen(view.name, grid.cursor_key[0]))
        elif isinstance(grid, NginxTable):
            self.app.push_screen(NodeScreen(view.name, grid.cursor_key))

    def open_filter(self) -> None:
        self.query_one(FilterBar).open()

    def on_filter_bar_applied(self, message: FilterBar.Applied) -> None:
        self.apply_filter(message.text)

    def apply_filter(self, text: str) -> None:
        self.query_one(ServicesTable).set_filter(text)

    def on_grid_highlighted(self, message: Grid.Highlighted) -> None:
        self.app.refresh_bindings()  # which actions apply depends on the selected row

    def on_descendant_focus(self) -> None:
        self.app.refresh_bindings()


def single_instance(state) -> dict | None:
    """With one VRRP instance in the cluster, failover needs no selection."""
    view = state.view()
    if view is None:
        return None
    names = {(i.instance) for n in view.directors for i in n.vrrp}
    if len(names) != 1:
        return None
    name = names.pop()
    master = next((n.name for n, i in view.instance_peers(name) if i.state == "MASTER"), None)
    return {"kind": "vrrp_instance", "cluster": view.name, "instance": name, "node": master}
