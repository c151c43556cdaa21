"""A virtual table: only the visible lines are ever formatted.

At 10,000 real servers a DataTable that rebuilds or updates every cell each
second costs a core; this keeps row *keys* and asks `render_row(key)` for the
few rows on screen. A new snapshot is a `refresh()`, not a rebuild. Columns
drop out by priority when the terminal is narrow (80x24 over SSH).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from lbconsole import safetext

Cell = tuple[str, str | None]  # text and a style name (good bad warn info muted accent drain)
Row = tuple[Sequence[Cell], str | None]  # cells and a row style (stale group)
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Column:
    label: str
    width: int
    align: str = "left"
    grow: bool = False  # takes the width left over
    drop: int = 0  # when narrow, the highest `drop` goes first; 0 never goes


class Grid(ScrollView, Generic[K], can_focus=True):
    COMPONENT_CLASSES = {
        "grid--header", "grid--cursor", "grid--cursor-blurred", "grid--good", "grid--bad", "grid--warn",
        "grid--info", "grid--muted", "grid--accent", "grid--drain", "grid--stale", "grid--group", "grid--empty",
    }
    DEFAULT_CSS = """
    Grid { height: auto; max-height: 100%; background: $surface; scrollbar-size-vertical: 1;
           overflow-x: hidden; }
    Grid > .grid--header { text-style: bold; color: $text-muted; background: $panel; }
    Grid > .grid--cursor { background: $block-cursor-background; color: $block-cursor-foreground;
                           text-style: bold; }
    Grid > .grid--cursor-blurred { background: $boost; }
    Grid > .grid--good { color: $text-success; }
    Grid > .grid--bad { color: $text-error; text-style: bold; }
    Grid > .grid--warn { color: $text-warning; }
    Grid > .grid--info { color: $text-primary; }
    Grid > .grid--muted { color: $text-muted; }
    Grid > .grid--accent { color: $text-accent; }
    Grid > .grid--drain { color: $text-warning; text-style: italic; }
    Grid > .grid--stale { color: $text-disabled; text-style: italic; }
    Grid > .grid--group { text-style: bold; }
    Grid > .grid--empty { color: $text-muted; text-style: italic; }
    """
    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "move(-20)", "Page up", show=False),
        Binding("pagedown", "move(20)", "Page down", show=False),
        Binding("home", "move(-1000000000)", "First", show=False),
        Binding("end", "move(1000000000)", "Last", show=False),
    ]

    cursor = reactive(0, repaint=False, always_update=False)

    class Highlighted(Message):
        def __init__(self, grid: Grid[Any], key: Hashable | None):
            super().__init__()
            self.grid = grid
            self.key = key

        @property
        def control(self) -> Grid[Any]:
            return self.grid

    def __init__(self, columns: Sequence[Column], render_row: Callable[[K], Row], *,
                 empty: str = "no data", id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.columns = list(columns)
        self.render_row = render_row
        self.empty = empty
        self.keys: Sequence[K] = ()
        self._layout: list[tuple[Column, int, int]] = []  # column, width, index in self.columns
        self._layout_width = -1

    # -- data -------------------------------------------------------------------------------
    def set_columns(self, columns: Sequence[Column]) -> None:
        self.columns = list(columns)
        self._layout_width = -1
        self.refresh()

    def set_rows(self, keys: Sequence[K]) -> None:
        """New row keys; the cursor stays on the same key when it is still there."""
        if keys == self.keys:
            self.refresh()  # same rows, new numbers: just repaint what is visible
            return
        current = self.cursor_key
        self.keys = keys
        self.virtual_size = Size(0, max(1, len(keys)) + 1)  # an empty table still shows why
        if current is not None and (len(keys) <= self.cursor or keys[self.cursor] != current):
            try:
                index = keys.index(current)
            except ValueError:
                index = min(self.cursor, max(0, len(keys) - 1))
            self.cursor = index
        elif self.cursor >= len(keys):
            self.cursor = max(0, len(keys) - 1)
        self.refresh()

    @property
    def cursor_key(self) -> K | None:
        return self.keys[self.cursor] if 0 <= self.cursor < len(self.keys) else None

    def move_to(self, key: K) -> bool:
        try:
            self.cursor = list(self.keys).index(key)
        except ValueError:
            return False
        return True

    # -- cursor -----------------------------------------------------------------------------
    def action_move(self, delta: int) -> None:
        if self.keys:
            self.cursor = max(0, min(len(self.keys) - 1, self.cursor + delta))

    def watch_cursor(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self.refresh()
        self.post_message(self.Highlighted(self, self.cursor_key))

    def _scroll_cursor_into_view(self) -> None:
        rows_visible = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + rows_visible:
            self.scroll_to(y=self.cursor - rows_visible + 1, animate=False, immediate=True)

    def on_click(self, event: events.Click) -> None:
        row = int(self.scroll_y) + event.y - 1
        if 0 <= row < len(self.keys):
            self.cursor = row
        self.focus()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        self.virtual_size = Size(0, max(1, len(self.keys)) + 1)
        self._layout_width = -1

    # -- rendering --------------------------------------------------------------------------
    def _columns_for(self, width: int) -> list[tuple[Column, int, int]]:
        if width == self._layout_width:
            return self._layout
        cols = list(self.columns)

        def needed(cs: Sequence[Column]) -> int:
            return sum(c.width for c in cs) + max(0, len(cs) - 1)

        while needed(cols) > width and any(c.drop for c in cols):
            cols.remove(max((c for c in cols if c.drop), key=lambda c: c.drop))
        spare = max(0, width - needed(cols))
        growers = [c for c in cols if c.grow] or cols[:1]
        layout: list[tuple[Column, int, int]] = []
        for c in cols:
            extra = spare // len(growers) if c in growers else 0
            layout.append((c, c.width + extra, self.columns.index(c)))
        self._layout, self._layout_width = layout, width
        return layout

    def _style(self, name: str | None) -> Style:
        return self.get_component_rich_style(f"grid--{name}", partial=True) if name else Style()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        layout = self._columns_for(width)
        if y == 0:
            cells: Sequence[Cell] = [(c.label, None) for c, _, _ in layout]
            return self._strip(layout, cells, base + self._style("header"), width)
        index = int(self.scroll_y) + y - 1
        if index >= len(self.keys):
            if index == 0 and not self.keys:
                text = set_cell_size(" " + self.empty, width)
                return Strip([Segment(text, base + self._style("empty"))], width)
            return Strip.blank(width, base)
        cells, row_style = self.render_row(self.keys[index])
        style = base + self._style(row_style)
        if index == self.cursor:
            style += self._style("cursor" if self.has_focus else "cursor-blurred")
        n = len(cells)
        shown = [cells[i] if i < n else ("", None) for _, _, i in layout]
        return self._strip(layout, shown, style, width, cursor=index == self.cursor and self.has_focus)

    def _strip(self, layout: list[tuple[Column, int, int]], cells: Sequence[Cell], style: Style, width: int,
               cursor: bool = False) -> Strip:
        segments = []
        for i, ((column, w, _), (text, name)) in enumerate(zip(layout, cells)):
            if i:
                segments.append(Segment(" ", style))
            # Cells hold node and user text: control characters never reach the terminal.
            segments.append(Segment(_fit(safetext.line(text), w, column.align),
                                    style if cursor else style + self._style(name)))
        strip = Strip(segments)
        return strip.extend_cell_length(width, style).crop(0, width)


def _fit(text: str, width: int, align: str) -> str:
    n = cell_len(text)
    if n > width:
        return set_cell_size(text, max(0, width - 1)) + "…" if width > 0 else ""
    pad = " " * (width - n)
    return pad + text if align == "right" else text + pad
