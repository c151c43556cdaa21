"""`?`: every key, generated from the action registry, plus the navigation keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from lbconsole.actions.registry import ACTIONS
from lbconsole.ui.keys import key_display
from lbconsole.ui.widgets.grid import Column, Grid, Row

if TYPE_CHECKING:
    from lbconsole.ui.app import LbConsole

NAVIGATION = (
    ("↑ ↓ j k", "Move", "Move the selection"),
    ("PgUp PgDn", "Page", "Move a page"),
    ("Home End", "First / last", "Jump to the first or last row"),
    ("Tab", "Next panel", "Move between panels"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", show=False)]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 90%; max-width: 100; height: 90%; border: round $primary;
                            background: $surface; padding: 0 1; }
    HelpScreen #help-note { color: $text-muted; height: auto; width: 100%; }  /* wraps, never cut */
    HelpScreen Grid { height: 1fr; }
    """

    def __init__(self, app: LbConsole) -> None:
        super().__init__()
        self.rows = self._rows(app)  # now, while the app's screen is still the one the keys act on

    @staticmethod
    def _rows(app: LbConsole) -> list[tuple[str, str, str, bool, bool]]:
        rows: list[tuple[str, str, str, bool, bool]] = []
        for spec in ACTIONS:
            allowed = app.action_allowed(spec)
            what = spec.description
            if spec.mutating and not allowed:
                what += "  (hidden: read-only)" if app.is_read_only() else "  (select a target first)"
            rows.append((key_display(spec.key) or "palette", spec.title, what, spec.mutating, allowed))
        return rows + [(k, t, d, False, True) for k, t, d in NAVIGATION]

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Keys"
            yield Static("Mutating actions ask for confirmation (Cancel is focused); a drain asks for a reason. "
                         "Esc closes.", id="help-note", markup=False)
            yield Grid([Column("Key", 10), Column("Action", 16), Column("What it does", 30, grow=True)],
                       self._row, id="help-keys")

    def on_mount(self) -> None:
        self.query_one(Grid).set_rows(list(range(len(self.rows))))

    def _row(self, i: int) -> Row:
        key, title, what, mutating, allowed = self.rows[i]
        return [(key, "accent" if allowed else "muted"), (title, "warn" if mutating else None),
                (what, "muted" if not allowed else None)], None
