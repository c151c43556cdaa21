"""What every data screen shares: the status bar, the alert bar, and the hooks the app calls.

The app calls `show(state)` when a snapshot lands and `tick(state)` every
second (ages move on even when no data comes). Screens report the target of
an action (the selected real server, instance or nginx node) via `target()`.
"""

from __future__ import annotations

from textual.screen import Screen

from lbconsole.ui.widgets.alert_bar import AlertBar
from lbconsole.ui.widgets.status_bar import StatusBar


class ConsoleScreen(Screen):
    #: Whether `/` applies here.
    filterable = False
    #: Whether Enter opens something here.
    openable = False

    def show(self, state) -> None:
        """A new snapshot (or a new cluster): redraw from `state`."""
        self.show_chrome(state)
        if state.snapshot is not None:
            self.show_data(state)

    def show_chrome(self, state) -> None:
        for bar in self.query(StatusBar):
            bar.update_from(self.app)
        cluster = state.cluster
        for alerts in self.query(AlertBar):
            alerts.show_alerts(state.alerts(cluster.name if cluster else None), waiting=state.snapshot is None)

    def show_data(self, state) -> None:
        """Screen-specific redraw."""

    def tick(self, state) -> None:
        """Once a second: ages and the status line."""
        for bar in self.query(StatusBar):
            bar.update_from(self.app)

    def target(self, kind: str) -> dict | None:
        """The selected target of `kind` (real_server, vrrp_instance, nginx_node), if any."""
        return None

    def on_screen_resume(self) -> None:
        self.show(self.app.state)

    def on_mount(self) -> None:
        # A snapshot may land before this screen finished composing: draw once it has.
        self.call_after_refresh(self.show, self.app.state)

    def open_selected(self) -> None:
        """Enter: drill into what is selected."""

    def apply_filter(self, text: str) -> None:
        """`/`: narrow what is shown."""
