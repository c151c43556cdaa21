"""What every data screen shares: the status bar, the alert bar, and the hooks the app calls.

The app calls `show(state)` when a snapshot lands and `tick(state)` every
second (ages move on even when no data comes). Screens report the target of
an action (the selected real server, instance or nginx node) via `target()`.

A redraw can never raise. The 1 Hz tick and a snapshot can land while a
screen is still composing, or while it is being taken down (on exit, Textual
prunes a screen's children before the screen itself, and the app's timer still
fires): each screen draws only once it is ready, only while it is not closing,
and only into its own widgets that are there (`widget()` returns None, never
raises NoMatches).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from textual import events
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget

from lbconsole.actions.registry import ACTIONS
from lbconsole.ui import keys
from lbconsole.ui.widgets.alert_bar import AlertBar
from lbconsole.ui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from textual import getters

    from lbconsole.ui.app import LbConsole
    from lbconsole.ui.state import ConsoleState

W = TypeVar("W", bound=Widget)
_MUTATING_KEYS = {spec.key: spec for spec in ACTIONS if spec.mutating and spec.key}


class ConsoleScreen(Screen[None]):
    #: Whether `/` applies here.
    filterable = False
    #: Whether Enter opens something here.
    openable = False

    def __init__(self, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name, id, classes)
        self.ready = False  # composed and mounted; False again once it is being taken down

    if TYPE_CHECKING:
        app = getters.app(LbConsole)

    @property
    def live(self) -> bool:
        return self.ready and self.is_attached and not (self._closing or self._pruning or self.app._closing)

    def widget(self, selector: str | type[W], kind: type[W] | None = None) -> W | None:
        """One of this screen's own widgets, or None if it is not (or no longer) there."""
        try:
            found = self.query_one(selector) if kind is None else self.query_one(selector, kind)  # type: ignore[arg-type]
        except NoMatches:
            return None
        return found if found.is_attached else None  # type: ignore[return-value]

    def show(self, state: ConsoleState) -> None:
        """A new snapshot (or a new cluster): redraw from `state`."""
        if not self.live:
            return
        self.show_chrome(state)
        if state.snapshot is not None:
            self.show_data(state)

    def show_chrome(self, state: ConsoleState) -> None:
        for bar in self.query(StatusBar):
            bar.update_from(self.app)
        cluster = state.cluster
        for alerts in self.query(AlertBar):
            alerts.show_alerts(state.alerts(cluster.name if cluster else None), waiting=state.snapshot is None)

    def show_data(self, state: ConsoleState) -> None:
        """Screen-specific redraw."""

    def tick(self, state: ConsoleState) -> None:
        """Once a second: ages and the status line."""
        if not self.live:
            return
        self.show_chrome(state)
        self.tick_data(state)

    def tick_data(self, state: ConsoleState) -> None:
        """Screen-specific: what moves on without new data."""

    def target(self, kind: str) -> dict[str, Any] | None:
        """The selected target of `kind` (real_server, vrrp_instance, nginx_node), if any."""
        return None

    def on_screen_resume(self) -> None:
        self.show(self.app.state)

    def on_mount(self) -> None:
        # A snapshot may land before this screen finished composing: draw once it has.
        self.call_after_refresh(self._now_ready)

    def _now_ready(self) -> None:
        self.ready = True
        self.show(self.app.state)

    def on_unmount(self) -> None:
        self.ready = False

    def on_key(self, event: events.Key) -> None:
        """A mutating key that cannot act here answers with why (read-only, nothing selected)."""
        spec = _MUTATING_KEYS.get(event.key)
        if spec is None:
            return
        app = self.app
        if app.is_read_only():
            event.stop()
            app.refuse(spec, app.read_only_reason())
        elif self.target(spec.target) is None:
            event.stop()
            app.notify(keys.select_hint(spec), title=spec.title,
                       severity="warning", markup=False)

    def open_filter(self) -> None:
        """`/`: open the filter bar (screens that are `filterable`)."""

    def open_selected(self) -> None:
        """Enter: drill into what is selected."""

    def apply_filter(self, text: str) -> None:
        """`/`: narrow what is shown."""

    @property
    def has_filter(self) -> bool:
        return False

    def clear_filter(self) -> bool:
        """Escape: clear an active filter; True if there was one."""
        return False
