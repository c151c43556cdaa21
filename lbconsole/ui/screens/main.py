"""The main screen: the three tiers at a glance, alerts on top, events at the bottom."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer

from lbconsole.ui.screens.base import ConsoleScreen
from lbconsole.ui.widgets.alert_bar import AlertBar
from lbconsole.ui.widgets.backends import BackendsTable
from lbconsole.ui.widgets.directors import DirectorsTable
from lbconsole.ui.widgets.event_log import EventLog
from lbconsole.ui.widgets.filter_bar import FilterBar
from lbconsole.ui.widgets.grid import Grid
from lbconsole.ui.widgets.nginx_nodes import NginxTable
from lbconsole.ui.widgets.services import ServicesTable
from lbconsole.ui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from lbconsole.ui.state import ConsoleState


SERVICES_TITLE = "IPVS services · real servers"
BACKENDS_TITLE = "Backends · nginx upstreams, each server on every nginx node"


class MainScreen(ConsoleScreen):
    filterable = True
    openable = True
    AUTO_FOCUS = "#services"

    def __init__(self, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name, id, classes)
        # This screen's own widgets, made once: drawing never looks them up.
        self.directors = DirectorsTable(id="directors")
        self.nginx = NginxTable(id="nginx")
        self.services = ServicesTable(id="services")
        self.backends = BackendsTable(id="backends")
        self.events = EventLog(id="events")
        self.filter_bar = FilterBar(id="filter")

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield AlertBar()
        with Horizontal(id="tiers"):
            with Vertical(id="directors-panel", classes="panel") as p:
                p.border_title = "Directors · VRRP"
                yield self.directors
            with Vertical(id="nginx-panel", classes="panel") as p:
                p.border_title = "nginx · other nodes"
                yield self.nginx
        with Vertical(id="services-panel", classes="panel") as p:
            p.border_title = SERVICES_TITLE
            yield self.services
        with Vertical(id="backends-panel", classes="panel") as p:
            p.border_title = BACKENDS_TITLE
            yield self.backends
        with Vertical(id="events-panel", classes="panel") as p:
            p.border_title = "Events (newest first)"
            yield self.events
        yield self.filter_bar
        yield Footer()

    def show_data(self, state: ConsoleState) -> None:
        view = state.view()
        if view is None:
            return
        for table in (self.directors, self.nginx, self.services, self.backends):
            if table.is_attached:
                table.show(state, view)
        if self.events.is_attached:
            self.events.show(state, view.name)

    def tick_data(self, state: ConsoleState) -> None:
        for table in (self.directors, self.nginx, self.backends):  # ages, stale columns
            if table.is_attached:
                table.refresh()

    def _focused_grid(self) -> Grid[Any] | None:
        focused = self.focused
        return focused if isinstance(focused, Grid) else None

    def target(self, kind: str) -> dict[str, Any] | None:
        grid = self._focused_grid()
        if kind == "real_server" and isinstance(grid, ServicesTable):
            return grid.target()
        if kind == "vrrp_instance":
            if isinstance(grid, DirectorsTable):
                return grid.target()
            return single_instance(self.app.state)
        if kind == "nginx_node" and isinstance(grid, NginxTable):
            return grid.target()
        if kind == "upstream_server" and isinstance(grid, BackendsTable):
            return grid.target()
        return None

    def open_selected(self) -> None:
        from lbconsole.ui.screens.backend import BackendScreen
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
            node = view.node(grid.cursor_key)
            if node is not None and node.has_role("backend") and not node.has_role("nginx"):
                self.app.push_screen(BackendScreen(view.name, node.name))
            else:
                self.app.push_screen(NodeScreen(view.name, grid.cursor_key))
        elif isinstance(grid, BackendsTable):
            key = grid.cursor_key
            backend = grid.selected_backend()
            if backend is not None:
                self.app.push_screen(BackendScreen(view.name, backend[0], backend[1]))
            elif key[0] == "n":
                self.app.push_screen(NodeScreen(view.name, key[1]))

    def open_filter(self) -> None:
        self.filter_bar.open()

    def on_filter_bar_applied(self, message: FilterBar.Applied) -> None:
        self.apply_filter(message.text)

    def apply_filter(self, text: str) -> None:
        self.services.set_filter(text)
        self.backends.set_filter(text)
        f = text.strip()
        for selector, title in (("#services-panel", SERVICES_TITLE), ("#backends-panel", BACKENDS_TITLE)):
            panel = self.widget(selector, Vertical)
            if panel is not None:  # the filter is the user's text: a Text, never markup
                panel.border_title = Text(title + (f" · filter “{f}” (Esc clears)" if f else ""))

    @property
    def has_filter(self) -> bool:
        return bool(self.services.filter)

    def clear_filter(self) -> bool:
        if not self.services.filter:
            return False
        self.filter_bar.action_clear()
        return True

    def on_grid_highlighted(self, message: Grid.Highlighted) -> None:
        self.app.refresh_bindings()  # which actions apply depends on the selected row

    def on_descendant_focus(self) -> None:
        self.app.refresh_bindings()


def single_instance(state: ConsoleState) -> dict[str, Any] | None:
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
