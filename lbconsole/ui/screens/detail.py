"""What a screen about one thing (a node, a backend) shares: its summary, one table, and its last events.

Widget ids follow the screen's `kind` (`#<kind>-summary`, `#<kind>-events`,
`#<grid id>-panel`, `#<kind>-events-panel`); app.tcss styles the summary and the events panel by their
classes, the table's panel by its id.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Footer, Static

from lbconsole import safetext
from lbconsole.ui.screens.base import ConsoleScreen
from lbconsole.ui.widgets.alert_bar import AlertBar
from lbconsole.ui.widgets.event_log import EventLog
from lbconsole.ui.widgets.grid import Grid
from lbconsole.ui.widgets.status_bar import StatusBar

EVENTS_SHOWN = 20


class DetailScreen(ConsoleScreen):
    #: Prefix of the screen's widget ids.
    kind: ClassVar[str]
    #: The node whose events are shown ("" for none).
    events_node = ""

    def detail_grid(self) -> Grid[Any]:
        """The screen's one table (its id names its panel)."""
        raise NotImplementedError

    def detail_title(self) -> str:
        """The table panel's title."""
        raise NotImplementedError

    @property
    def title_text(self) -> str:
        """Whom the screen is about, as the events panel names it."""
        return safetext.line(self.events_node)

    def compose(self) -> ComposeResult:
        grid = self.detail_grid()
        yield StatusBar()
        yield AlertBar()
        yield Static("", id=f"{self.kind}-summary", classes="summary", markup=False)
        with Vertical(id=f"{grid.id}-panel", classes="panel") as panel:
            panel.border_title = Text(self.detail_title())  # names come from the inventory: never markup
            yield grid
        with Vertical(id=f"{self.kind}-events-panel", classes="panel events-panel") as events:
            events.border_title = Text(f"Last {EVENTS_SHOWN} events on {self.title_text}")
            yield EventLog(node=self.events_node, limit=EVENTS_SHOWN, id=f"{self.kind}-events")
        yield Footer()
